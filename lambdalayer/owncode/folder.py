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

from lambdalayer.common.errors import UsageError
from lambdalayer.owncode.gitignore import load_gitignore

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


def folder_files(folder: Path, *, leftovers: tuple[str, ...] = (), follow_links: bool = False,
                 label: str = "") -> list[tuple[str, Path]]:
    """(relative `/` path, real path) of every file to take from `folder`, sorted.

    `leftovers`: extra globs for top-level entries to leave out (PROJECT_LEFTOVERS).
    A link to a file inside the folder counts as that file (its bytes are stored);
    one that leads outside is a UsageError naming it (`label`: the option, for the
    message) unless `follow_links`. Symlinked directories are not followed. What
    is not a regular file (FIFO, device, socket) and anything under /proc or /sys
    is refused: see docs/trust.md.
    """
    root = Path(os.path.realpath(folder))
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
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)  # not followed, but one leading outside is named
                _real_target(base / name, root, prefix + name, follow_links, label)
        for name in sorted(filenames):
            if _skipped_file(name) or not keep(name, False):
                continue
            real = _real_file(base / name, root, prefix + name, follow_links, label)
            if real is not None:
                found.append((prefix + name, real))
    found.sort()
    return found


_REFUSED_TREES = (Path("/proc"), Path("/sys"))


def _real_target(path: Path, root: Path, rel: str, follow_links: bool, label: str) -> Path:
    """Where the link `path` leads; UsageError when outside `root` (unless allowed)."""
    target = Path(os.path.realpath(path))
    where = f"{label}: " if label else ""
    if any(target == tree or tree in target.parents for tree in _REFUSED_TREES):
        raise UsageError(f"{where}{rel} is a link to {target}, a file of the running "
                         "system (process environments, kernel state); it never goes into "
                         "a layer. Remove the link.")
    if not follow_links and root != target and root not in target.parents:
        raise UsageError(f"{where}{rel} is a link to {target}, outside {root}. A layer "
                         "takes links only within the folder; copy the file in, or pass "
                         "--follow-links to store the bytes of files outside it.")
    return target


def _real_file(path: Path, root: Path, rel: str, follow_links: bool, label: str
               ) -> Path | None:
    """The regular file to read for `path`, None for a dangling link; UsageError for a
    link that may not be followed or something that is not a regular file."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None  # gone since the walk listed it
    real = path
    if stat.S_ISLNK(mode):
        real = _real_target(path, root, rel, follow_links, label)
        try:
            mode = real.stat().st_mode
        except OSError:
            return None  # a dangling link: nothing to store
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
        where = f"{label}: " if label else ""
        raise UsageError(f"{where}{rel} is {kind}; only regular files go into a layer. "
                         "Remove it, or list it in the folder's .gitignore.")
    return real


def refuse_system_path(path: Path, label: str) -> None:
    """UsageError when `path` (a --source or --include SRC) is or leads under /proc or /sys,
    or is not a regular file or folder."""
    target = Path(os.path.realpath(path))
    if any(target == tree or tree in target.parents for tree in _REFUSED_TREES):
        raise UsageError(f"{label}: {path} is {target}, a file of the running system "
                         "(process environments, kernel state); it never goes into a layer.")
    mode = target.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UsageError(f"{label}: {path} is not a regular file or folder (a FIFO, socket "
                         "or device); only regular files go into a layer.")


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file `path` (a real path from folder_files), refusing
    whatever replaced it since (a link, a FIFO) instead of following or blocking on it."""
    flags = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0))
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UsageError(f"{path} changed while the layer was built: it is no longer a "
                             "regular file.")
        return handle.read()


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
