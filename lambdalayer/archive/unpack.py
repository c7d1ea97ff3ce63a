"""`build --unpacked DIR`: the audited layer tree as a directory, for SAM and friends.

The tree is extracted from the zip just written (with the safe reader), so the
directory holds exactly what Lambda would unpack to /opt: same paths, same
normalised modes. The zip and its manifest are still written beside it, which
keeps `publish`, `diff` and the up-to-date check working. The tree is extracted
to a temporary sibling first; only a complete tree replaces what DIR held, and
only what an earlier run recorded writing there (a record beside DIR) is ever
removed: docs/safety.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common import interrupt
from lambdalayer.common.errors import UsageError
from lambdalayer.common.safepaths import (
    check_path_shape,
    check_replaceable,
    resolved,
    write_record,
)
from lambdalayer.common.zipread import safe_extract


@dataclass(frozen=True, kw_only=True)
class Unpacked:
    name: str
    directory: Path
    files: int


def unpack_layers(zips: list[tuple[str, Path]], directory: Path) -> list[Unpacked]:
    """Write each (name, zip)'s tree to `directory` (one artifact) or to
    `directory/NAME` (several, e.g. one zip per architecture). What was in the target
    directory before is replaced, since SAM reuses its ARTIFACTS_DIR."""
    if not zips:
        return []
    single = len(zips) == 1
    return [_unpack(archive, directory if single else directory / name, name)
            for name, archive in zips]


def _unpack(archive: Path, target: Path, name: str) -> Unpacked:
    """Extract beside `target`, then swap in: only entries an earlier run recorded writing
    are removed (safepaths.check_replaceable refuses a folder holding anything else)."""
    check_path_shape(target, option="--unpacked", want_dir=True)
    target = resolved(target)  # `.` has no name to stage beside; a link, its real folder
    old = check_replaceable(target)
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with interrupt.deferred():  # created and named as one step
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        extracted = safe_extract(archive, staging)
        new = {entry.name for entry in staging.iterdir()}
        # Recorded first, so a run cut short here still knows every entry as ours.
        write_record(target, old | new)
        # Keep the directory itself (SAM created it, may hold its handle); swap its contents.
        target.mkdir(exist_ok=True)
        for old_name in sorted(old):
            path = target / old_name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for entry in sorted(staging.iterdir()):
            os.replace(entry, target / entry.name)
        write_record(target, new)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    finally:
        if staging is not None:
            with interrupt.deferred():  # a signal now would cut the cleanup in half
                shutil.rmtree(staging, ignore_errors=True)
    return Unpacked(name=name, directory=target, files=extracted.entries)


def _cannot_write(target: Path, exc: OSError) -> UsageError:
    from lambdalayer.common.fileio import cannot_write, is_write_fault

    if is_write_fault(exc):
        return cannot_write(target, exc)
    return UsageError(f"Could not write the layer tree to {target}: "
                      f"{exc.strerror or exc}.")
