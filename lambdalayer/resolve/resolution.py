"""`Resolution`: what uv installed for one target, the result the resolver, the
newest-release policy (newest.py) and the pipeline pass along."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """What uv installed for one target, in `tree` (a flat site-packages-like directory)."""

    target: Target
    tree: Path
    dists: tuple[InstalledDist, ...]
    built_from_sdist: tuple[str, ...]
    notes: tuple[str, ...] = ()  # for the build's warnings (stale WHEEL tags, older releases)


def shareable(resolution: Resolution, requirements: Sequence[Requirement],
              targets: Sequence[Target]) -> bool:
    """True when `resolution`'s tree, as one pure-Python tree, is exactly right for every
    one of `targets`.

    That needs every wheel to be pure, every Requires-Python to admit every target, and
    every environment marker involved (of `requirements`, what was asked, and of each
    wheel's own dependencies, with its extras) to evaluate the same on all.
    """
    dists = resolution.dists
    if not all(dist.is_pure for dist in dists):
        return False
    if any(dist.requires_python is not None and not all(
            dist.requires_python.contains(f"{t.runtime.python_version}.99") for t in targets)
           for dist in dists):
        return False
    return _markers_agree([(requirements, ()), *((d.requires, d.extras) for d in dists)],
                          targets)


def _markers_agree(asked: Sequence[tuple[Sequence[Requirement], Sequence[str]]],
                   targets: Sequence[Target]) -> bool:
    """Every marker of each (requirements, extras) in `asked` evaluates the same on all
    `targets`, with no extra and with each of those extras."""
    for requirements, extras in asked:
        for req in requirements:
            if req.marker is None:
                continue
            for extra in ("", *extras):
                if len({t.evaluate(req.marker, extra) for t in targets}) > 1:
                    return False
    return True
