"""`lambdalayer check` end to end: real wheels from the package index, the CLI's
exit codes and JSON, and layer ARNs (moto for the API, a loopback HTTP server
standing in for the presigned S3 link)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdalayer.audit import AuditReport, check_path
from lambdalayer.audit.elf import Kind, classify, read_elf, read_elf_pyelftools
from lambdalayer.aws.download import check_layer_arn
from lambdalayer.cli import main
from lambdalayer.common.errors import AwsError
from lambdalayer.targets.target import Target
from tests.conftest import require
from tests.unit.audit.fixtures import install_wheel, zip_dir

PY311 = Target.parse("python3.11", "x86_64")
PY312 = Target.parse("python3.12", "x86_64")

# (key, requirement, --platform, --python-version): one wheel per failure class.
WHEELS = {
    "macos": ("psycopg2-binary==2.9.10", "macosx_14_0_arm64", "3.11"),
    "aarch64": ("psycopg2-binary==2.9.10", "manylinux_2_17_aarch64", "3.11"),
    "cp312": ("psycopg2-binary==2.9.10", "manylinux_2_17_x86_64", "3.12"),
    "numpy-2_28": ("numpy==2.3.5", "manylinux_2_28_x86_64", "3.12"),
}


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Download each wheel once per session with pip (no dependencies, binary only)."""
    found: dict[str, Path] = {}
    for key, (requirement, platform, version) in WHEELS.items():
        target = tmp_path_factory.mktemp(f"wheel-{key}")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--platform", platform, "--python-version", version, "--implementation", "cp",
             "-d", str(target), "--disable-pip-version-check", "--quiet", requirement],
            capture_output=True, text=True, timeout=300)
        downloaded = sorted(target.glob("*.whl"))
        require(result.returncode == 0 and len(downloaded) == 1,
                f"cannot download {requirement} for {platform}: {result.stderr[-300:]}")
        found[key] = downloaded[0]
    return found


def layer_from(wheel: Path, tmp_path: Path, *, skip_prefix: str | None = None) -> Path:
    layer = tmp_path / "layer"
    install_wheel(wheel, layer / "python", skip_prefix=skip_prefix)
    return layer


def codes(report: AuditReport) -> set[str]:
    return {f.code for f in report.errors}


@pytest.mark.network
def test_macos_wheel_zipped_on_a_mac(wheels: dict[str, Path], tmp_path: Path) -> None:
    archive = zip_dir(layer_from(wheels["macos"], tmp_path), tmp_path / "old-layer.zip")
    report = check_path(archive, [PY311])
    assert not report.ok
    (extension,) = [f for f in report.errors if f.path.endswith("_psycopg.cpython-311-darwin.so")]
    assert extension.code == "foreign-binary-macho"
    assert extension.package == "psycopg2-binary"
    assert "No module named 'psycopg2._psycopg'" in extension.message
    # One fix for the layer: everything it holds, pinned as it holds it (check's fix).
    fix = re.search(r"lambdalayer build old-layer -p psycopg2-binary==\S+ --runtime python3.11 "
                    r"--arch x86_64", extension.message)
    assert fix, extension.message
    assert "wheel-tag-mismatch" in codes(report)


@pytest.mark.network
def test_aarch64_wheel_checked_for_each_architecture(wheels: dict[str, Path],
                                                      tmp_path: Path) -> None:
    layer = layer_from(wheels["aarch64"], tmp_path)
    on_x86 = check_path(layer, [PY311])
    assert codes(on_x86) == {"wrong-machine", "wheel-tag-mismatch"}
    assert any("_psycopg" in f.path and "aarch64" in f.message for f in on_x86.errors)
    on_arm = check_path(layer, [Target.parse("python3.11", "arm64")])
    # Its bundled libraries find each other through _psycopg's inherited DT_RPATH; only
    # Only libraries the evidence leaves unverified may remain, as warnings.
    assert on_arm.ok and {f.code for f in on_arm.findings} <= {"unverified-system-library"}


@pytest.mark.network
def test_cp312_wheel_checked_for_python311(wheels: dict[str, Path], tmp_path: Path) -> None:
    layer = layer_from(wheels["cp312"], tmp_path)
    report = check_path(layer, [PY311])
    assert codes(report) == {"wrong-abi-suffix", "wheel-tag-mismatch"}
    (suffix,) = [f for f in report.errors if f.code == "wrong-abi-suffix"]
    assert "CPython 3.12" in suffix.message
    assert "No module named 'psycopg2._psycopg'" in suffix.message
    assert check_path(layer, [PY312]).ok


