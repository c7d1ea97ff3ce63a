"""A first build copies the wheels' own deflate streams (docs/zip-format.md): outside in,
against a loopback index whose wheels are deflated at level 9 (so their streams differ
from our level-6 deflate and the test can tell which one the zip holds)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, private_index, serve_index

BIG = b"".join(b"line %d of a module, %d\n" % (i, i * 7 % 13) for i in range(20000))
MODULE = "python/llraw/big.py"
RECORD = "python/llraw-1.0.dist-info/RECORD"
WHEEL_NAME = "llraw-1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str,
                                                                                     bytes]]]:
    files = tmp_path_factory.mktemp("raw-index")
    make_wheel(files, "llraw", "1.0", files={"llraw/__init__.py": b"VALUE = 1\n",
                                             "llraw/big.py": BIG}, deflate_level=9)
    swapped: dict[str, bytes] = {}
    with serve_index(files, served_instead=swapped) as url:
        yield url, files, swapped


def _raw(archive_path: Path) -> dict[str, bytes]:
    """Every member's raw (compressed) bytes."""
    blob = archive_path.read_bytes()
    found = {}
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            head = struct.unpack("<IHHHHHIIIHH", blob[info.header_offset:info.header_offset + 30])
            start = info.header_offset + 30 + head[9] + head[10]
            found[info.filename] = blob[start:start + info.compress_size]
    return found


def _ours(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def _build(url: str, tmp: Path, cache: str, *extra: str, uv: Path | None = None) -> CliRun:
    env = {"LAMBDALAYER_CACHE_DIR": str(tmp / cache)}
    if uv is not None:
        env["UV_CACHE_DIR"] = str(uv)
    return run_cli("build", "raw", "-p", "llraw==1.0", "--index-url", url, "--runtime",
                   "python3.12", "--arch", "x86_64", "--no-proof", "--out",
                   str(tmp / f"dist-{cache}"), "--json", "--force", *extra, env=env)


def test_unchanged_files_are_the_wheels_streams_and_builds_agree(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    url, files, _ = index
    first = _build(url, tmp_path, "a")
    assert first.returncode == 0, first.stderr
    wheel = _raw(files / WHEEL_NAME)
    layer = _raw(tmp_path / "dist-a" / "raw.zip")
    assert layer[MODULE] == wheel["llraw/big.py"] != _ours(BIG)
    assert layer["python/llraw/__init__.py"] == wheel["llraw/__init__.py"]
    # RECORD is rewritten (it lists what ships): deflated by us.
    with zipfile.ZipFile(tmp_path / "dist-a" / "raw.zip") as archive:
        record = archive.read(RECORD)
    assert layer[RECORD] == _ours(record) != wheel["llraw-1.0.dist-info/RECORD"]
    # The wheel is kept in the cache's wheels/ folder and counted like the rest.
    assert list((tmp_path / "a" / "wheels").rglob("*.whl"))
    usage = run_cli("cache", "--json", env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "a")})
    assert usage.returncode == 0 and usage.json()["cache"]["size"] > len(BIG) // 20
    # Rebuilt with a warm cache, and built again with an empty one: the same bytes.
    again = _build(url, tmp_path, "a")
    fresh = _build(url, tmp_path, "b")
    assert again.returncode == 0 and fresh.returncode == 0, (again.stderr, fresh.stderr)
    digests = {(tmp_path / d / "raw.zip").read_bytes() for d in ("dist-a", "dist-b")}
    assert len(digests) == 1
    assert first.json()["artifacts"][0]["code_sha256"] == \
        fresh.json()["artifacts"][0]["code_sha256"]
    cleaned = run_cli("cache", "clean", env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "a")})
    assert cleaned.returncode == 0, cleaned.stderr
    assert not list((tmp_path / "a" / "wheels").rglob("*.whl"))


