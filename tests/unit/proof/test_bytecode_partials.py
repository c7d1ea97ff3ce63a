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