@pytest.mark.network
def test_manylinux_2_28_numpy(wheels: dict[str, Path], tmp_path: Path) -> None:
    layer = layer_from(wheels["numpy-2_28"], tmp_path)
    on_311 = check_path(layer, [PY311])
    glibc = [f for f in on_311.errors if f.code == "glibc-too-new"]
    assert glibc and all("Amazon Linux 2 with glibc 2.26" in f.message for f in glibc)
    assert any("GLIBC_2.27" in f.message or "GLIBC_2.28" in f.message for f in glibc)
    assert all(f.package == "numpy" for f in glibc)
    on_312 = check_path(layer, [PY312])
    assert on_312.ok, on_312.errors
    # The fast reader and pyelftools agree on every real library in the wheel.
    elves = [p for p in layer.rglob("*.so*") if classify(p).kind is Kind.ELF]
    assert len(elves) > 10
    for path in elves:
        with path.open("rb") as handle:
            assert read_elf(path) == read_elf_pyelftools(handle), path


@pytest.mark.network
def test_manylinux_wheel_without_its_bundled_libs(wheels: dict[str, Path],
                                                   tmp_path: Path) -> None:
    layer = layer_from(wheels["cp312"], tmp_path, skip_prefix="psycopg2_binary.libs/")
    report = check_path(layer, [PY312])
    missing = [f for f in report.errors if f.code == "missing-library"]
    assert missing and any(f.path.endswith(".so") and "libpq" in f.message for f in missing)
    assert all("cannot open shared object file" in f.message for f in missing)


# --------------------------------------------------------------------------- CLI


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 1), out, err


def pure_layer(tmp_path: Path) -> Path:
    layer = tmp_path / "pure"
    (layer / "python/pg8000").mkdir(parents=True)
    (layer / "python/pg8000/__init__.py").write_text("VERSION = 1\n")
    return layer


def test_cli_ok_layer_exits_zero_with_json(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    archive = zip_dir(pure_layer(tmp_path), tmp_path / "pg8000.zip")
    code, out, _err = run_main(capsys, "check", str(archive), "--runtime", "python3.12",
                              "--runtime", "python3.11", "--arch", "arm64", "--json")
    document = json.loads(out)
    assert code == 0
    assert document["schema"] == 1 and document["ok"] is True and document["findings"] == []
    assert document["targets"] == ["python3.11/arm64", "python3.12/arm64"]


def test_cli_failing_layer_exits_four(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer = pure_layer(tmp_path)
    (layer / "python/pg8000/_x.cpython-311-darwin.so").write_bytes(
        b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01" + bytes(64))
    code, out, err = run_main(capsys, "check", str(layer), "--runtime", "python3.11", "--json")
    document = json.loads(out)
    assert code == 4 and document["ok"] is False
    (finding,) = document["findings"]
    assert set(finding) >= {"severity", "code", "path", "message", "package"}
    assert finding["code"] == "foreign-binary-macho" and finding["package"] == "pg8000"
    # Human output: a table with the package, and a summary; --allow waives the code.
    code, out, err = run_main(capsys, "check", str(layer), "--runtime", "python3.11",
                              "--allow", "foreign-binary-macho")
    assert code == 0 and "allowed" in err and "pg8000" in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "expected"), [
    (["check", "{missing}", "--runtime", "python3.11"], "does not exist"),
    (["check", "{notzip}", "--runtime", "python3.11"], "not a readable zip"),
    (["check", "{layer}", "--runtime", "python2.7"], "Unknown runtime"),
    (["check", "{layer}", "--runtime", "python3.11", "--arch", "sparc"], "Unknown architecture"),
    (["check", "arn:aws:lambda:us-east-1:123456789012:layer:x", "--runtime", "python3.11"],
     "not a layer version ARN"),
])
def test_cli_usage_errors_exit_two_without_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        expected: str) -> None:
    notzip = tmp_path / "notzip.zip"
    notzip.write_text("not a zip")
    values = {"missing": str(tmp_path / "nope.zip"), "notzip": str(notzip),
              "layer": str(pure_layer(tmp_path))}
    code, _out, err = run_main(capsys, *[a.format(**values) for a in args])
    assert code == 2 and expected in err and "Traceback" not in err


