"""Newest compatible release first: when uv settled for an older release than the
index offers, ask the index and say why.

uv picks the newest release with a wheel for the target, so a release that publishes
only an sdist is passed over. After uv's install, each requested package it installed
older than the index's newest release is rebuilt from that release's sdist when the
release publishes no wheels at all and the sdist builds pure Python; every requested
package left older is explained in the notes. Only the indexes this build uses are
asked (`query_plan`), never about a name you required by path or URL, and nothing
offline. The install itself is the resolver's, passed in (`Install`): this module
never imports resolver.py.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.errors import ResolutionError
from lambdalayer.common.progress import Progress
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.resolve.resolution import Resolution
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.resolve.index_query import IndexAnswer, IndexOffer
    from lambdalayer.resolve.index_settings import QueryPlan

# The resolver's install for one target: (inputs, an empty directory, the names to build
# from their sdists) -> what uv installed there; ResolutionError when it cannot.
Install = Callable[[RequirementInputs, Path, set[str]], Resolution]

OFFLINE_NOTE = ("Offline: the index was not asked whether newer releases than those "
                "installed exist.")


def query_plan(inputs: RequirementInputs) -> QueryPlan:
    """The indexes to ask, as uv sees them: flags, config, and each requirements file's own
    options (its relative --find-links taken from the file's folder)."""
    from lambdalayer.resolve.index_settings import query_plan as plan

    return plan(inputs.index, [f.text for f in inputs.files],
                bases=[f.base or f.path.parent for f in inputs.files])


def newest_offer(name: str, inputs: RequirementInputs) -> IndexAnswer:
    """What the indexes this build uses offer for `name` (never the public index when the
    build does not use it)."""
    # Imported here: urllib is only needed when explaining a failure.
    from lambdalayer.resolve.index_query import ask_indexes

    return ask_indexes(name, query_plan(inputs))


def ask_newest(inputs: RequirementInputs, plan: QueryPlan) -> dict[str, Future[IndexAnswer]]:
    """Each requested project's newest-release answer from the indexes of `plan` (the
    inputs' query_plan), asked in the background, once per run and index configuration
    (index_cache.once), nothing when offline; never for a name you required by path or
    URL."""
    from lambdalayer.resolve.index_query import ask_once

    if inputs.index.offline:
        return {}
    requested = dict.fromkeys(canonicalize_name(r.name) for r in inputs.all_requirements)
    # Local projects and `name @ URL` (inputs.direct_names) are never asked of an index.
    names = [name for name in requested if name not in inputs.direct_names]
    return {name: ask_once(name, plan) for name in names}


def _held_back(requirement: Requirement | None, offer: IndexOffer, target: Target,
               newest: Version) -> str | None:
    """Why the newest release was not installed; None when its sdist is worth building."""
    if requirement is not None and not requirement.specifier.contains(newest,
                                                                      prereleases=True):
        return f"your requirement `{requirement}` excludes it"
    if offer.requires_python:
        try:  # ValueError: InvalidSpecifier, or a version number past int's digit limit
            excluded = not SpecifierSet(offer.requires_python).contains(
                f"{target.runtime.python_version}.0", prereleases=True)
        except ValueError:
            excluded = False
        if excluded:
            return f"it requires Python {offer.requires_python}"
    if any(target.accepts_wheel_tag(t) for t in offer.wheel_tags):
        return "another requirement holds it back"
    if offer.wheel_platforms:
        return (f"it has no wheel for {target}, and its sdist would be compiled for this "
                "host")
    if offer.has_sdist:
        return None
    return f"it has no files for {target}"


def _behind_newest(inputs: RequirementInputs, target: Target, names: list[str],
                   answers: dict[str, IndexAnswer], installed: dict[str, InstalledDist],
                   requested: dict[str, Requirement], notes: list[str]
                   ) -> dict[str, tuple[Version, Version]]:
    """The distributions uv installed older than the index's newest release that may be
    built from that release's sdist: name -> (installed, newest); why the others stay
    behind is added to `notes`."""
    to_build: dict[str, tuple[Version, Version]] = {}
    for name in names:
        offer, dist = answers[name].offer, installed[name]
        if offer is None:
            continue
        try:
            newest, have = Version(offer.version), Version(dist.version)
        except ValueError:  # InvalidVersion, or a number past int's digit limit
            continue
        if have >= newest:
            continue
        # Of several requirements on one name (a --fix-pairs pin beside the user's own),
        # the one that excludes the newest release is the reason, never "another".
        excluding = [r for r in inputs.all_requirements if canonicalize_name(r.name) == name
                     and not r.specifier.contains(newest, prereleases=True)]
        reason = _held_back(excluding[0] if excluding else requested[name], offer, target,
                            newest)
        if reason is None:
            to_build[name] = (have, newest)
        else:
            notes.append(f"{dist.display_name} {have} is not the newest release "
                         f"({newest}): {reason}.")
    return to_build


def _requested(inputs: RequirementInputs) -> dict[str, Requirement]:
    """Each requested project's first requirement, by name, but yours: a local project or
    `name @ URL` is what ships, whatever the index has newer."""
    requested: dict[str, Requirement] = {}
    for req in inputs.all_requirements:
        if canonicalize_name(req.name) not in inputs.direct_names:
            requested.setdefault(canonicalize_name(req.name), req)
    return requested


def prefer_newest(inputs: RequirementInputs, target: Target, dest: Path,
                  first: Resolution, progress: Progress | None,
                  asked: dict[str, Future[IndexAnswer]], install: Install) -> Resolution:
    """`first` (uv's install in `dest`), or the install with the newest releases built from
    their sdists (`install`, then moved to `dest`), with notes on every requested package
    left older than the index's newest release. `asked`: ask_newest's answers (every
    requested name but yours, asked when online)."""
    if inputs.index.offline:
        return dataclasses.replace(first, notes=(*first.notes, OFFLINE_NOTE))
    requested = _requested(inputs)
    installed = {d.name: d for d in first.dists}
    names = [n for n in requested if n in installed]
    if not names:
        return first
    from lambdalayer.resolve.index_cache import wait

    answers = {n: wait(asked[n]) for n in names}
    # An index answer lambdalayer refused (too large, too deep, a hostile file name) is
    # said: the build goes on with what uv installed.
    notes = [f"{a.note} Whether {n} has a newer release was not checked."
             for n, a in answers.items() if a.refused]
    to_build = _behind_newest(inputs, target, names, answers, installed, requested, notes)
    if not to_build:
        return dataclasses.replace(first, notes=(*first.notes, *notes))
    if progress:
        progress(f"building the newest {', '.join(sorted(to_build))} from sdist for {target}")
    trial = dest.with_name(dest.name + "-sdist")
    try:
        built = install(inputs, trial, {*to_build, *first.built_from_sdist})
    except ResolutionError as err:
        shutil.rmtree(trial, ignore_errors=True)
        for name, (have, newest) in sorted(to_build.items()):
            notes.append(f"{installed[name].display_name} {have} is not the newest release "
                         f"({newest}): {newest} publishes only an sdist, and it was refused "
                         f"({err.message.split('. ')[0]}); {have} is the newest release "
                         f"with a wheel for {target}.")
        return dataclasses.replace(first, notes=(*first.notes, *notes))
    got = {d.name: d.version for d in built.dists}
    if not any(_newer(got.get(name), have) for name, (have, _) in to_build.items()):
        # Building from sdists gained nothing: the layer keeps the wheels first chosen.
        shutil.rmtree(trial, ignore_errors=True)
        for name, (have, newest) in sorted(to_build.items()):
            notes.append(_not_used(installed[name].display_name, have, newest, target,
                                   _why_not(inputs, dest, name, newest, install)))
        return dataclasses.replace(first, notes=(*first.notes, *notes))
    shutil.rmtree(dest)
    trial.rename(dest)
    dists = tuple(read_installed(dest))
    for name, (have, newest) in sorted(to_build.items()):
        # Said of the layer written: uv may have built an older sdist than the newest.
        version = got.get(name, str(have))
        display = installed[name].display_name
        if version == str(newest):
            notes.append(f"{display} {newest}: built from its sdist (pure Python) because "
                         f"that release publishes no wheel; the newest release with a wheel "
                         f"is {have}.")
        else:
            notes.append(f"{display} {version}: built from its sdist (pure Python); the "
                         f"newest release, {newest}, could not be used: "
                         f"{_why_not(inputs, dest, name, newest, install)}.")
    return dataclasses.replace(built, tree=dest, dists=dists, notes=(*built.notes, *notes))


def _newer(version: str | None, than: Version) -> bool:
    try:
        return version is not None and Version(version) > than
    except ValueError:
        return False


def _not_used(display: str, have: Version, newest: Version, target: Target, why: str) -> str:
    return (f"{display} {have} is not the newest release ({newest}): {newest} publishes "
            f"only an sdist, and it could not be used ({why}); {have} is the newest release "
            f"with a wheel for {target}.")


def _why_not(inputs: RequirementInputs, dest: Path, name: str, newest: Version,
             install: Install) -> str:
    """uv's own reason for not installing `name==newest` (one more resolve, asked only
    when the layer ends up without the newest release)."""
    scratch = dest.with_name(dest.name + "-why")
    pinned = dataclasses.replace(inputs, specs=(*inputs.specs, f"{name}=={newest}"))
    try:
        install(pinned, scratch, {name})
    except ResolutionError as err:
        return err.message.rstrip(".")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return "uv preferred an older release when resolving from sdists"
