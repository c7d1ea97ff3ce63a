"""Names in the zip and unreadable paths, as other hosts (macOS, Windows)
would present them."""

from __future__ import annotations

import os
import unicodedata
import zipfile
from pathlib import Path

import pytest

from lambdalayer.archive.zipwriter import iter_tree, write_zip
from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import replace_retrying


def test_zip_names_are_nfc_whatever_form_the_volume_lists(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / unicodedata.normalize("NFD", "naïve.py")).write_text("x = 1\n")
    write_zip(iter_tree(tree), tmp_path / "o.zip")
    with zipfile.ZipFile(tmp_path / "o.zip") as archive:
        assert archive.namelist() == [unicodedata.normalize("NFC", "naïve.py")]


def test_an_unreadable_directory_stops_the_zip_loudly(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As os.walk sees a path past 260 characters on Windows: an error, not an empty dir."""
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "m.py").write_text("")
    real = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "deep":
            raise FileNotFoundError(2, "The system cannot find the path specified", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UsageError, match=r"(?s)Cannot read .*deep.*260 characters"):
        list(iter_tree(tmp_path))


def test_an_unreadable_file_stops_the_zip_loudly(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("")
    real = Path.lstat

    def lstat(self: Path) -> os.stat_result:
        if self.name == "a.py":
            raise OSError(36, "File name too long", str(self))
        return real(self)

    monkeypatch.setattr(Path, "lstat", lstat)
    with pytest.raises(UsageError, match=r"File name too long"):
        list(iter_tree(tmp_path))


def test_replace_is_retried_through_a_brief_sharing_violation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, destination = tmp_path / "new", tmp_path / "old"
    source.write_text("new")
    destination.write_text("old")
    real, failures = os.replace, [PermissionError(13, "used by another process")] * 3

    def flaky(a: str | Path, b: str | Path) -> None:
        if failures:
            raise failures.pop()
        real(a, b)

    monkeypatch.setattr(os, "replace", flaky)
    replace_retrying(source, destination, delay=0.001)
    assert destination.read_text() == "new"
    failures.extend([PermissionError(13, "locked")] * 20)
    source.write_text("again")
    with pytest.raises(PermissionError):
        replace_retrying(source, destination, attempts=3, delay=0.001)
