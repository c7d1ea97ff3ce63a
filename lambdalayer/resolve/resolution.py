"""`Resolution`: what uv installed for one target, the result the resolver, the
newest-release policy (newest.py) and the pipeline pass along."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.targets.target import Target


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """What uv installed for one target, in `tree` (a flat site-packages-like directory)."""

    target: Target
    tree: Path
    dists: tuple[InstalledDist, ...]
    built_from_sdist: tuple[str, ...]
    notes: tuple[str, ...] = ()  # for the build's warnings (stale WHEEL tags, older releases)
