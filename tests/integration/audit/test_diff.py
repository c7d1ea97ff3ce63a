"""`lambdalayer diff` on real builds from the package index, and on a published version."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdalayer.cli import main
from tests.helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.network

# A thin 64-bit Mach-O header (x86_64): a macOS tool the audit warns about.
MACHO = b"\xcf\xfa\xed\xfe" + (0x01000007).to_bytes(4, "little") + bytes(24)


def _build(out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lambdalayer", "build", "demo", "--runtime", "python3.12",
         "--arch", "x86_64", "--out", str(out), *args],
        cwd=out.parent, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Old: six 1.16.0 + idna. New: six 1.17.0 + attrs and a macOS binary (a warning)."""
    old = tmp_path_factory.mktemp("old") / "dist"
    new_root = tmp_path_factory.mktemp("new")
    new = new_root / "dist"
    (new_root / "tool").write_bytes(MACHO)
    # Both builds at once: two resolver runs overlap their network waits.
    runs = [_build(old, "-p", "six==1.16.0", "-p", "idna==3.7"),
            _build(new, "-p", "six==1.17.0", "-p", "attrs==23.2.0",
                   "--include", f"{new_root / 'tool'}:bin/")]
    for run in runs:
        _out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    return old, new


def test_diff_of_two_builds_json(builds: tuple[Path, Path]) -> None:
    old, new = builds
    run = run_cli("diff", str(old / "demo.zip"), str(new / "demo.json"), "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    changes = {c["name"]: c for c in doc["packages"]}
    assert changes["six"]["change"] == "upgraded"
    assert (changes["six"]["old_version"], changes["six"]["new_version"]) == ("1.16.0", "1.17.0")
    assert changes["attrs"]["change"] == "added" and changes["attrs"]["size_change"] > 10_000
    assert changes["idna"]["change"] == "removed" and changes["idna"]["size_change"] < -10_000
    assert doc["size_change"] == doc["new"]["unzipped_size"] - doc["old"]["unzipped_size"]
    # The tool is not owned by a package: it shows up as other files, and as a new finding.
    assert changes["(other files)"]["change"] == "added"
    assert [f["code"] for f in doc["findings_new"]] == ["foreign-binary-macho"]
    assert doc["findings_new"][0]["path"] == "bin/tool"
    assert doc["findings_gone"] == []


def test_diff_reversed_shows_downgrade_and_gone_finding(builds: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    old, new = builds
    unpacked = tmp_path / "layer"
    shutil.unpack_archive(old / "demo.zip", unpacked)
    # A bare directory has no manifest: its findings come from auditing it for the
    # other side's targets, so the macOS tool's warning is "gone".
    run = run_cli("diff", str(new / "demo.zip"), str(unpacked), "--markdown")
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert "| six | downgraded | 1.17.0 → 1.16.0 |" in text
    assert "| attrs | removed | 23.2.0 |" in text and "| idna | added | 3.7 |" in text
    assert "Findings gone:" in text and "`foreign-binary-macho` bin/tool" in text


def test_same_layer_has_no_changes(builds: tuple[Path, Path]) -> None:
    old, _new = builds
    run = run_cli("diff", str(old / "demo.zip"), str(old / "demo.json"), "--markdown")
    assert run.returncode == 0, run.stderr
    assert "No package changes." in run.stdout and "(±0 B)" in run.stdout


def test_unreadable_side_exits_two(builds: tuple[Path, Path], tmp_path: Path) -> None:
    old, _new = builds
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert_clean_failure(run_cli("diff", str(bad), str(old / "demo.zip")), 2)
    assert_clean_failure(run_cli("diff", "nowhere/at-all", str(old / "demo.zip")), 2)


# --------------------------------------------------------------------------- published

ARN = "arn:aws:lambda:eu-west-1:210987654321:layer:demo:4"


@pytest.fixture
def served(builds: tuple[Path, Path]) -> Iterator[str]:
    """A loopback HTTP server standing in for the presigned URL of the old zip."""
    old, _new = builds
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(old))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/demo.zip"
    finally:
        server.shutdown()
        server.server_close()


def _stub(monkeypatch: pytest.MonkeyPatch, url: str,
          listed: list[int] | None = None) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    if listed:
        layer = ARN.rsplit(":", 1)[0]
        stubber.add_response(
            "list_layer_versions",
            {"LayerVersions": [{"Version": n, "LayerVersionArn": f"{layer}:{n}"}
                               for n in listed]},
            expected_params={"LayerName": "demo"})
    stubber.add_response(
        "get_layer_version",
        {"Content": {"Location": url, "CodeSize": 1}, "LayerVersionArn": ARN, "Version": 4,
         "CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["x86_64"]},
        expected_params={"LayerName": ARN.rsplit(":", 1)[0], "VersionNumber": 4})
    stubber.activate()
    calls: list[dict[str, Any]] = []

    def make_client(service: str, **kwargs: Any) -> Any:
        calls.append({"service": service, **kwargs})
        return client

    monkeypatch.setattr("lambdalayer.aws.client.make_client", make_client)
    return calls


def test_diff_against_a_published_version(builds: tuple[Path, Path], served: str,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _old, new = builds
    calls = _stub(monkeypatch, served)
    with pytest.raises(SystemExit) as done:
        main(["diff", ARN, str(new / "demo.zip"), "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    import json

    doc = json.loads(out)
    assert {c["name"]: c["change"] for c in doc["packages"]}["six"] == "upgraded"
    assert [f["code"] for f in doc["findings_new"]] == ["foreign-binary-macho"]
    assert calls[0]["region"] == "eu-west-1"


def test_missing_published_version_exits_five(aws_env: dict[str, str],
                                              builds: tuple[Path, Path]) -> None:
    _old, new = builds
    run = run_cli("diff", "never-published:3", str(new / "demo.zip"))
    assert_clean_failure(run, 5)


def test_publish_diff_against_the_superseded_version(builds: tuple[Path, Path], served: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.cli.diff_cmd import diff_short
    from lambdalayer.reports.diff import AwsAccess, diff_superseded

    _old, new = builds
    calls = _stub(monkeypatch, served, listed=[3, 4, 5])
    change = diff_superseded(new / "demo.zip", ARN.replace(":4", ":5"), aws=AwsAccess())
    assert change.previous_arn == ARN and change.diff is not None, change.reason
    [line, findings] = diff_short(change.diff)
    assert line.startswith(f"vs {ARN}: added (other files), attrs 23.2.0; removed idna 3.7; "
                           "upgraded six 1.16.0 → 1.17.0; -")  # idna is larger than attrs
    assert "foreign-binary-macho" in findings
    assert {c["region"] for c in calls} == {"eu-west-1"}
