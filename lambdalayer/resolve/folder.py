"""The files of a user's folder that belong in a layer, and a digest of their contents.

Left out: bytecode, VCS and editor files, tool caches, and what the folder's
own `.gitignore` excludes (gitignore.py). The walk is sorted, so the result,
and the digest, do not depend on the file system's order. The digest covers
paths, contents and the executable bit, never mtimes: touching a file does
not make a build stale, changing one does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from pathlib import Path

from lambdalayer.resolve.gitignore import load_gitignore

_SKIPPED_DIRS = frozenset({
    "__pycache__", ".git", ".hg", ".svn", ".bzr", ".idea", ".vscode", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".venv", ".eggs",
})
_SKIPPED_FILES = ("*.pyc", "*.pyo", "*.swp", "*.swo", "*~", ".#*", "#*#", ".DS_Store",
                  ".gitignore", ".gitattributes", ".gitmodules", ".hgignore")
# A project's build leftovers (setuptools writes them into the project directory).
PROJECT_LEFTOVERS = ("build", "dist", "*.egg-info")


def _skipped_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _SKIPPED_FILES)


def folder_files(folder: Path, *, leftovers: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    """(relative `/` path, path) of every file to take from `folder`, sorted.

    `leftovers`: extra globs for top-level entries to leave out (PROJECT_LEFTOVERS).
    A symlink to a file counts as that file; symlinked directories are not followed.
    """
    ignore = load_gitignore(folder)
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        rel_dir = base.relative_to(folder).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"

        def keep(name: str, is_dir: bool, prefix: str = prefix) -> bool:
            if not prefix and any(fnmatch.fnmatchcase(name, g) for g in leftovers):
                return False
            return not ignore.ignored(prefix + name, is_dir=is_dir)

        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and keep(d, True))
        for name in sorted(filenames):
            path = base / name
            if _skipped_file(name) or not keep(name, False) or not path.is_file():
                continue
            found.append((prefix + name, path))
    found.sort()
    return found


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def tree_digest(files: list[tuple[str, Path]]) -> str:
    """sha256 over each file's relative path, executable bit and contents."""
    digest = hashlib.sha256()
    for rel, path in files:
        file_hash = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                file_hash.update(chunk)
        digest.update(f"{rel}\0{int(is_executable(path))}\0{file_hash.hexdigest()}\n".encode())
    return digest.hexdigest()
