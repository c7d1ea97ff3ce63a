"""Apply the size options to a laid-out layer: `--exclude`, then `--slim`, then `--strip`.

In that order so that nothing is stripped only to be deleted. The audit and the
size check run after this (pipeline/layout.py), on what is actually shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.progress import Progress
from lambdalayer.targets.target import Target


@dataclass(frozen=True, kw_only=True)
class ShrinkOptions:
    """The size options of a build: `--exclude` values as given (`:runtime:` included),
    `--slim` with its extra globs, `--strip`; `requirements` are what the user asked for
    (an excluded package they named is reported, not silently dropped)."""

    excludes: tuple[str, ...] = ()
    slim: bool = False
    slim_patterns: tuple[str, ...] = ()
    strip: bool = False
    requirements: tuple[Requirement, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ShrinkResult:
    site_dirs: dict[Path, list[InstalledDist]]  # what remains installed, per site dir
    reductions: tuple[tuple[str, int], ...]  # (what was done, bytes saved), for the report
    warnings: tuple[str, ...]


def shrink_layer(request: ShrinkOptions, root: Path,
                 site_dirs: dict[Path, list[InstalledDist]], site_targets: dict[Path, Target],
                 *, progress: Progress | None = None) -> ShrinkResult:
    """Exclude, slim and strip below `root` as `request` asks; a no-op without those options.

    `site_targets` names the target each site dir was resolved for: dependency
    markers are evaluated for it. Warnings cover excluded packages that are not
    installed or that a remaining package still needs, and ELF files no strip tool
    here understands.
    """
    from lambdalayer.shrink.exclude import (
        RUNTIME_PROVIDED,
        RUNTIME_SHORTCUT,
        expand_excludes,
        plan_exclusion,
        remove_dists,
    )

    remaining = dict(site_dirs)
    reductions: list[tuple[str, int]] = []
    warnings: list[str] = []
    if request.excludes:
        excludes = expand_excludes(request.excludes)
        named = {e for e in request.excludes if e.strip().lower() != RUNTIME_SHORTCUT}
        named_canonical = expand_excludes(named)
        removed_names: set[str] = set()
        freed = 0
        absent = set(named_canonical)
        for site, dists in site_dirs.items():
            plan = plan_exclusion(dists, excludes, request.requirements,
                                  site_targets[site])
            absent &= set(plan.absent)
            freed += remove_dists(site, dists, plan.removed)
            remaining[site] = [d for d in dists if d.name not in plan.removed]
            removed_names |= {d.display_name for d in dists if d.name in plan.removed}
            for name, user in plan.still_needed:
                if name not in RUNTIME_PROVIDED:
                    warnings.append(
                        f"--exclude {name}: {user} needs it, so the layer now relies on "
                        f"the function or another layer to provide {name}."
                    )
        for name in sorted(absent):
            warnings.append(f"--exclude {name}: no such package in the layer; nothing removed.")
        if removed_names:
            reductions.append((f"excluded {', '.join(sorted(removed_names))}", freed))
    if request.slim:
        from lambdalayer.shrink.slim import slim_tree

        if progress:
            progress("slimming")
        slimmed = slim_tree(root, request.slim_patterns)
        reductions.append((f"--slim removed {slimmed.files} file(s)", slimmed.size))
    if request.strip:
        from lambdalayer.shrink.strip import strip_tree

        if progress:
            progress("stripping shared objects")
        stripped = strip_tree(root)
        warnings.extend(stripped.warnings)
        if stripped.stripped:
            reductions.append((f"--strip ({', '.join(stripped.tools)}) on "
                               f"{stripped.stripped} ELF file(s)", stripped.saved))
    return ShrinkResult(site_dirs=remaining, reductions=tuple(reductions),
                        warnings=tuple(dict.fromkeys(warnings)))

