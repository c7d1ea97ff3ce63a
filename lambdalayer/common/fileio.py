"""Small file helpers shared by every writer: atomic replace and content hashes."""

from __future__ import annotations

import base64
import errno
import hashlib
import os
from pathlib import Path

from lambdalayer.common.errors import UsageError

# Write failures that are the machine's state, not a bug: reported as exit 2.
_FULL = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG") if hasattr(errno, name)}
_DENIED = {getattr(errno, name) for name in ("EACCES", "EPERM", "EROFS") if hasattr(errno, name)}


def is_write_fault(exc: BaseException) -> bool:
    """True for a full disk, a quota or a permission problem (see cannot_write)."""
    return isinstance(exc, OSError) and exc.errno in _FULL | _DENIED


def cannot_write(path: Path, exc: OSError) -> UsageError:
    """The one-paragraph error for a write that failed with a full disk or no permission.

    The caller has already removed its temporary file; the previous `path` is intact.
    """
    reason = exc.strerror or str(exc)
    where = path.parent
    if exc.errno in _FULL:
        hint = (f"The filesystem holding {where} is full. Free space there (`lambdalayer "
                "cache clean` frees the build cache; old zips in the output directory can "
                "go), or write elsewhere with --out. The previous file, if any, is intact.")
    else:
        hint = (f"This user may not write in {where}. Fix its permissions or write "
                "elsewhere with --out. The previous file, if any, is intact.")
    return UsageError(f"Could not write {path}: {reason}.", hint=hint)


def write_atomic(path: Path, data: bytes, *, shown_as: Path | None = None) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename.

    A full disk or missing permission is a UsageError naming `shown_as` (default
    `path`); the temporary file is removed and the previous `path` is intact.
    """
    import tempfile  # not needed by the read-only up-to-date path

    from lambdalayer.common import interrupt

    name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created and named as one step: a signal in between would leave the file unnamed,
        # so nothing below could remove it.
        with interrupt.deferred():
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(name, 0o644)
        replace_retrying(name, path)
    except BaseException as exc:
        if name is not None:
            Path(name).unlink(missing_ok=True)
        if is_write_fault(exc):
            assert isinstance(exc, OSError)
            raise cannot_write(shown_as or path, exc) from exc
        raise


def replace_retrying(source: str | Path, destination: str | Path, *,
                     attempts: int = 10, delay: float = 0.05) -> None:
    """os.replace, retried for about half a second on PermissionError: on Windows a virus
    scanner or indexer briefly holding the destination open fails the rename (a sharing
    violation) though a moment later it succeeds. The last error propagates."""
    import time

    for attempt in range(attempts):
        try:
            os.replace(source, destination)
            return
        except PermissionError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * (attempt + 1) / 2)


def walk_error(error: OSError) -> None:
    """`os.walk(onerror=walk_error)`: an unreadable directory (or, on Windows, a path past
    260 characters) stops the build loudly instead of vanishing from the zip and the audit."""
    raise unreadable(error)


def unreadable(error: OSError) -> Exception:
    """The user-facing error for a file or directory that cannot be read."""
    from lambdalayer.common.errors import UsageError

    return UsageError(
        f"Cannot read {error.filename}: {error.strerror or error}. Nothing below it would be "
        "in the layer, so nothing was written.",
        hint="On Windows, paths longer than 260 characters need long paths enabled "
             "(LongPathsEnabled) or a shorter working directory; elsewhere check permissions.")


def file_digests(path: Path) -> tuple[str, str]:
    """(hex sha256, Lambda's CodeSha256) of a file. CodeSha256 is base64 of the raw digest."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), base64.b64encode(digest.digest()).decode("ascii")


def tree_size(path: os.PathLike[str] | str) -> int:
    """Bytes of every file below `path` (links not followed; vanished files skipped)."""
    total = 0
    for dirpath, _dirs, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


# What stands for a file's content without reading it: a write changes the size or the
# mtime, and always the ctime, which no unprivileged process can set back. But a file
# hard-linked from uv's cache (nlink > 1) gets a new ctime whenever another build links
# the same cache entry: for those, size, mtime and inode only.
FileStamp = tuple[int, int, int, int]


def tree_stats(root: Path, *, strict: bool = True) -> dict[str, os.stat_result]:
    """The lstat of every file and link under `root` (a link to a folder too, never
    followed), by its path relative to `root`: one walk that the RECORD rewrite, the
    size and the stamps share (pipeline/layout.py). An unreadable folder is a UsageError,
    as with walk_error; not `strict`, it is passed over."""
    stats: dict[str, os.stat_result] = {}
    top = os.fspath(root)
    cut = len(os.path.join(top, ""))
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            if strict:
                raise unreadable(error) from None
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
                continue
            try:
                stats[entry.path[cut:]] = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile, as tree_stamps skips it
    return stats


def stamps_of(stats: dict[str, os.stat_result]) -> dict[str, FileStamp]:
    """tree_stamps from what tree_stats found, without another walk."""
    return {path: (info.st_size, info.st_mtime_ns,
                   info.st_ctime_ns if info.st_nlink == 1 else 0, info.st_ino)
            for path, info in stats.items()}


def tree_stamps(root: Path) -> dict[str, FileStamp]:
    """(size, mtime_ns, ctime_ns, inode) of every file and link under `root`, by path;
    an unreadable folder's files are missing."""
    return stamps_of(tree_stats(root, strict=False))


def changed_files(root: Path, before: dict[str, FileStamp]) -> list[str]:
    """The paths under `root` added, removed or written since `before` (tree_stamps), sorted."""
    now = tree_stamps(root)
    return sorted(path for path in before.keys() | now.keys()
                  if before.get(path) != now.get(path))
