"""Small file helpers shared by every writer: atomic replace and content hashes."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename."""
    import tempfile  # not needed by the read-only up-to-date path

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(name, 0o644)
        replace_retrying(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
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
    from lambdalayer.errors import UsageError

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
