"""RECORD lists what the layer ships, with current hashes (archive/record.py)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from pathlib import Path

import pytest

from lambdalayer.archive.record import rewrite_records
from lambdalayer.common.fileio import stamps_of, tree_stamps, tree_stats


def _rewrite(site: Path, walk: bool) -> int:
    """rewrite_records on its own, or reading the layout's one walk of the folder holding
    the site (pipeline/layout.add_own_code): the same RECORDs either way, and the walk
    kept true (a rewritten RECORD is a new file)."""
    if not walk:
        return rewrite_records(site)
    walked = tree_stats(site.parent)
    changed = rewrite_records(site, walked, "python/")
    assert stamps_of(walked) == tree_stamps(site.parent)
    return changed


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("walk", [False, True])
def test_rows_of_dropped_and_outside_files_go_and_changed_files_are_rehashed(
        tmp_path: Path, walk: bool) -> None:
    site = tmp_path / "python"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg-1.0.dist-info").mkdir()
    (site / "pkg" / "__init__.py").write_bytes(b"x = 1\n")
    (site / "pkg" / "_native.so").write_bytes(b"\x7fELF stripped")
    (tmp_path / "outside").write_text("host")
    rows = [
        ["bin/pkg-cli", _digest(b"#!/home/me/venv/bin/python"), "26"],  # dropped by lay_out
        ["pkg/__init__.py", _digest(b"x = 1\n"), "6"],
        ["pkg/_native.so", _digest(b"\x7fELF with symbols"), "18"],  # rewritten by --strip
        ["pkg/__pycache__/__init__.cpython-312.pyc", "sha256=abc", "10"],
        ["../outside", _digest(b"host"), "4"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    record = site / "pkg-1.0.dist-info" / "RECORD"
    record.write_text(text.getvalue())

    assert _rewrite(site, walk) == 1
    assert list(csv.reader(io.StringIO(record.read_text()))) == [
        ["pkg/__init__.py", _digest(b"x = 1\n"), "6"],
        ["pkg/_native.so", _digest(b"\x7fELF stripped"), "13"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
    assert _rewrite(site, walk) == 0  # already right: left alone


@pytest.mark.parametrize("walk", [False, True])
def test_symlinks_and_directories_that_lead_out_are_not_shipped_rows(tmp_path: Path,
                                                                     walk: bool) -> None:
    """A row is kept only for a regular file really below the site: not a symlink, not a
    file reached through a symlinked directory that leads out, not a directory."""
    site = tmp_path / "python"
    (site / "pkg" / "data").mkdir(parents=True)
    (site / "pkg-1.0.dist-info").mkdir()
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "key.pem").write_text("secret")
    (site / "pkg" / "out").symlink_to(outside)  # a directory link leading out
    (site / "pkg" / "inner").symlink_to(site / "pkg" / "data")  # a link that stays inside
    (site / "pkg" / "data" / "table.csv").write_text("a,b\n")
    (site / "pkg" / "alias.py").symlink_to(site / "pkg" / "data" / "table.csv")
    rows = [
        ["pkg/out/key.pem", _digest(b"secret"), "6"],
        ["pkg/inner/table.csv", _digest(b"a,b\n"), "4"],
        ["pkg/data/table.csv", _digest(b"a,b\n"), "4"],
        ["pkg/alias.py", _digest(b"a,b\n"), "4"],
        ["pkg/data", "", ""],
        ["/etc/passwd", "", ""],
        ["pkg/data/../../../secrets/key.pem", "", ""],
        ["pkg/missing.py", _digest(b""), "0"],
        ["pkg/data/table.csv", "", ""],  # a row without a hash gets one
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    record = site / "pkg-1.0.dist-info" / "RECORD"
    record.write_text(text.getvalue())
    _rewrite(site, walk)
    assert list(csv.reader(io.StringIO(record.read_text()))) == [
        ["pkg/inner/table.csv", _digest(b"a,b\n"), "4"],
        ["pkg/data/table.csv", _digest(b"a,b\n"), "4"],
        ["pkg/data/table.csv", _digest(b"a,b\n"), "4"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