def test_offline_without_the_wheel_deflates_warns_and_records_it(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    url, _files, _ = index
    online = _build(url, tmp_path, "a")  # warms uv's cache (and this lambdalayer cache)
    assert online.returncode == 0, online.stderr
    offline = _build(url, tmp_path, "empty", "--offline")
    assert offline.returncode == 0, offline.stderr
    lines = [ln for ln in offline.stderr.splitlines() if "differ from an online build" in ln]
    assert len(lines) == 1 and "llraw==1.0" in lines[0], offline.stderr
    layer = _raw(tmp_path / "dist-empty" / "raw.zip")
    assert layer[MODULE] == _ours(BIG)
    manifest = json.loads((tmp_path / "dist-empty" / "raw.json").read_text())
    before = json.loads((tmp_path / "dist-a" / "raw.json").read_text())
    assert manifest["inputs"]["wheel_streams_unavailable"] == ["llraw==1.0"]
    assert "wheel_streams_unavailable" not in before["inputs"]
    assert manifest["inputs_hash"] != before["inputs_hash"]
    # Offline with the wheel in the cache: the online build's bytes, no warning.
    cached = _build(url, tmp_path, "a", "--offline")
    assert cached.returncode == 0, cached.stderr
    assert "differ from an online build" not in cached.stderr
    assert json.loads((tmp_path / "dist-a" / "raw.json").read_text())["inputs_hash"] == \
        before["inputs_hash"]
    assert _raw(tmp_path / "dist-a" / "raw.zip")[MODULE] != _ours(BIG)


def test_a_wheel_whose_hash_is_not_the_indexs_is_not_used(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    url, _files, swapped = index
    assert _build(url, tmp_path, "a").returncode == 0  # uv's cache holds the real wheel
    other = tmp_path / "other"
    make_wheel(other, "llraw", "1.0", files={"llraw/__init__.py": b"VALUE = 1\n",
                                             "llraw/big.py": BIG}, deflate_level=1)
    swapped[WHEEL_NAME] = (other / WHEEL_NAME).read_bytes()
    try:
        run = _build(url, tmp_path, "b")
    finally:
        swapped.clear()
    assert run.returncode == 0, run.stderr
    assert "SHA-256 is not the one the index gives" in run.stderr
    assert _raw(tmp_path / "dist-b" / "raw.zip")[MODULE] == _ours(BIG)
    assert not list((tmp_path / "b" / "wheels").rglob("*.whl"))


def test_an_installed_file_that_differs_from_its_wheel_is_deflated_by_us(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    """The tree uv installs from its cache is changed (same size): the wheel's stream no
    longer holds the file's bytes, so the file is deflated by us, never copied."""
    url, _files, _ = index
    uv = tmp_path / "uv"
    assert _build(url, tmp_path, "a", uv=uv).returncode == 0
    changed = BIG.replace(b"line 5 of", b"LINE 5 of")
    hits = [p for p in uv.rglob("big.py") if p.read_bytes() == BIG]
    assert hits, "uv's cache holds the unpacked wheel"
    for path in hits:
        os.chmod(path, 0o644)
        path.write_bytes(changed)
    shutil.rmtree(tmp_path / "dist-a")
    run = _build(url, tmp_path, "a", uv=uv)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "dist-a" / "raw.zip") as archive:
        assert archive.read(MODULE) == changed  # CRC checked by zipfile as it reads
    assert _raw(tmp_path / "dist-a" / "raw.zip")[MODULE] == _ours(changed)


def test_a_private_indexs_wheel_is_fetched_with_its_credentials_kept_out_of_the_cache(
        tmp_path: Path) -> None:
    files = tmp_path / "files"
    make_wheel(files, "llrawpriv", "1.0", files={"llrawpriv/big.py": BIG}, deflate_level=9)
    cache = tmp_path / "cache"
    with private_index(files) as served:
        run = run_cli("build", "priv", "-p", "llrawpriv==1.0", "--index-url", served.url,
                      "--runtime", "python3.12", "--no-proof", "--out",
                      str(tmp_path / "dist"), env={"LAMBDALAYER_CACHE_DIR": str(cache)})
    assert run.returncode == 0, run.stderr
    wheel = _raw(files / "llrawpriv-1.0-py3-none-any.whl")
    assert _raw(tmp_path / "dist" / "priv.zip")["python/llrawpriv/big.py"] == \
        wheel["llrawpriv/big.py"]
    fetched = [ok for path, ok in served.requests if path.endswith(".whl")]
    assert fetched and all(fetched)  # every download authorised (uv's and ours)
    assert "differ from an online build" not in run.stderr
    for written in cache.rglob("*"):
        if written.is_file():
            assert b"s3cr3t" not in written.read_bytes(), written


def test_every_layer_of_one_build_copies_the_streams(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    """Several layers built by one process each open their own wheels (a wheel closed
    after the first layer's zip must not leave the second one deflating)."""
    url, files, _ = index
    (tmp_path / "lambdalayer.toml").write_text(
        f'index_url = "{url}"\nruntimes = ["python3.12"]\n'
        '[layers.one]\npackages = ["llraw==1.0"]\nproof = false\n'
        '[layers.two]\npackages = ["llraw==1.0"]\nproof = false\n')
    run = run_cli("build", "--out", "dist", cwd=tmp_path,
                  env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr
    wheel = _raw(files / WHEEL_NAME)["llraw/big.py"]
    built = sorted((tmp_path / "dist").rglob("*.zip"))
    assert len(built) == 2, built
    for layer in built:
        assert _raw(layer)[MODULE] == wheel, layer


def test_a_damaged_wheel_in_the_cache_is_fetched_again(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    url, files, _ = index
    assert _build(url, tmp_path, "a").returncode == 0
    [kept] = (tmp_path / "a" / "wheels").rglob("*.whl")
    kept.write_bytes(kept.read_bytes()[:-100] + b"\0" * 100)  # same size, other bytes
    run = _build(url, tmp_path, "a")
    assert run.returncode == 0, run.stderr
    assert "differ from an online build" not in run.stderr
    assert _raw(tmp_path / "dist-a" / "raw.zip")[MODULE] == _raw(files / WHEEL_NAME)[
        "llraw/big.py"]
    assert kept.read_bytes() == (files / WHEEL_NAME).read_bytes()


def test_a_wheel_file_given_as_a_requirement_gives_its_own_streams(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "mine", "llrawlocal", "1.0",
                       files={"llrawlocal/big.py": BIG}, deflate_level=9)
    cache = tmp_path / "cache"
    run = run_cli("build", "local", "-p", str(wheel), "--runtime", "python3.12", "--no-proof",
                  "--out", str(tmp_path / "dist"), env={"LAMBDALAYER_CACHE_DIR": str(cache)})
    assert run.returncode == 0, run.stderr
    assert "differ from an online build" not in run.stderr
    assert _raw(tmp_path / "dist" / "local.zip")["python/llrawlocal/big.py"] == \
        _raw(wheel)["llrawlocal/big.py"]
    assert list((cache / "wheels").rglob("*.verified"))  # its checks are kept


def test_the_wheels_folder_is_private_like_the_rest_of_the_cache(
        index: tuple[str, Path, dict[str, bytes]], tmp_path: Path) -> None:
    """wheels/ and every folder below it are 0700 under a umask of 022 (docs/commands/
    cache.md), and one an older release left at 0755 is made 0700 again."""
    url, _, _ = index
    env = {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "c")}
    args = ("build", "raw", "-p", "llraw==1.0", "--index-url", url, "--runtime", "python3.12",
            "--arch", "x86_64", "--no-proof", "--out", str(tmp_path / "dist"), "--force")
    first = run_cli(*args, env=env, umask=0o022)
    assert first.returncode == 0, first.stderr
    wheels = tmp_path / "c" / "wheels"
    folders = [wheels, *(p for p in wheels.rglob("*") if p.is_dir())]
    assert len(folders) >= 2 and list(wheels.rglob("*.whl"))
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}
    for folder in folders:
        folder.chmod(0o755)
    shutil.rmtree(tmp_path / "dist")
    for kept in wheels.rglob("*.whl"):
        kept.unlink()  # fetched again: its folders are made (and fixed) again
    again = run_cli(*args, env=env, umask=0o022)
    assert again.returncode == 0, again.stderr
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}
