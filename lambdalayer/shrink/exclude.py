"""`--exclude PKG`: leave a package out of a layer, with the dependencies only it needed.

A dependency of an excluded package goes too unless something that stays
needs it: a requirement the user named, or any installed package outside the
excluded set's dependency closure. Dependencies are read from the installed
dists' Requires-Dist and evaluated for the *target* (markers and extras), as
uv resolved them. A package named explicitly is always removed, even when
another package needs it (the point of excluding boto3 is that the runtime
provides it); `plan_exclusion` reports such cases so the CLI can warn.

`:runtime:` names the packages every Lambda Python runtime already ships
(boto3 and its dependencies). Its colons cannot occur in a package name, so
the shortcut can never shadow a real project.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import UsageError
from lambdalayer.targets.target import Target

RUNTIME_SHORTCUT = ":runtime:"
# What the Lambda Python runtimes ship outside the standard library: the AWS
# SDK and its dependency closure, at the runtime's own versions.
RUNTIME_PROVIDED = frozenset({
    "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3",
})
_VALID_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True, kw_only=True)
class ExclusionPlan:
    """Canonical names: what goes, and why."""

    removed: tuple[str, ...]  # everything to delete, sorted
    explicit: tuple[str, ...]  # named by the user and installed
    dependencies: tuple[str, ...]  # removed because only excluded packages needed them
    absent: tuple[str, ...]  # named by the user but not installed (nothing to do)
    still_needed: tuple[tuple[str, str], ...]  # (excluded, a remaining package that needs it)


def expand_excludes(names: Iterable[str]) -> frozenset[str]:
    """Canonical package names from `--exclude` values, with `:runtime:` expanded.

    UsageError for a value that is neither the shortcut nor a package name.
    """
    expanded: set[str] = set()
    for raw in names:
        value = raw.strip()
        if value.lower() == RUNTIME_SHORTCUT:
            expanded |= RUNTIME_PROVIDED
            continue
        name = canonicalize_name(value)
        if not name or not set(name) <= _VALID_NAME_CHARS or name.startswith("-"):
            raise UsageError(
                f"--exclude {raw!r} is not a package name. Give a distribution name "
                f"(--exclude boto3) or {RUNTIME_SHORTCUT} for what the Lambda runtime "
                f"already provides ({', '.join(sorted(RUNTIME_PROVIDED))})."
            )
        expanded.add(name)
    return frozenset(expanded)


def _wanted_extras(dists: list[InstalledDist],
                   requirements: Iterable[Requirement]) -> dict[str, set[str]]:
    """Extras asked of each package anywhere. Conservative: a dependency counted as needed
    only keeps a package, it never removes one."""
    extras: dict[str, set[str]] = {}
    for req in [*requirements, *(r for d in dists for r in d.requires)]:
        extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    return extras


def dependency_graph(dists: list[InstalledDist], requirements: Iterable[Requirement],
                     target: Target) -> dict[str, set[str]]:
    """Installed package -> the installed packages it needs on `target`."""
    installed = {d.name for d in dists}
    extras = _wanted_extras(dists, requirements)
    graph: dict[str, set[str]] = {}
    for dist in dists:
        wanted = ["", *sorted(extras.get(dist.name, ()))]
        needs: set[str] = set()
        for req in dist.requires:
            if req.marker is not None and not any(target.evaluate(req.marker, e) for e in wanted):
                continue
            name = canonicalize_name(req.name)
            if name in installed and name != dist.name:
                needs.add(name)
        graph[dist.name] = needs
    return graph


def _closure(graph: dict[str, set[str]], start: Iterable[str], blocked: frozenset[str]) -> set[str]:
    seen: set[str] = set()
    stack = [name for name in start if name in graph and name not in blocked]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(n for n in graph[name] if n not in seen and n not in blocked)
    return seen


def plan_exclusion(dists: list[InstalledDist], excludes: frozenset[str],
                   requirements: Iterable[Requirement], target: Target) -> ExclusionPlan:
    """Which installed packages `--exclude` removes on `target` (see the module docstring)."""
    requirements = list(requirements)
    graph = dependency_graph(dists, requirements, target)
    explicit = frozenset(name for name in excludes if name in graph)
    candidates = _closure(graph, explicit, frozenset())
    direct = {canonicalize_name(r.name) for r in requirements}
    roots = (set(graph) - candidates) | (direct & set(graph))
    keep = _closure(graph, roots, explicit)
    removed = set(graph) - keep
    still_needed = sorted(
        (name, user) for user in keep for name in graph[user] if name in explicit
    )
    return ExclusionPlan(
        removed=tuple(sorted(removed)),
        explicit=tuple(sorted(explicit)),
        dependencies=tuple(sorted(removed - explicit)),
        absent=tuple(sorted(excludes - explicit)),
        still_needed=tuple(still_needed),
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def owned_files(site_dir: Path, dist: InstalledDist) -> list[Path]:
    """The files `dist`'s RECORD lists that exist inside `site_dir` (never outside it)."""
    root = Path(os.path.abspath(site_dir))
    found = []
    for record_path in dist.files:
        path = Path(os.path.abspath(root / record_path))
        if _inside(path, root) and (path.is_file() or path.is_symlink()):
            found.append(path)
    return found


def remove_dists(site_dir: Path, dists: list[InstalledDist], names: Iterable[str]) -> int:
    """Delete the packages `names` from `site_dir`; returns the bytes removed.

    A file that a remaining package's RECORD also lists stays (shared namespace
    files); directories left empty go. Files are only unlinked, never rewritten.
    """
    doomed = set(names)
    keep: set[Path] = set()
    for dist in dists:
        if dist.name not in doomed:
            keep.update(owned_files(site_dir, dist))
    removed = 0
    parents: set[Path] = set()
    for dist in dists:
        if dist.name not in doomed:
            continue
        for path in owned_files(site_dir, dist):
            if path in keep:
                continue
            removed += path.lstat().st_size
            path.unlink()
            parents.add(path.parent)
        info = site_dir / dist.dist_info
        if info.is_dir():
            removed += sum(p.stat().st_size for p in info.rglob("*") if p.is_file())
            shutil.rmtree(info)
    root = Path(os.path.abspath(site_dir))
    # Deepest first, so a package directory empties bottom-up.
    for directory in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        current = directory
        while current != root and _inside(current, root):
            try:
                current.rmdir()  # only succeeds when empty
            except OSError:
                break
            current = current.parent
    return removed
