"""`build --unpacked DIR`: the audited layer tree as a directory, for SAM and friends.

The tree is extracted from the zip just written (with the safe reader), so the
directory holds exactly what Lambda would unpack to /opt: same paths, same
normalised modes. The zip and its manifest are still written beside it, which
keeps `publish`, `diff` and the up-to-date check working. The tree is extracted
to a temporary sibling first; only a complete tree replaces what DIR held.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.audit.zipread import safe_extract
from lambdalayer.common.errors import UsageError


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
    if target.exists() and not target.is_dir():
        raise UsageError(f"--unpacked {target} exists and is not a directory.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        extracted = safe_extract(archive, staging)
        # Keep the directory itself (SAM created it, may hold its handle); swap its contents.
        target.mkdir(exist_ok=True)
        for old in list(target.iterdir()):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        for entry in sorted(staging.iterdir()):
            os.replace(entry, target / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Unpacked(name=name, directory=target, files=extracted.entries)
