"""Where a layer's bytes go, and what each size option would save: the one place
`build`, `diff` and `report` measure a layer tree.

`measure` attributes every file to its package through RECORD;
`measure_layer` does it for a layer on disk (its import roots found, their
distributions read); `with_compressed` adds each package's share of the zip once
it is written;
`estimate_savings` evaluates `--slim`, `--strip` and `--exclude :runtime:` on
the actual tree (without changing it) so a refusal can say what would help,
in bytes rather than adjectives.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement

from lambdalayer.common.distinfo import InstalledDist, read_installed, run_budget
from lambdalayer.common.fileio import walk_error
from lambdalayer.common.limits import UNZIPPED_LIMIT
from lambdalayer.common.units import megabytes
from lambdalayer.targets.target import Target

# Lambda's limits (function + layers unzipped, direct upload) are common/limits.py
# (docs/lambda-facts.md).


@dataclass(frozen=True, kw_only=True)
class PackageSize:
    name: str
    version: str
    size: int
    files: int
    compressed: int | None = None  # bytes in the zip; None before it is written


@dataclass(frozen=True, kw_only=True)
class SizeReport:
    total: int
    packages: tuple[PackageSize, ...]  # largest first; "(other)" holds unowned files
    largest_files: tuple[tuple[str, int], ...]
    compressed_total: int | None = None  # the zip's size, once written
    reductions: tuple[tuple[str, int], ...] = ()  # (size option applied, bytes it saved)
    # archive path -> (name, version) of the package owning it
    owners: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)


def measure(layer_root: Path, site_dirs: dict[Path, list[InstalledDist]],
            top: int = 5, *, reductions: tuple[tuple[str, int], ...] = (),
            own: Mapping[str, str] | None = None,
            walked: Mapping[str, os.stat_result] | None = None) -> SizeReport:
    """Sizes of everything below `layer_root`, attributed to packages through RECORD.

    `own` (archive path -> "your code (--source src)") names the files your own code
    placed, so they are not "(other)". `reductions` (what the size options removed
    before) is carried into the report. The largest files are distinct: the same
    library in each runtime's site-packages is listed once. `walked`: the tree as
    common/fileio.tree_stats found it, instead of another walk.
    """
    sizes = _file_sizes(layer_root) if walked is None else _walked_sizes(layer_root, walked)
    owned: dict[tuple[str, str], tuple[int, int]] = {}
    claimed: dict[str, tuple[str, str]] = {}
    for site_dir, dists in site_dirs.items():
        prefix = PurePosixPath(site_dir.relative_to(layer_root).as_posix())
        for dist in dists:
            total, count = owned.get((dist.display_name, dist.version), (0, 0))
            for record_path in dist.files:
                key = str(prefix / record_path)
                if key in sizes and key not in claimed:
                    claimed[key] = (dist.display_name, dist.version)
                    total += sizes[key]
                    count += 1
            owned[(dist.display_name, dist.version)] = (total, count)
    for key, label in (own or {}).items():
        if key in sizes and key not in claimed:
            claimed[key] = (label, "")
            total, count = owned.get((label, ""), (0, 0))
            owned[(label, "")] = (total + sizes[key], count + 1)
    packages = [PackageSize(name=n, version=v, size=s, files=c) for (n, v), (s, c) in owned.items()]
    other = [path for path in sizes if path not in claimed]
    if other:
        packages.append(PackageSize(name="(other)", version="", files=len(other),
                                    size=sum(sizes[p] for p in other)))
    packages.sort(key=lambda p: (-p.size, p.name))
    largest: list[tuple[str, int]] = []
    seen: set[str] = set()
    for name, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        if len(largest) == top:
            break
        if short_path(name) not in seen:  # one library, several runtimes' site-packages
            seen.add(short_path(name))
            largest.append((name, size))
    return SizeReport(total=sum(sizes.values()), packages=tuple(packages),
                      largest_files=tuple(largest), owners=claimed, reductions=reductions)


def with_compressed(report: SizeReport, members: Iterable[tuple[str, int, int]],
                    zip_size: int) -> SizeReport:
    """`report` with each package's compressed bytes, from the zip writer's
    (archive name, compressed, unzipped) list (archive.ZipStats.members)."""
    per_package: dict[tuple[str, str], int] = {}
    for name, compressed, _raw in members:
        owner = report.owners.get(name, ("(other)", ""))
        per_package[owner] = per_package.get(owner, 0) + compressed
    packages = tuple(replace(p, compressed=per_package.get((p.name, p.version), 0))
                     for p in report.packages)
    return replace(report, packages=packages, compressed_total=zip_size)


_SITE_GLOB = "python/lib/python*/site-packages"


@dataclass(frozen=True, kw_only=True)
class LayerSizes:
    root: Path  # the layer root (holding python/)
    sizes: SizeReport
    site_dirs: dict[Path, list[InstalledDist]]


def layer_root(path: Path) -> Path:
    """`path`, or its parent when the user passed the layer's python/ directory."""
    if path.name == "python" and not (path / "python").is_dir():
        return path.parent
    return path


