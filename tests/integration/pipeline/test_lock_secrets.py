"""Locks keep their inputs and none of their secrets (docs/trust.md): index options from
a requirements file travel into the lock (without credentials) and back into the locked
build; a password with `@`, `:` or `%40` is hidden whole in every file and output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, run_cli
from tests.package_index import PrivateIndex, make_wheel, private_index

PASSWORD = "s3cr3t@tok:en%x"  # as the server checks it, decoded


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateIndex]:
    files = tmp_path_factory.mktemp("index-files")
    make_wheel(files, "llprivate-pure", "1.0")
    with private_index(files, password=PASSWORD) as served:
        yield served


def _spellings(index: PrivateIndex) -> dict[str, str]:
    """The same credentials written raw (a last-@ parser needed) and percent-escaped."""
    host = index.bare_url.removeprefix("http://")
    return {"raw": f"http://aws:s3cr3t@tok:en%25x@{host}",
            "escaped": f"http://aws:s3cr3t%40tok%3Aen%25x@{host}"}


def _assert_no_secret(run: CliRun, *trees: Path) -> None:
    assert run.returncode == 0, run.stderr
    for text in (run.stdout, run.stderr):
        assert "s3cr3t" not in text and "tok:en" not in text and "tok%3Aen" not in text
    for tree in trees:
        for path in (tree.rglob("*") if tree.exists() else []):
            if path.is_file():
                data = path.read_bytes()
                assert b"s3cr3t" not in data and b"tok%3Aen" not in data, path


@pytest.mark.parametrize("spelling", ["raw", "escaped"])
def test_a_requirements_files_extra_index_survives_lock_and_locked_build(
        index: PrivateIndex, tmp_path: Path, spelling: str) -> None:
    url = _spellings(index)[spelling]
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url {url}\nllprivate-pure\n")
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.priv]\nrequirements = "requirements.txt"\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\n')
    locked = run_cli("lock", "--json", cwd=tmp_path)
    _assert_no_secret(locked, tmp_path / "locks")
    lock = (tmp_path / "locks" / "priv" / "python3.12-x86_64.txt").read_text()
    assert f"--extra-index-url {index.bare_url}\n" in lock
    assert "llprivate-pure==1.0" in lock
    built = run_cli("build", "--locked", "--no-proof", "--json", cwd=tmp_path)
    _assert_no_secret(built, tmp_path / "dist", tmp_path / "locks")
    [artifact] = built.json()["artifacts"]
    assert {p["name"] for p in artifact["packages"]} == {"llprivate-pure"}


@pytest.mark.parametrize("spelling", ["raw", "escaped"])
def test_a_direct_url_password_is_cut_whole_in_lock_manifest_json_and_logs(
        index: PrivateIndex, tmp_path: Path, spelling: str) -> None:
    url = _spellings(index)[spelling]
    wheel = f"{url.removesuffix('/simple')}/files/llprivate_pure-1.0-py3-none-any.whl"
    (tmp_path / "lambdalayer.toml").write_text(
        f'[layers.direct]\npackages = ["llprivate-pure @ {wheel}"]\n'
        'runtimes = ["python3.12"]\narchitectures = ["x86_64"]\n')
    cache = tmp_path / "cache"
    env = {"LAMBDALAYER_CACHE_DIR": str(cache)}
    locked = run_cli("lock", "--json", cwd=tmp_path, env=env)
    _assert_no_secret(locked, tmp_path / "locks", cache)
    lock = (tmp_path / "locks" / "direct" / "python3.12-x86_64.txt").read_text()
    bare_wheel = f"{index.bare_url.removesuffix('/simple')}/files/"
    assert f"llprivate-pure @ {bare_wheel}" in lock
    built = run_cli("build", "direct", "--no-proof", "--json", cwd=tmp_path, env=env)
    _assert_no_secret(built, tmp_path / "dist", cache)
    manifest = json.loads((tmp_path / "dist" / "direct.json").read_text())
    [spec] = manifest["inputs"]["requirements"]
    assert spec == f"llprivate-pure @ {bare_wheel.replace('http://', 'http://****@')}" \
                   "llprivate_pure-1.0-py3-none-any.whl"
