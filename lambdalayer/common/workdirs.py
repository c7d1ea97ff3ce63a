"""Work directories that name their owner, and the sweep of ones a killed run left.

A build works in `$TMPDIR/lambdalayer-<pid>-XXXX`. A run ended by SIGKILL (or
a machine that lost power) cannot remove it, and a large layer's tree is
~200 MB. `sweep()` removes such directories when all of these hold: the name
carries a pid, no process with that pid runs, the directory belongs to the
current user, and it has not changed for an hour. A live or foreign run's
directory is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common import interrupt
from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import tree_size

PREFIX = "lambdalayer-"
STALE_AFTER = 3600.0
_OWNED = re.compile(r"^lambdalayer-(\d+)-")


@dataclass(frozen=True, kw_only=True)
class Swept:
    """What `sweep` removed: how many directories and their bytes."""

    directories: int
    freed: int


def temp_root() -> Path:
    """The temp directory. Python finds it, the first time, by creating and removing a
    probe file there: a signal in between would leave that file, so that is one step."""
    with interrupt.deferred():
        return Path(tempfile.gettempdir())


# What uv (Rust's io::Error) and the OS say when a disk or quota is full.
_FULL_TEXT = ("No space left on device", "os error 28", "Disk quota exceeded", "os error 122")
_FULL_ERRNOS = {getattr(errno, n) for n in ("ENOSPC", "EDQUOT") if hasattr(errno, n)}


def says_disk_full(text: str) -> bool:
    """Whether a tool's output (uv's stderr) says a disk or quota is full."""
    return any(mark in text for mark in _FULL_TEXT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` is an OSError for a full disk or quota (ENOSPC, EDQUOT)."""
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


def disk_full_error(where: str | None = None) -> UsageError:
    """The one paragraph for a full disk: TMPDIR's (where builds work), unless `where`
    (the path the failure names, or a tool's output naming it) lies elsewhere."""
    root = str(temp_root())
    if where is not None and root not in where:
        return UsageError(f"A disk lambdalayer or uv writes to is full ({where.strip()[-300:]}).",
                          hint="Free space there (uv's cache: `uv cache clean`), or point "
                               "TMPDIR or UV_CACHE_DIR at another disk.")
    return UsageError(f"The disk holding TMPDIR ({root}) is full: free space or set TMPDIR "
                      "to another disk.",
                      hint="lambdalayer unpacks wheels and layers there: a build needs "
                           "several times its zip's size.")


def make_workdir(kind: str = "") -> Path:
    """A new private directory `lambdalayer-<pid>-[KIND-]XXXX` in the temp directory."""
    label = f"{kind}-" if kind else ""
    # A signal landing between a `finally`'s lines could skip the removal: the exit's own
    # last step removes them all.
    interrupt.at_final_cleanup(remove_own)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-{label}"))


@contextlib.contextmanager
def workdir(kind: str = "") -> Iterator[Path]:
    """`make_workdir(kind)`, removed when the block ends (and by the last cleanup of a
    signalled process, whose `finally` blocks may not all run)."""
    directory = make_workdir(kind)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def remove_own(directory: Path | None = None) -> int:
    """Remove this process's work directories (`lambdalayer-<our pid>-*`) from `directory`
    (the temp dir): a process ending on a signal calls it last. Returns how many; never
    raises."""
    root = Path(directory or temp_root())
    mine = f"{PREFIX}{os.getpid()}-"
    try:
        # Only real directories of ours: in a shared /tmp another user may have made one
        # with this name, or a symlink to elsewhere.
        entries = [entry for entry in os.scandir(root) if entry.name.startswith(mine)
                   and entry.is_dir(follow_symlinks=False)
                   and entry.stat(follow_symlinks=False).st_uid == os.getuid()]
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += not os.path.lexists(entry.path)
    return removed


def pid_alive(pid: int) -> bool:
    """True unless no process has this pid (another user's process counts as alive)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: it exists, it is someone else's
    return True




def sweep(directory: Path | None = None, *, now: float | None = None,
          stale_after: float = STALE_AFTER) -> Swept:
    """Remove leftover work directories of ended runs from `directory` (the temp dir).

    Never raises: a directory that cannot be read or removed is left alone.
    """
    if os.name == "nt":  # os.kill(pid, 0) is not an existence check there
        return Swept(directories=0, freed=0)
    root = Path(directory or temp_root())
    now = time.time() if now is None else now
    removed = freed = 0
    for entry in _left_by_ended_runs(root, _OWNED, stat.S_ISDIR, now, stale_after):
        path = Path(entry.path)
        size = tree_size(path)
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed += 1
            freed += size
    return Swept(directories=removed, freed=freed)


# `build` writes NAME.zip through `.NAME.zip.<pid>.partial` (and write_zip's own
# `..NAME.zip.<pid>.partial.<random>.tmp`); the manifest likewise.
_PARTIAL = re.compile(r"^\..*\.(\d+)\.partial(?:\..*)?$")
PARTIAL_STALE_AFTER = 60.0


def sweep_partials(directory: Path, *, now: float | None = None,
                   stale_after: float = PARTIAL_STALE_AFTER) -> int:
    """Remove the half-written zips and manifests a killed build left in `directory` (dist/):
    only files whose name carries the pid of a process that no longer runs, that belong to
    this user and that have not changed for a minute (a build on another machine sharing the
    folder would still be writing). Returns how many; never raises."""
    if os.name == "nt":
        return 0
    now = time.time() if now is None else now
    removed = 0
    for entry in _left_by_ended_runs(directory, _PARTIAL, stat.S_ISREG, now, stale_after):
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def _left_by_ended_runs(root: Path, pattern: re.Pattern[str], is_kind: Callable[[int], bool],
                        now: float, stale_after: float) -> Iterator[os.DirEntry[str]]:
    """Entries of `root` whose name (`pattern`, the pid its first group) says a run left
    them, of the right kind, owned by this user, unchanged for `stale_after` seconds, and
    whose run no longer exists. Never raises."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        pid = int(match.group(1))
        if (is_kind(info.st_mode) and info.st_uid == os.getuid()
                and now - info.st_mtime >= stale_after and pid != os.getpid()
                and not pid_alive(pid)):
            yield entry


def swept_notice(directory: Path | None = None) -> str | None:
    """Sweep, and the line that tells the user what was freed (None when nothing was)."""
    swept = sweep(directory)
    if not swept.directories:
        return None
    where = directory or temp_root()
    plural = "y" if swept.directories == 1 else "ies"
    return (f"Removed {swept.directories} work director{plural} left in {where} by "
            f"lambdalayer runs that were killed ({swept.freed / 1e6:.1f} MB freed).")
