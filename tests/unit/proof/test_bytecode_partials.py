"""A signal kills the proof (or its compiling helper) between writing a bytecode file
and renaming it into place: the last cleanup removes the half-written file and keeps
the whole ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.proof import runner


def test_the_last_cleanup_removes_half_written_bytecode_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ab"
    folder.mkdir()
    whole = folder / "ab12.cpython-312.pyc"
    whole.write_bytes(b"whole")
    (folder / "ab12.cpython-312.pyc.2-0f0f0f0f.tmp").write_bytes(b"ha")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-other.tmp"  # not in a folder in use
    elsewhere.write_bytes(b"x")
    monkeypatch.setattr(runner, "_BYTECODE_IN_USE", {str(tmp_path)})
    runner._remove_partial_bytecode()
    assert sorted(p.name for p in folder.iterdir()) == [whole.name]
    assert elsewhere.exists()
    elsewhere.unlink()


def test_the_cleanup_never_follows_a_planted_link(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder in the cache that is a link to somewhere else is passed over: a signalled
    build's cleanup deleted a file outside the cache through one."""
    cache, outside = tmp_path / "cache", tmp_path / "outside"
    cache.mkdir()
    outside.mkdir()
    precious = outside / "precious.tmp"
    precious.write_bytes(b"mine")
    (cache / "zz").symlink_to(outside, target_is_directory=True)
    (cache / "ab").mkdir()
    (cache / "ab" / "x.tmp").symlink_to(precious)
    monkeypatch.setattr(runner, "_BYTECODE_IN_USE", {str(cache)})
    runner._remove_partial_bytecode()
    assert precious.read_bytes() == b"mine"
    assert not (cache / "ab" / "x.tmp").is_symlink()  # the link itself goes, not its target
