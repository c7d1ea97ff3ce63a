"""The cache-only attempt: uv's install from its cache alone, and whether it is what the
index offers now (docs/commands/cache.md, "Sdists built before").

uv keeps the wheels it built from sdists, but behind an index that sends no caching
headers it cannot tell that an sdist is unchanged, so an online run builds it again
every time (1-3 s each). An install from uv's cache alone (`--offline`) stands only
when every distribution it chose is one an online run would choose too: one whose
index page this build's uv read moments ago, or one the index, asked now, offers as
exactly that file:
- installed from a wheel: the project's newest release is that version, and of its
  wheels exactly one fits the target, the one installed (its tags are the installed
  WHEEL's): no other file uv could prefer;
- built from its sdist: the newest release is that version and publishes an sdist
  and no wheel at all. That it is the same file uv built before, uv checks itself:
  the page it read in this build's first, online attempt gives the sdist's SHA-256,
  and uv's cache alone cannot serve a file with another one.
Anything else (an older version, a new release, a second wheel, an index that
cannot be asked) sends the build back to uv's online run.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Collection
from pathlib import Path

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.uvtool import run_uv
from lambdalayer.resolve import index_cache
from lambdalayer.resolve.index_query import IndexOffer, ask_once
from lambdalayer.resolve.index_settings import QueryPlan
from lambdalayer.resolve.newest import query_plan
from lambdalayer.resolve.requirements import RequirementInputs, pip_install_args
from lambdalayer.targets.target import Target


def install_from_cache(inputs: RequirementInputs, target: Target, dest: Path,
                       no_binary: set[str], fresh: frozenset[str], *, ask: bool,
                       python: str | None) -> tuple[InstalledDist, ...] | None:
    """uv's install into `dest` from its cache alone (`--offline`), the sdists of
    `no_binary` as uv built them before (with `python`), when every distribution it chose
    is one whose index page this build read moments ago (`fresh`) or, when `ask`, one the
    index offers now as exactly that file (`still_current`); None (and `dest` removed)
    when not: a page not read this build may be stale, a wheel not cached needs the
    network."""
    no_deps = inputs.exact_pins() is not None
    cached = dataclasses.replace(inputs, index=dataclasses.replace(inputs.index, offline=True))
    args = pip_install_args(cached, uv_platform=target.uv_platform,
                            python_version=target.runtime.python_version, dest=dest,
                            no_binary=frozenset(no_binary), no_deps=no_deps)
    result = run_uv(args, python=python, env=inputs.index.uv_env())
    if result.returncode == 0:
        dists = tuple(read_installed(dest))
        closed = not no_deps or inputs.closed_over(dists, target)
        # Yours (inputs.direct_names) are never asked of an index: uv took them from
        # their URL, with or without its cache.
        known = fresh | inputs.direct_names
        if closed and (all(d.name in known for d in dists) or (ask and still_current(
                dists, query_plan(inputs), target, built=no_binary, fresh=known))):
            return dists
    shutil.rmtree(dest, ignore_errors=True)
    return None


def still_current(dists: Collection[InstalledDist], plan: QueryPlan, target: Target, *,
                  built: Collection[str], fresh: Collection[str]) -> bool:
    """True when every one of `dists` is in `fresh` (pages read this build) or is, asked
    now (once per run and question: index_query.ask_once), the file the index offers.
    `built`: the names installed from their sdists."""
    asked = {d.name: ask_once(d.name, plan) for d in dists if d.name not in fresh}
    return all(_offered(dist, index_cache.wait(asked[dist.name]).offer, target,
                        built=dist.name in built)
               for dist in dists if dist.name in asked)


def _offered(dist: InstalledDist, offer: IndexOffer | None, target: Target, *,
             built: bool) -> bool:
    if offer is None:
        return False
    try:
        if Version(offer.version) != Version(dist.version):
            return False
    except ValueError:  # InvalidVersion, or a number past int's digit limit
        return False
    if built:
        return offer.has_sdist and not offer.wheel_files
    fitting = [tags for tags in map(_tags, offer.wheel_files)
               if any(tag in target.supported_tags for tag in tags)]
    installed = {tag for text in dist.tags for tag in parse_tag(text)}
    return len(fitting) == 1 and fitting[0] == installed


def _tags(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()
