"""`--slim`: find and remove what no import needs in an installed tree.

Removed: `tests/` and `test/` directories, C/C++ sources and headers,
Cython sources (`.pyx`, `.pxd`, `.pxi`), type stubs (`.pyi`), and `docs/`,
`doc/`, `examples/`, `example/` directories that hold no Python module — an
importable package that happens to be called `docs` (botocore.docs, which
botocore imports to build its clients) stays. Recipes and config may add
glob patterns. Never touched: `*.dist-info` (publish, audit and the manifest
read it) and every other file, so data files a package loads at import stay.

Files are only ever unlinked, never rewritten: uv hard-links files from its
cache into the tree, and unlinking one leaves the cache's copy alone.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

TEST_DIRS = frozenset({"tests", "test"})
DOC_DIRS = frozenset({"docs", "doc", "examples", "example"})
SOURCE_SUFFIXES = frozenset({
    ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx",  # C/C++ sources and headers
    ".pyx", ".pxd", ".pxi",  # Cython: needed to compile, never to import
    ".pyi",  # type stubs: read by type checkers only
})
# A directory holding any of these is importable code, whatever its name.
_CODE_SUFFIXES = (".py", ".so", ".pyd")
_PROTECTED_SUFFIXES = (".dist-info", ".egg-info")

REASON_TESTS = "test directories"
REASON_SOURCES = "C/C++/Cython sources, headers and stubs"
REASON_DOCS = "docs and examples"
REASON_PATTERNS = "extra slim patterns"


@dataclass(frozen=True, kw_only=True)
class SlimPlan:
    """What `--slim` removes from one tree: paths (files or whole directories) and bytes."""

    root: Path
    paths: tuple[Path, ...]
    size: int
    files: int
    by_reason: dict[str, int] = field(default_factory=dict)  # reason -> bytes


def _tree_size(directory: Path) -> tuple[int, int, bool]:
    """(bytes, files, holds code) below `directory`, not following symlinks."""
    size = files = 0
    code = False
    for dirpath, _dirs, filenames in os.walk(directory):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                size += path.stat().st_size
            files += 1
            code = code or name.endswith(_CODE_SUFFIXES)
    return size, files, code


def plan_slim(root: Path, extra_patterns: tuple[str, ...] = ()) -> SlimPlan:
    """What `--slim` would remove below `root` (a site-packages dir or a whole layer).

    `extra_patterns` are shell globs matched against each file's and each
    directory's path relative to `root` (`pyarrow/include/*`, `*/benchmarks`);
    nothing inside a `*.dist-info` directory ever matches. Removes nothing.
    """
    paths: list[Path] = []
    by_reason: dict[str, int] = {}
    total = count = 0

    def take(path: Path, size: int, files: int, reason: str) -> None:
        nonlocal total, count
        paths.append(path)
        by_reason[reason] = by_reason.get(reason, 0) + size
        total += size
        count += files

    def matches(relative: PurePosixPath) -> bool:
        text = relative.as_posix()
        return any(fnmatchcase(text, pattern) for pattern in extra_patterns)

    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames.sort()
        kept = []
        for name in dirnames:
            path = here / name
            if name.endswith(_PROTECTED_SUFFIXES) or path.is_symlink():
                continue  # never descend into metadata; never follow links out of the tree
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if name in TEST_DIRS:
                size, files, _ = _tree_size(path)
                take(path, size, files, REASON_TESTS)
            elif name in DOC_DIRS and not (info := _tree_size(path))[2]:
                take(path, info[0], info[1], REASON_DOCS)
            elif extra_patterns and matches(relative):
                size, files, _ = _tree_size(path)
                take(path, size, files, REASON_PATTERNS)
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink():
                continue
            if path.suffix in SOURCE_SUFFIXES:
                take(path, path.stat().st_size, 1, REASON_SOURCES)
            elif extra_patterns and matches(PurePosixPath(path.relative_to(root).as_posix())):
                take(path, path.stat().st_size, 1, REASON_PATTERNS)
    return SlimPlan(root=root, paths=tuple(paths), size=total, files=count, by_reason=by_reason)


def apply_slim(plan: SlimPlan) -> None:
    """Remove what `plan` lists (unlinking only: hard-linked cache files stay intact)."""
    for path in plan.paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def slim_tree(root: Path, extra_patterns: tuple[str, ...] = ()) -> SlimPlan:
    """Plan and apply `--slim` below `root`; returns what was removed."""
    plan = plan_slim(root, extra_patterns)
    apply_slim(plan)
    return plan
