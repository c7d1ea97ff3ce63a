"""Private indexes: --index-url & co reach uv, the error-message query asks the same
index (with the credentials as a header), and the password appears nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import PrivateIndex, make_wheel, private_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateIndex]:
    files = tmp_path_factory.mktemp("index-files")
    make_wheel(files, "llprivate-pure", "1.0")
    make_wheel(files, "llprivate-native", "2.0", file_tag="cp312-cp312-macosx_11_0_arm64")
    (files / "llprivate-native-2.0.tar.gz").write_bytes(b"not built: --only-binary")
    with private_index(files) as served:
        yield served


def assert_secret_absent(secret: str, run: CliRun, out: Path | None = None) -> None:
    assert secret not in run.stdout and secret not in run.stderr
    # urllib-quoted forms too: the URL carries the password percent-encoded.
    assert "s3cr3t" not in run.stdout and "s3cr3t" not in run.stderr
    for written in (out.rglob("*") if out and out.exists() else []):
        if written.is_file():
            assert b"s3cr3t" not in written.read_bytes(), written


def test_index_url_with_password_builds_and_the_password_is_nowhere(
        index: PrivateIndex, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    run = run_cli("build", "private", "-p", "llprivate-pure", "--index-url", index.url,
                  "--runtime", "python3.12", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    assert_secret_absent(index.password, run, out)
    [artifact] = run.json()["artifacts"]
    assert {p["name"] for p in artifact["packages"]} == {"llprivate-pure"}
    manifest = json.loads((out / "private.json").read_text())
    assert manifest["inputs"]["index"]["index_url"] == index.bare_url.replace(
        "http://", "http://****@")
    assert any(path.startswith("/files/") and ok for path, ok in index.requests)


def test_direct_url_credentials_are_not_recorded(index: PrivateIndex, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    wheel = f"{index.url.removesuffix('/simple')}/files/llprivate_pure-1.0-py3-none-any.whl"
    run = run_cli("build", "direct", "-p", f"llprivate-pure @ {wheel}", "--runtime",
                  "python3.12", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    assert_secret_absent(index.password, run, out)
    manifest = json.loads((out / "direct.json").read_text())
    assert manifest["inputs"]["requirements"] == [
        f"llprivate-pure @ {wheel.replace(wheel.split('//')[1].split('@')[0], '****')}"]


@pytest.mark.parametrize("how", ["env", "requirements-file", "config"])
def test_no_fitting_wheel_is_explained_from_the_private_index(
        index: PrivateIndex, tmp_path: Path, how: str) -> None:
    """The query behind the message asks the build's index (authorised), not PyPI, and a
    token in the URL neither crashes it (urllib took `TOKEN@host` for a port) nor shows."""
    env: dict[str, str] = {}
    args = ["build", "native", "--runtime", "python3.12", "--arch", "x86_64",
            "--out", str(tmp_path / "dist"), "--json"]
    if how == "env":
        env["UV_INDEX_URL"] = index.url
        args += ["-p", "llprivate-native"]
    elif how == "requirements-file":
        req = tmp_path / "requirements.txt"
        req.write_text(f"--index-url {index.url}\nllprivate-native\n")
        args += ["-r", str(req)]
    else:
        (tmp_path / "lambdalayer.toml").write_text(
            f'index_url = "{index.url}"\n[layers.native]\npackages = ["llprivate-native"]\n')
    before = len(index.requests)
    run = run_cli(*args, cwd=tmp_path, env=env)
    assert_clean_failure(run, 3)
    assert_secret_absent(index.password, run, tmp_path / "dist")
    message = run.json()["error"]["message"]
    assert "offers llprivate-native 2.0 as wheels for macosx_11_0_arm64 and an sdist" in message
    asked = index.requests[before:]
    assert asked and all(ok for _, ok in asked)


def test_lock_takes_the_index_options_and_hides_the_password(
        index: PrivateIndex, tmp_path: Path) -> None:
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.priv]\npackages = ["llprivate-pure"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\n')
    run = run_cli("lock", "--index-url", index.url, "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert_secret_absent(index.password, run, tmp_path / "locks")
    lock = tmp_path / "locks" / "priv" / "python3.12-x86_64.txt"
    assert "llprivate-pure==1.0" in lock.read_text()
    # Built from the lock, through the same index (the flag again: locks hold no URLs).
    built = run_cli("build", "--locked", "--index-url", index.url, "--json", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert_secret_absent(index.password, built, tmp_path / "dist")
