"""The layer's tree, from its resolutions to its measured size: install, shrink, own code.

Takes `Layout` (the request's size options and your own code) and one `LayerPlan`;
fills the layer's root below its work directory. Refuses (before the audit and the
proof) a layer `--exclude` emptied (UsageError) and one over Lambda's unzipped limit
(AuditError).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.archive.record import rewrite_records
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import AuditError, UsageError
from lambdalayer.common.fileio import tree_stats
from lambdalayer.common.limits import UNZIPPED_LIMIT
from lambdalayer.common.progress import Progress
from lambdalayer.owncode.sources import (
    IncludedPath,
    SourceFolder,
    own_code_files,
    place_includes,
    place_sources,
)
from lambdalayer.pipeline.resolving import LayerPlan
from lambdalayer.reports.sizing import (
    SavingsEstimate,
    SizeReport,
    estimate_savings,
    measure,
    refusal_breakdown,
)
from lambdalayer.resolve.install import lay_out
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.shrink.apply import ShrinkOptions, ShrinkResult, shrink_layer
from lambdalayer.targets.target import Target

SiteDirs = dict[Path, list[InstalledDist]]  # site dir -> the distributions installed there
Walked = dict[str, os.stat_result]  # common/fileio.tree_stats of the layer's final tree


@dataclass(frozen=True, kw_only=True)
class Layout:
    """What the install, shrink and own-code steps take from the request."""

    shrink: ShrinkOptions  # --exclude, --slim, --strip
    sources: tuple[SourceFolder, ...]  # --source
    includes: tuple[IncludedPath, ...]  # --include
    inputs: RequirementInputs  # a size refusal's savings estimate reads the requirements


def install(plan: LayerPlan, root: Path) -> tuple[SiteDirs, dict[Path, Target]]:
    """Each resolved tree moved into the layer below `root` (python/ when shared, else
    its target's site-packages); gives each site dir's distributions and target."""
    site_dirs: SiteDirs = {}
    site_targets: dict[Path, Target] = {}
    for resolution in plan.resolutions:
        prefix = "python" if plan.shared else resolution.target.site_packages
        site = lay_out(resolution.tree, root, prefix)
        site_dirs[site] = list(resolution.dists)
        site_targets[site] = resolution.target
    return site_dirs, site_targets


def shrink(layout: Layout, name: str, root: Path, site_dirs: SiteDirs,
           site_targets: dict[Path, Target], progress: Progress | None) -> ShrinkResult:
    """--exclude, --slim, --strip applied (shrink/apply.py); UsageError when nothing of
    the layer `name` is left."""
    shrunk = shrink_layer(layout.shrink, root, site_dirs, site_targets, progress=progress)
    _refuse_if_emptied(layout, name, shrunk.site_dirs)
    return shrunk


def _refuse_if_emptied(layout: Layout, name: str, site_dirs: SiteDirs) -> None:
    """A layer --exclude left without a package (and no files of your own) would be
    an empty zip: refused, naming the cause, before the audit and the proof."""
    excludes = layout.shrink.excludes
    if not excludes or layout.sources or layout.includes:
        return
    if any(site_dirs.values()):
        return
    excluded = " ".join(f"--exclude {spec}" for spec in excludes)
    raise UsageError(
        f"Nothing is left in layer {name}: {excluded} leaves out every package it "
        "would hold (':runtime:' is what Lambda's Python runtime already ships), so "
        "the zip would be empty.",
        hint="Ask for a package the runtime does not ship, or drop --exclude; a layer "
             "of only boto3 is meant to replace the runtime's copy, so keep it in.")


def add_own_code(layout: Layout, root: Path, site_dirs: SiteDirs) -> Walked:
    """Your --source and --include files placed (after the size options: those are
    about installed packages), and every RECORD naming only what ships (no host-made
    bin/ scripts). Gives the final tree's one walk (common/fileio.tree_stats), which
    the size and the stamps read too."""
    place_sources(layout.sources, site_dirs)
    place_includes(layout.includes, root)
    walked = tree_stats(root)
    for site in site_dirs:
        rewrite_records(site, walked, os.path.join(os.path.relpath(site, root), ""))
    return walked


def measure_layer(layout: Layout, name: str, root: Path, site_dirs: SiteDirs,
                  site_targets: dict[Path, Target],
                  reductions: tuple[tuple[str, int], ...], walked: Walked) -> SizeReport:
    """The layer's unzipped sizes, per package and for your own code; AuditError when
    it is over Lambda's unzipped limit, with what the size options would save.
    `walked`: add_own_code's."""
    sizes = measure(root, site_dirs, reductions=reductions, walked=walked,
                    own=own_code_files(layout.sources, layout.includes, root, site_dirs))
    if sizes.total > UNZIPPED_LIMIT:
        raise _size_error(name, sizes, estimate_savings(
            root, site_dirs, site_targets, layout.inputs.all_requirements,
            slim_patterns=layout.shrink.slim_patterns))
    return sizes


def _size_error(name: str, sizes: SizeReport, savings: SavingsEstimate) -> AuditError:
    return AuditError(
        f"{name} is {sizes.total / 1e6:.1f} MB unzipped, over Lambda's 262,144,000-byte "
        f"(250 MiB) limit for a function and its layers; no zip was written.\n"
        f"{refusal_breakdown(sizes, savings)}",
        hint="The limit counts the function and all its layers together: splitting the layer "
             "helps only functions that need just one part.",
    )
