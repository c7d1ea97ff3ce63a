"""Which files of a user's folder go into a layer, and the digest that says they changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.owncode.folder import PROJECT_LEFTOVERS, folder_files, tree_digest
from lambdalayer.owncode.gitignore import load_gitignore, parse_rule


def _write(root: Path, *paths: str) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, "utf-8")


def _ignored(lines: str, rel: str, *, is_dir: bool = False, tmp: Path) -> bool:
    (tmp / ".gitignore").write_text(lines, "utf-8")
    return load_gitignore(tmp).ignored(rel, is_dir=is_dir)


@pytest.mark.parametrize(("lines", "rel", "is_dir", "expected"), [
    ("# a comment\n*.log\n", "a/b/x.log", False, True),
    ("*.log\n", "x.txt", False, False),
    ("*.log\n!keep.log\n", "keep.log", False, False),  # negation: the last match wins
    ("*.log\n!keep.log\n", "sub/keep.log", False, False),
    ("!keep.log\n*.log\n", "keep.log", False, True),
    ("out/\n", "out", True, True),  # dir-only
    ("out/\n", "out", False, False),
    ("/top.txt\n", "top.txt", False, True),  # anchored
    ("/top.txt\n", "sub/top.txt", False, False),
    ("docs/*.md\n", "docs/a.md", False, True),  # a middle slash anchors too
    ("docs/*.md\n", "x/docs/a.md", False, False),
    ("docs/*.md\n", "docs/sub/a.md", False, False),  # * does not cross /
    ("**/fixtures\n", "a/b/fixtures", True, True),
    ("**/fixtures\n", "fixtures", True, True),
    ("a/**/z.txt\n", "a/z.txt", False, True),
    ("a/**/z.txt\n", "a/b/c/z.txt", False, True),
    ("a/**\n", "a/b/c", False, True),
    ("a/**\n", "a", True, False),
    ("\\#hash\n", "#hash", False, True),
    ("x?.py\n", "x1.py", False, True),
    ("x[0-9].py\n", "xa.py", False, False),
    ("x[!0-9].py\n", "xa.py", False, True),
    ("trailing.txt   \n", "trailing.txt", False, True),
])
def test_gitignore_rules(tmp_path: Path, lines: str, rel: str, is_dir: bool,
                         expected: bool) -> None:
    assert _ignored(lines, rel, is_dir=is_dir, tmp=tmp_path) is expected


def test_blank_and_comment_lines_are_no_rules() -> None:
    assert parse_rule("") is None
    assert parse_rule("   ") is None
    assert parse_rule("# x") is None


def test_folder_files_leave_out_bytecode_vcs_editor_files_and_gitignored(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/__init__.py", "pkg/__pycache__/m.cpython-312.pyc", "pkg/old.pyc",
           ".git/HEAD", ".idea/x.xml", "pkg/m.py.swp", "pkg/m.py~", "secret/key.txt",
           "pkg/debug.log", "keep.log", "mod.py", "build/lib/x.py")
    (tmp_path / ".gitignore").write_text("secret/\n*.log\n!keep.log\n", "utf-8")
    assert [rel for rel, _ in folder_files(tmp_path)] == [
        "build/lib/x.py", "keep.log", "mod.py", "pkg/__init__.py"]
    # A project's build leftovers are left out of its digest only when asked.
    assert "build/lib/x.py" not in [r for r, _ in folder_files(tmp_path,
                                                                 leftovers=PROJECT_LEFTOVERS)]


def test_a_file_inside_an_ignored_directory_cannot_be_re_included(tmp_path: Path) -> None:
    _write(tmp_path, "gen/keep.py", "a.py")
    (tmp_path / ".gitignore").write_text("gen/\n!gen/keep.py\n", "utf-8")
    assert [rel for rel, _ in folder_files(tmp_path)] == ["a.py"]


def test_digest_follows_contents_and_exec_bit_not_mtimes(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/__init__.py", "pkg/a.py")
    before = tree_digest(folder_files(tmp_path))
    os.utime(tmp_path / "pkg" / "a.py", (1, 1))
    assert tree_digest(folder_files(tmp_path)) == before
    (tmp_path / "pkg" / "a.py").chmod(0o755)
    assert tree_digest(folder_files(tmp_path)) != before
    (tmp_path / "pkg" / "a.py").chmod(0o644)
    (tmp_path / "pkg" / "a.py").write_text("changed", "utf-8")
    assert tree_digest(folder_files(tmp_path)) != before


def test_a_link_leading_outside_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside", "utf-8")
    _write(tmp_path, "src/pkg/__init__.py")
    (tmp_path / "src" / "pkg" / "data.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UsageError) as caught:
        folder_files(tmp_path / "src", label="--source src")
    assert "--source src: pkg/data.txt is a link to" in str(caught.value)
    assert str(tmp_path / "secret.txt") in str(caught.value)
    # Asked for: the bytes of the file it leads to.
    taken = dict(folder_files(tmp_path / "src", follow_links=True))
    assert taken["pkg/data.txt"] == tmp_path / "secret.txt"


def test_a_link_inside_the_folder_is_stored_as_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/real.py")
    (tmp_path / "pkg" / "alias.py").symlink_to("real.py")
    (tmp_path / "loop").symlink_to(tmp_path)  # a directory link: not followed
    assert folder_files(tmp_path) == [("pkg/alias.py", tmp_path / "pkg" / "real.py"),
                                      ("pkg/real.py", tmp_path / "pkg" / "real.py")]


def test_a_directory_link_leading_outside_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "src/a.py", "elsewhere/b.py")
    (tmp_path / "src" / "more").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="more is a link to"):
        folder_files(tmp_path / "src")


def test_proc_fifo_and_devices_are_refused_even_when_following_links(tmp_path: Path) -> None:
    _write(tmp_path, "a.py")
    (tmp_path / "env").symlink_to("/proc/self/environ")
    with pytest.raises(UsageError, match="env is a link to /proc/"):
        folder_files(tmp_path, follow_links=True)
    (tmp_path / "env").unlink()
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="pipe is a FIFO"):
        folder_files(tmp_path, follow_links=True)
    (tmp_path / "pipe").unlink()
    (tmp_path / "null").symlink_to("/dev/null")
    with pytest.raises(UsageError, match="null is a device"):
        folder_files(tmp_path, follow_links=True)
    (tmp_path / ".gitignore").write_text("null\n", "utf-8")  # ignored: not looked at
    assert [rel for rel, _ in folder_files(tmp_path, follow_links=True)] == ["a.py"]
