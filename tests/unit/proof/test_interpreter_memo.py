"""The interpreters' lookups are remembered between commands while the facts they were
learnt under hold (interpreters/memo.py): a probe of each CPython, uv's answers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.common import cache as lambdalayer_cache
from lambdalayer.interpreters import find


def _fake_cpython(path: Path, count: Path, version: str = "3.99.1") -> str:
    """A stand-in CPython that answers find.probe and counts its runs in `count`."""
    answer = json.dumps({"implementation": "cpython", "version": version.split("."),
                         "executable": str(path), "machine": "x86_64", "system": "Linux",
                         "libc": "glibc"})
    path.write_text(f"#!/bin/sh\necho run >> '{count}'\necho '{answer}'\n")
    path.chmod(0o755)
    return str(path)


def _runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def test_a_probe_is_remembered_while_the_file_is_the_same(tmp_path: Path) -> None:
    count = tmp_path / "count"
    python = _fake_cpython(tmp_path / "python3.99", count)
    first = find.probe(python)
    assert first is not None and first.version == "3.99.1"
    assert find.probe(python) == first  # a second command: nothing run
    assert _runs(count) == 1
    time.sleep(0.01)
    _fake_cpython(tmp_path / "python3.99", count, version="3.99.2")  # reinstalled
    again = find.probe(python)
    assert again is not None and again.version == "3.99.2"
    assert _runs(count) == 2


def test_the_memo_can_be_turned_off_and_survives_damage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = tmp_path / "count"
    python = _fake_cpython(tmp_path / "python3.99", count)
    from lambdalayer.interpreters import memo

    find.probe(python)
    record = lambdalayer_cache.cache_root() / lambdalayer_cache.INTERPRETERS_FOUND_RECORD
    assert record.is_file()
    monkeypatch.setenv(memo.OFF_VARIABLE, "1")
    find.probe(python)
    assert _runs(count) == 2
    monkeypatch.delenv(memo.OFF_VARIABLE)
    record.write_text("{not json")
    assert find.probe(python) is not None  # asked again, and kept again
    find.probe(python)
    assert _runs(count) == 3


def test_an_entry_is_asked_again_after_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.interpreters import memo

    asked: list[int] = []

    def ask() -> int:
        asked.append(1)
        return len(asked)

    assert memo.remembered("k", ["facts"], ask, int, int) == 1
    assert memo.remembered("k", ["facts"], ask, int, int) == 1
    assert memo.remembered("k", ["other facts"], ask, int, int) == 2
    monkeypatch.setattr(memo, "MAX_AGE", 0.0)
    assert memo.remembered("k", ["other facts"], ask, int, int) == 3


def test_uv_python_find_is_asked_again_when_a_searched_folder_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.common import uvtool

    calls: list[list[str]] = []
    real = uvtool.run_uv

    def spy(args: list[str], **kwargs: Any) -> uvtool.UvResult:
        calls.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(uvtool, "run_uv", spy)
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    assert find._uv_candidate("3.99") == []  # no CPython 3.99 anywhere
    assert find._uv_candidate("3.99") == []  # the next command: uv not asked
    assert len(calls) == 1
    time.sleep(0.01)
    (folder / "python3.99").write_text("")  # something installed where uv looks
    find._uv_candidate("3.99")
    assert len(calls) == 2


def test_cache_clean_forgets_what_was_found(tmp_path: Path) -> None:
    find.probe(_fake_cpython(tmp_path / "python3.99", tmp_path / "count"))
    root = lambdalayer_cache.cache_root()
    assert (root / lambdalayer_cache.INTERPRETERS_FOUND_RECORD).is_file()
    lambdalayer_cache.clean(root)
    assert not (root / lambdalayer_cache.INTERPRETERS_FOUND_RECORD).exists()