def _file_sizes(root: Path) -> dict[str, int]:
    """Each file's size (a link's, its target's) by archive path; not links to folders."""
    sizes: dict[str, int] = {}
    for dirpath, _dirs, filenames in os.walk(root, onerror=walk_error):
        for filename in filenames:
            path = Path(dirpath, filename)
            sizes[path.relative_to(root).as_posix()] = path.stat().st_size
    return sizes


def _walked_sizes(root: Path, walked: Mapping[str, os.stat_result]) -> dict[str, int]:
    """_file_sizes from tree_stats' lstat of each entry: a link asked anew (followed)."""
    sizes: dict[str, int] = {}
    for name, info in walked.items():
        size = info.st_size
        if stat.S_ISLNK(info.st_mode):
            target = os.stat(os.path.join(root, name))
            if stat.S_ISDIR(target.st_mode):
                continue  # os.walk counts it a folder, and does not enter it
            size = target.st_size
        sizes[name.replace(os.sep, "/")] = size
    return sizes


def measure_layer(path: Path, top: int = 5) -> LayerSizes:
    """Measure the layer at `path` (its root or its python/ directory): the import roots
    (python/ and python/lib/pythonX.Y/site-packages) found, their distributions read and
    handed to `measure`, the same attribution `build` prints."""
    root = layer_root(path)
    budget = run_budget()  # one for all RECORDs of the layer
    site_dirs = {site: read_installed(site, budget)
                 for site in [root / "python", *sorted(root.glob(_SITE_GLOB))]
                 if site.is_dir()}
    return LayerSizes(root=root, sizes=measure(root, site_dirs, top), site_dirs=site_dirs)


@dataclass(frozen=True, kw_only=True)
class Saving:
    """What one size option would remove from this tree."""

    option: str  # as typed: "--slim", "--strip", "--exclude :runtime:"
    saves: int
    detail: str


@dataclass(frozen=True, kw_only=True)
class SavingsEstimate:
    options: tuple[Saving, ...]  # only options that would save something, largest first
    combined: int  # bytes all of them together would save (overlaps counted once)


def _files_below(root: Path, paths: Iterable[Path]) -> dict[str, int]:
    found: dict[str, int] = {}
    for path in paths:
        below = [path] if not path.is_dir() else [
            Path(d, f) for d, _dirs, files in os.walk(path) for f in files]
        for file in below:
            if not file.is_symlink():
                found[file.relative_to(root).as_posix()] = file.stat().st_size
    return found


