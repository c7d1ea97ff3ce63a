"""A cached member is used only if its stored bytes are the ones lambdalayer wrote: the
same content deflated another way would change the zip's CodeSha256. `cache clean`
deletes only entries lambdalayer wrote; an unusable cache directory gets no file at all."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from lambdalayer.archive.zipwriter import CACHE_MIN, iter_tree, write_zip
from lambdalayer.common.cache import _HEADER, DeflateCache, clean
from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel


def _layer(tmp_path: Path, payload: bytes) -> Path:
    root = tmp_path / "layer"
    (root / "python").mkdir(parents=True)
    (root / "python" / "big.bin").write_bytes(payload)
    return root


def _stored(data: bytes) -> bytes:
    """The same content as a raw deflate stream of stored (uncompressed) blocks."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def _rewrite_entries(cache_dir: Path, content: bytes) -> int:
    """Rewrite every entry as a stored stream of the same content, keeping the header's
    magic and MAC field as found and fixing its length and CRC (what an outsider can do)."""
    count = 0
    for entry in (cache_dir / "zip-members").rglob("*"):
        if not entry.is_file() or entry.name.startswith("."):
            continue
        header = _HEADER.unpack_from(entry.read_bytes())
        stream = _stored(content)
        entry.write_bytes(_HEADER.pack(header[0], len(stream), zlib.crc32(stream),
                                       *header[3:]) + stream)
        count += 1
    return count


def test_a_stored_stream_of_the_same_content_is_not_used(tmp_path: Path) -> None:
    content = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(20000))
    assert len(content) > CACHE_MIN
    root = _layer(tmp_path, content)
    cache_dir = tmp_path / "cache"
    write_zip(iter_tree(root), tmp_path / "first.zip", level=6,
              cache=DeflateCache(cache_dir, 10**9))
    assert _rewrite_entries(cache_dir, content) == 1
    second = DeflateCache(cache_dir, 10**9)
    write_zip(iter_tree(root), tmp_path / "second.zip", level=6, cache=second)
    # Same zip, byte for byte (so the same CodeSha256), and the entry reported.
    assert (tmp_path / "second.zip").read_bytes() == (tmp_path / "first.zip").read_bytes()
    assert len(second.discarded) == 1


def test_clean_deletes_only_entries_it_wrote(tmp_path: Path) -> None:
    root = _layer(tmp_path, os.urandom(CACHE_MIN + 1))
    cache_dir = tmp_path / "cache"
    write_zip(iter_tree(root), tmp_path / "a.zip", level=6,
              cache=DeflateCache(cache_dir, 10**9))
    foreign = {cache_dir / "othertool" / "state.db": b"other tool",
               cache_dir / "zip-members" / "README": b"someone's note",
               cache_dir / "logs" / "mine.txt": b"kept",
               cache_dir / "notes.txt": b"kept too"}
    for path, data in foreign.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert clean(cache_dir) > CACHE_MIN
    for path, data in foreign.items():
        assert path.read_bytes() == data, path
    members = [p for p in (cache_dir / "zip-members").rglob("*") if p.is_file()]
    assert members == [cache_dir / "zip-members" / "README"]


def _local_project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "src" / "projmod").mkdir(parents=True)
    (project / "src" / "projmod" / "__init__.py").write_text("X = 1\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "projmod"\nversion = "1.0"\n'
        '[build-system]\nrequires = []\nbuild-backend = "nonexistent_backend"\n')
    return project


def test_a_foreign_cache_directory_gets_no_build_log(tmp_path: Path) -> None:
    """LAMBDALAYER_CACHE_DIR at someone else's folder: the local build's log goes nowhere
    there (the build fails on its backend, as it would anyway)."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    _local_project(tmp_path)
    run = run_cli("build", "p", "-p", "./proj", "--runtime", "python3.12", "--arch",
                  "x86_64", "--no-proof", "--out", str(tmp_path / "dist"), cwd=tmp_path,
                  env={"LAMBDALAYER_CACHE_DIR": str(foreign)})
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]


def test_a_cache_path_that_is_a_file_is_no_traceback(tmp_path: Path) -> None:
    afile = tmp_path / "cachefile"
    afile.write_text("not a folder")
    wheel = make_wheel(tmp_path, "tinypkg", "1.0")
    run = run_cli("build", "tiny", "-p", str(wheel), "--runtime", "python3.12", "--arch",
                  "x86_64", "--no-proof", "--out", str(tmp_path / "dist"), cwd=tmp_path,
                  env={"LAMBDALAYER_CACHE_DIR": str(afile)})
    assert run.returncode == 0, run.stderr
    _local_project(tmp_path)
    run = run_cli("build", "p", "-p", "./proj", "--runtime", "python3.12", "--arch",
                  "x86_64", "--no-proof", "--out", str(tmp_path / "dist"), cwd=tmp_path,
                  env={"LAMBDALAYER_CACHE_DIR": str(afile)})
    assert_clean_failure(run, 3)
    assert afile.read_text() == "not a folder"
