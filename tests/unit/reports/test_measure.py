"""A layer's sizes from the layout's one walk are those of a walk of their own
(reports/sizing.measure, `walked` from common/fileio.tree_stats)."""

from __future__ import annotations

import os
from pathlib import Path

from lambdalayer.common.distinfo import read_installed, run_budget
from lambdalayer.common.fileio import tree_stats
from lambdalayer.reports.sizing import measure


def test_the_sizes_from_the_shared_walk_are_the_sizes(tmp_path: Path) -> None:
    site = tmp_path / "python"
    (site / "pkg" / "data").mkdir(parents=True)
    (site / "pkg-1.0.dist-info").mkdir()
    (site / "pkg" / "__init__.py").write_text("x = 1\n")
    (site / "pkg" / "data" / "table.csv").write_text("a,b\n" * 50)
    os.symlink("data/table.csv", site / "pkg" / "alias.csv")  # counted at its target's size
    os.symlink("data", site / "pkg" / "folder-link")  # a folder: not a file, not entered
    (tmp_path / "mine.txt").write_text("own code")  # "(other)"
    (site / "pkg-1.0.dist-info" / "METADATA").write_text("Name: pkg\nVersion: 1.0\n")
    (site / "pkg-1.0.dist-info" / "RECORD").write_text(
        "pkg/__init__.py,,\npkg/data/table.csv,,\npkg/alias.csv,,\n"
        "pkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n")
    site_dirs = {site: read_installed(site, run_budget())}
    alone = measure(tmp_path, site_dirs, reductions=(("--slim", 3),))
    shared = measure(tmp_path, site_dirs, reductions=(("--slim", 3),),
                     walked=tree_stats(tmp_path))
    assert shared == alone
    assert shared.owners == alone.owners
    record = (site / "pkg-1.0.dist-info" / "RECORD").stat().st_size
    metadata = len("Name: pkg\nVersion: 1.0\n")
    assert alone.total == 6 + 200 + 200 + metadata + record + len("own code")
