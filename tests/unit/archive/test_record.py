"""RECORD lists what the layer ships, with current hashes (archive/record.py)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from pathlib import Path

from lambdalayer.archive.record import rewrite_records


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_rows_of_dropped_and_outside_files_go_and_changed_files_are_rehashed(
        tmp_path: Path) -> None:
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

    assert rewrite_records(site) == 1
    assert list(csv.reader(io.StringIO(record.read_text()))) == [
        ["pkg/__init__.py", _digest(b"x = 1\n"), "6"],
        ["pkg/_native.so", _digest(b"\x7fELF stripped"), "13"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
    assert rewrite_records(site) == 0  # already right: left alone