def estimate_savings(
    layer_root: Path,
    site_dirs: dict[Path, list[InstalledDist]],
    site_targets: dict[Path, Target],
    requirements: Iterable[Requirement],
    *,
    slim_patterns: tuple[str, ...] = (),
) -> SavingsEstimate:
    """Evaluate `--slim`, `--strip` and `--exclude :runtime:` on `layer_root` as it is now.

    Nothing is changed. Slim and exclude savings are the sizes of the very files
    they would delete; strip savings are the symbol and debug sections in each
    ELF file's section table (no strip tool needed). An option already applied
    saves nothing more and is left out.
    """
    from lambdalayer.shrink.exclude import (
        RUNTIME_PROVIDED,
        RUNTIME_SHORTCUT,
        owned_files,
        plan_exclusion,
    )
    from lambdalayer.shrink.slim import plan_slim
    from lambdalayer.shrink.strip import elf_files, strippable_bytes

    requirements = list(requirements)
    slim = plan_slim(layer_root, slim_patterns)
    slim_files = _files_below(layer_root, slim.paths)
    excluded_files: dict[str, int] = {}
    provided: set[str] = set()  # runtime-provided packages in the layer
    only_theirs: set[str] = set()  # dependencies only those needed
    for site, dists in site_dirs.items():
        plan = plan_exclusion(dists, RUNTIME_PROVIDED, requirements, site_targets[site])
        for dist in dists:
            if dist.name in plan.removed:
                (provided if dist.name in plan.explicit else only_theirs).add(dist.display_name)
                files = owned_files(site, dist) + [
                    p for p in (site / dist.dist_info).rglob("*") if p.is_file()]
                excluded_files.update(_files_below(layer_root, files))
    strip_all = strip_rest = 0
    elf_count = 0
    for elf in elf_files(layer_root):
        saved = strippable_bytes(elf.path)
        if not saved:
            continue
        elf_count += 1
        strip_all += saved
        relative = elf.path.relative_to(layer_root).as_posix()
        if relative not in slim_files and relative not in excluded_files:
            strip_rest += saved
    options = []
    if slim.size:
        parts = ", ".join(f"{reason} {megabytes(size)}"
                          for reason, size in sorted(slim.by_reason.items(), key=lambda i: -i[1]))
        options.append(Saving(option="--slim", saves=slim.size, detail=parts))
    if strip_all:
        options.append(Saving(option="--strip", saves=strip_all,
                              detail=f"symbols and debug info in {elf_count} ELF file(s)"))
    if excluded_files:
        detail = (f"{', '.join(sorted(provided))} (the Lambda runtime provides "
                  f"{'it' if len(provided) == 1 else 'them'})")
        if only_theirs:
            detail += f" and {', '.join(sorted(only_theirs))} (only they need it)"
        options.append(Saving(option=f"--exclude {RUNTIME_SHORTCUT}",
                              saves=sum(excluded_files.values()), detail=detail))
    options.sort(key=lambda s: -s.saves)
    removed = {**slim_files, **excluded_files}
    return SavingsEstimate(options=tuple(options),
                           combined=sum(removed.values()) + strip_rest)


_SITE_PREFIX = re.compile(r"^python/(lib/python\d+\.\d+/site-packages/)?")


def short_path(path: str) -> str:
    """An archive path without the `python/...site-packages/` prefix every file shares."""
    return _SITE_PREFIX.sub("", path)


def refusal_breakdown(sizes: SizeReport, savings: SavingsEstimate, limit: int = UNZIPPED_LIMIT,
                      rows: int = 8) -> str:
    """The lines a too-large layer's error shows: per package, largest files, what would help."""
    lines = [f"  {p.name} {p.version}: {megabytes(p.size)} "
             f"({100 * p.size / (sizes.total or 1):.0f}%)" for p in sizes.packages[:rows]]
    if len(sizes.packages) > rows:
        rest = sizes.packages[rows:]
        lines.append(f"  {len(rest)} more: {megabytes(sum(p.size for p in rest))}")
    # A package with a leaner variant for Lambda (opencv-python's headless one): the
    # variant is the fix, whatever the size options save.
    from lambdalayer.common.advice import alternative

    lines += [f"Instead of {p.name}: {better}." for p in sizes.packages[:rows]
              if (better := alternative(p.name))]
    if sizes.largest_files:
        lines.append("Largest files: " + ", ".join(
            f"{short_path(path)} {megabytes(size)}" for path, size in sizes.largest_files))
    if not savings.options:
        lines.append("--slim, --strip and --exclude :runtime: would remove nothing more here.")
        return "\n".join(lines)
    lines.append("What would help (computed on this tree):")
    width = max(len(s.option) for s in savings.options)
    lines += [f"  {s.option:<{width}}  saves {megabytes(s.saves)}: {s.detail}"
              for s in savings.options]
    after = sizes.total - savings.combined
    together = "all of them" if len(savings.options) > 1 else "with it"
    verdict = ("under the limit" if after <= limit
               else f"still {megabytes(after - limit)} over: also leave out a large package "
                    "(--exclude PKG)")
    lines.append(f"  {together}: {megabytes(sizes.total)} -> {megabytes(after)}, {verdict}")
    return "\n".join(lines)