def test_cli_subprocess_hostile_zip(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("../../outside.py")
        info.external_attr = 0o644 << 16
        zf.writestr(info, "boom")
    # Extraction happens under TMPDIR: put it deep inside tmp_path, so wherever
    # `../../outside.py` could land, the assertion below looks there.
    temp = tmp_path / "t" / "a" / "b"
    temp.mkdir(parents=True)
    import os

    result = subprocess.run([sys.executable, "-m", "lambdalayer", "check", str(archive),
                             "--runtime", "python3.12", "--json"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TMPDIR": str(temp)})
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    codes_ = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "unsafe-path" in codes_
    assert not list(tmp_path.rglob("outside.py"))


# --------------------------------------------------------------------------- layer ARNs

ARN = "arn:aws:lambda:ap-northeast-2:210987654321:layer:some-layer:1"


@pytest.fixture
def served_zip(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server standing in for the presigned S3 URL of a layer zip."""
    served = tmp_path / "served"
    served.mkdir()
    archive = zip_dir(pure_layer(tmp_path), served / "layer.zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(archive.parent))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/layer.zip", archive
    finally:
        server.shutdown()
        server.server_close()


def stubbed_client(monkeypatch: pytest.MonkeyPatch, response: dict[str, Any] | None = None,
                   error: str | None = None) -> Stubber:
    import boto3

    client = boto3.client("lambda", region_name="ap-northeast-2", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    if error:
        stubber.add_client_error("get_layer_version_by_arn", service_error_code=error,
                                 service_message="User is not authorized", http_status_code=403,
                                 expected_params={"Arn": ARN})
    else:
        stubber.add_response("get_layer_version_by_arn", response or {},
                             expected_params={"Arn": ARN})
    stubber.activate()
    calls: list[dict[str, Any]] = []

    def make_client(service: str, **kwargs: Any) -> Any:
        calls.append({"service": service, **kwargs})
        return client

    monkeypatch.setattr("lambdalayer.aws.client.make_client", make_client)
    stubber.calls = calls  # type: ignore[attr-defined]
    return stubber


def test_layer_arn_is_downloaded_and_audited(monkeypatch: pytest.MonkeyPatch,
                                             served_zip: tuple[str, Path]) -> None:
    url, _ = served_zip
    stubber = stubbed_client(monkeypatch, {"Content": {"Location": url, "CodeSize": 1}})
    report = check_layer_arn(ARN, [PY311])
    assert report.ok and report.files == 1 and report.zipped_size
    # The region comes from the ARN unless --region says otherwise.
    assert stubber.calls[0]["region"] == "ap-northeast-2"  # type: ignore[attr-defined]


def test_layer_arn_access_denied_is_explained(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    stubbed_client(monkeypatch, error="AccessDeniedException")
    with pytest.raises(AwsError) as denied:
        check_layer_arn(ARN, [PY311])
    text = str(denied.value)
    assert "cannot read the layer" in text and "lambda:GetLayerVersion" in text
    assert "210987654321" in text
    stubbed_client(monkeypatch, error="AccessDeniedException")
    code, _out, err = run_main(capsys, "check", ARN, "--runtime", "python3.11")
    assert code == 5 and "add-layer-version-permission" in err and "Traceback" not in err


def test_missing_layer_version_on_a_real_api(aws_env: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    missing = "arn:aws:lambda:us-east-1:123456789012:layer:never-published:7"
    code, out, err = run_main(capsys, "check", missing, "--runtime", "python3.12", "--json")
    assert code == 5
    assert json.loads(out)["error"]["type"] == "AwsError"
    assert "Traceback" not in err


def test_layer_arn_download_is_capped(monkeypatch: pytest.MonkeyPatch,
                                      served_zip: tuple[str, Path]) -> None:
    """No layer is bigger than 512 MB: a location serving more is cut off, not saved."""
    from lambdalayer.common.errors import UsageError

    url, archive = served_zip
    monkeypatch.setattr("lambdalayer.aws.download.MAX_DOWNLOAD", archive.stat().st_size - 1)
    stubbed_client(monkeypatch, {"Content": {"Location": url, "CodeSize": 1}})
    with pytest.raises(UsageError, match="larger than"):
        check_layer_arn(ARN, [PY311])


def test_layer_arn_download_has_a_total_deadline(monkeypatch: pytest.MonkeyPatch,
                                                 served_zip: tuple[str, Path]) -> None:
    url, _ = served_zip
    monkeypatch.setattr("lambdalayer.aws.download.DOWNLOAD_DEADLINE", -1.0)
    stubbed_client(monkeypatch, {"Content": {"Location": url, "CodeSize": 1}})
    with pytest.raises(AwsError, match=r"127\.0\.0\.1 did not finish sending within"):
        check_layer_arn(ARN, [PY311])


class _HangsUp(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10 << 20))
        self.end_headers()
        self.wfile.write(b"PK\x03\x04")  # then the connection closes: IncompleteRead


def test_layer_arn_download_cut_short_is_an_aws_error(monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HangsUp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/layer.zip"
        stubbed_client(monkeypatch, {"Content": {"Location": url, "CodeSize": 1}})
        with pytest.raises(AwsError, match="Could not download"):
            check_layer_arn(ARN, [PY311])
    finally:
        server.shutdown()
        server.server_close()
