"""What the build compares to know the layer's files are as the audit read them."""

from __future__ import annotations

import os
from pathlib import Path

from lambdalayer.common.fileio import changed_files, tree_stamps


def test_a_write_an_addition_and_a_removal_are_changes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "b.py").write_text("B = 1\n")
    before = tree_stamps(tmp_path)
    assert changed_files(tmp_path, before) == []
    info = os.stat(tmp_path / "pkg" / "a.py")
    with open(tmp_path / "pkg" / "a.py", "a") as handle:
        handle.write("# x\n")
    os.utime(tmp_path / "pkg" / "a.py", ns=(info.st_atime_ns, info.st_mtime_ns))
    (tmp_path / "pkg" / "b.py").unlink()
    (tmp_path / "pkg" / "c.py").write_text("C = 1\n")
    assert changed_files(tmp_path, before) == ["pkg/a.py", "pkg/b.py", "pkg/c.py"]


def test_a_same_size_write_with_its_mtime_set_back_is_caught_by_the_ctime(
        tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("A = 1\n")
    before = tree_stamps(tmp_path)
    info = os.stat(path)
    path.write_text("A = 2\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert changed_files(tmp_path, before) == ["a.py"]


def test_another_hard_link_to_a_cached_file_is_no_change(tmp_path: Path) -> None:
    """uv links one cache entry into every build's tree: another build's link changes
    the file's ctime, not its content."""
    cache, tree = tmp_path / "cache", tmp_path / "tree"
    cache.mkdir()
    tree.mkdir()
    (cache / "six.py").write_text("X = 1\n")
    os.link(cache / "six.py", tree / "six.py")
    before = tree_stamps(tree)
    os.link(cache / "six.py", tmp_path / "other-build-six.py")
    assert changed_files(tree, before) == []


def _os_walk_stamps(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """The stamps as os.walk finds the files (what tree_stamps was written with)."""
    stamps = {}
    for folder, subfolders, names in os.walk(root):
        for name in [*names, *(d for d in subfolders if os.path.islink(os.path.join(folder, d)))]:
            info = os.lstat(os.path.join(folder, name))
            stamps[os.path.relpath(os.path.join(folder, name), root)] = (
                info.st_size, info.st_mtime_ns, info.st_ctime_ns if info.st_nlink == 1 else 0,
                info.st_ino)
    return stamps


def test_one_walk_gives_the_stamps_os_walk_gives(tmp_path: Path) -> None:
    """tree_stats is the walk the layout shares with the size and the RECORD rewrite:
    its stamps are os.walk's, links (to a file, a folder, nothing) included."""
    from lambdalayer.common.fileio import stamps_of, tree_stats

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("B = 1\n")
    (tmp_path / "empty").mkdir()
    os.symlink("a.py", tmp_path / "pkg" / "to-file")
    os.symlink("sub", tmp_path / "pkg" / "to-folder")
    os.symlink("nowhere", tmp_path / "pkg" / "broken")
    os.link(tmp_path / "pkg" / "a.py", tmp_path / "linked.py")
    reference = _os_walk_stamps(tmp_path)
    assert stamps_of(tree_stats(tmp_path)) == tree_stamps(tmp_path) == reference
    assert sorted(reference) == [
        "linked.py", "pkg/a.py", "pkg/broken", "pkg/sub/b.py", "pkg/to-file", "pkg/to-folder"]
