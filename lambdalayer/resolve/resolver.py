"""Requirements -> an installed, target-correct set of wheels (uv does the resolving).

uv evaluates environment markers for the *target* (pip evaluates them for the
host: docs/lambda-facts.md), and `--only-binary :all:` keeps it from picking a version
with no wheel for the target and building it for the host. A project that
publishes only an sdist may still be built, but the result must be a pure
`py3-none-any` wheel: anything else would carry host machine code.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from lambdalayer.common.advice import alternatives
from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.errors import IndexUnreachable, ResolutionError
from lambdalayer.common.progress import Progress
from lambdalayer.common.redact import redact_text
from lambdalayer.common.uvtool import StartedUv, run_uv, wait_uv
from lambdalayer.common.workdirs import disk_full_error, says_disk_full
from lambdalayer.resolve.requirements import RequirementInputs, pip_install_args
from lambdalayer.resolve.sdist_failure import one_line_reason, write_build_log
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.resolve.index_query import IndexAnswer, IndexOffer
    from lambdalayer.resolve.index_settings import QueryPlan

_NEEDS_WHEEL = re.compile(r"Wheels are required for `([^`]+)`")
_NOT_FOUND = re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry")
_FAILED_BUILD = re.compile(r"Failed to build `([A-Za-z0-9._-]+)==([^`]+)`")
_MAX_SDIST_RETRIES = 5


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """What uv installed for one target, in `tree` (a flat site-packages-like directory)."""

    target: Target
    tree: Path
    dists: tuple[InstalledDist, ...]
    built_from_sdist: tuple[str, ...]
    notes: tuple[str, ...] = ()  # for the build's warnings (stale WHEEL tags, older releases)


def _uv_args(inputs: RequirementInputs, target: Target, dest: Path,
             no_binary: set[str], *, no_deps: bool) -> list[str]:
    return pip_install_args(inputs, uv_platform=target.uv_platform,
                            python_version=target.runtime.python_version, dest=dest,
                            no_binary=frozenset(no_binary), no_deps=no_deps)


def _uv_cause(stderr: str) -> str:
    """uv's explanation without its interpreter banner."""
    lines = [ln for ln in stderr.strip().splitlines()
             if ln.strip() and not ln.startswith("Using ") and not ln.startswith("hint:")]
    text = " ".join(ln.strip() for ln in lines).replace("error: ", "")
    # uv's headline adds nothing to the cause that follows it.
    text = redact_text(text.replace("No solution found when resolving dependencies: ", ""))
    return text.replace("No solution found when resolving dependencies ", "").replace(
        "cause: ", "")


def uv_lines(stderr: str) -> str:
    """uv's explanation as it wrote it, one line each (indented), without its banner."""
    # uv's headline repeats ours ("Cannot resolve the requirements"): its causes follow.
    lines = [ln.rstrip() for ln in stderr.strip().splitlines() if ln.strip()
             and not ln.startswith(("Using ", "error: No solution found when resolving"))]
    return redact_text("\n".join("  " + ln.removeprefix("error: ") for ln in lines))


def _index_failure(stderr: str, inputs: RequirementInputs) -> IndexUnreachable | None:
    """uv's failure when it is the index's (resolve/index_failure.py), else None."""
    from lambdalayer.resolve.index_failure import index_failure

    if "Failed to " not in stderr:  # the usual failure: a conflict, a missing wheel
        return None
    origins = [o for o in inputs.index.origins if o.startswith("index: ")]
    source = origins[0].rsplit("(from ", 1)[-1].rstrip(")") if origins else None
    return index_failure(stderr, _query_plan(inputs).urls, source)


def newest_offer(name: str, inputs: RequirementInputs) -> IndexAnswer:
    """What the indexes this build uses offer for `name` (never the public index when the
    build does not use it)."""
    # Imported here: urllib is only needed when explaining a failure.
    from lambdalayer.resolve.index_query import ask_indexes

    return ask_indexes(name, _query_plan(inputs))


def _query_plan(inputs: RequirementInputs) -> QueryPlan:
    """The indexes to ask, as uv sees them: flags, config, and each requirements file's own
    options (its relative --find-links taken from the file's folder)."""
    from lambdalayer.resolve.index_settings import query_plan

    return query_plan(inputs.index, [f.text for f in inputs.files],
                      bases=[f.base or f.path.parent for f in inputs.files])


_OFFLINE_NOTE = ("Offline: the index was not asked whether newer releases than those "
                 "installed exist.")


def _ask_newest(inputs: RequirementInputs) -> dict[str, Future[IndexAnswer]]:
    """Each requested project's newest-release answer, asked in the background, once per
    run and index configuration (index_cache.once), nothing when offline; never for a
    name you required by path or URL."""
    from lambdalayer.resolve.index_query import ask_once

    if inputs.index.offline:
        return {}
    plan = _query_plan(inputs)
    requested = dict.fromkeys(canonicalize_name(r.name) for r in inputs.all_requirements)
    # Local projects and `name @ URL` (inputs.direct_names) are never asked of an index.
    names = [name for name in requested if name not in inputs.direct_names]
    return {name: ask_once(name, plan) for name in names}


def _describe_offer(answer: IndexAnswer) -> str:
    offer = answer.offer
    if offer is None:
        return answer.note or "The index could not be asked what it offers."
    parts = [p for p in offer.wheel_platforms]
    shown = ", ".join(parts[:8]) + (f" and {len(parts) - 8} more" if len(parts) > 8 else "")
    wheels = f"wheels for {shown}" if parts else "no wheels at all"
    sdist = " and an sdist" if offer.has_sdist else ""
    return f"The index offers {offer.name} {offer.version} as {wheels}{sdist}."


def _no_wheel_error(name: str, target: Target, answer: IndexAnswer,
                    cause: str) -> ResolutionError:
    runtime = target.runtime
    glibc = ".".join(map(str, runtime.os.glibc))
    message = (
        f"{name} has no wheel that loads on {runtime.name} {target.arch} "
        f"({runtime.os.name}, glibc {glibc}, needs a cp{runtime.python[0]}{runtime.python[1]}/"
        f"abi3 manylinux <= {glibc} {target.machine} or pure-Python wheel). "
        f"{_describe_offer(answer)}"
    )
    alternative = alternatives().get(canonicalize_name(name))
    hint_parts = []
    if alternative:
        hint_parts.append(f"Use {alternative} instead.")
    else:
        hint_parts.append(
            "Pin an older version that ships a wheel for this target, or choose a runtime "
            "whose glibc is new enough (`lambdalayer runtimes`)."
        )
    hint_parts.append(f"(uv: {cause})")
    return ResolutionError(message, hint=" ".join(hint_parts))


def resolve_for_target(
    inputs: RequirementInputs, target: Target, dest: Path, *, progress: Progress | None = None,
    started: StartedUv | None = None, fresh: frozenset[str] = frozenset(),
    built: frozenset[str] = frozenset(),
) -> Resolution:
    """Install `inputs` for `target` into the empty directory `dest`.

    `started`: uv already running with `first_attempt_args` for this target and
    `dest` (pipeline/layer.py starts it before importing the pipeline); its result is
    used as the first attempt.

    `fresh`: the distributions whose index pages this build has just read (another
    target's resolution). uv first installs from its cache alone; that result stands when
    every distribution it chose is in `fresh` (what the index says now), else uv asks the
    index as usual. This machine's index sends pages without caching headers, so each
    uv run would otherwise fetch every page again. `built`: the projects that other
    resolution built from their sdists; uv's builds of them are used again.

    Newest compatible release first: a requested package that uv installed older
    than the index's newest release is rebuilt from that release's sdist when the
    release publishes no wheels at all and the sdist builds pure Python; every
    requested package left older is explained in `notes`. Exact pins (a lock)
    are installed exactly.

    Raises ResolutionError naming the package, the target, what the index offers
    and a known alternative when there is no installable set of wheels.
    """
    if inputs.empty:  # a layer of your own files only: nothing to install
        dest.mkdir(parents=True, exist_ok=True)
        return Resolution(target=target, tree=dest, dists=(), built_from_sdist=())
    pinned = inputs.exact_pins() is not None
    # Asked while uv resolves (never before): the answers are ready when uv is done.
    offers = {} if pinned else _ask_newest(inputs)
    first = (_install_from_cache(inputs, target, dest, set(built), fresh, ask=not pinned)
             if fresh and started is None and not inputs.index.offline else None)
    if first is None:
        first = _install(inputs, target, dest, set(), progress=progress, started=started)
    if pinned:
        return first
    if inputs.index.offline:
        return dataclasses.replace(first, notes=(*first.notes, _OFFLINE_NOTE))
    return _prefer_newest(inputs, target, dest, first, progress, offers)


def _install(inputs: RequirementInputs, target: Target, dest: Path, no_binary: set[str], *,
             progress: Progress | None, started: StartedUv | None = None) -> Resolution:
    """One binary-first uv install; projects that publish only sdists are built (pure only)."""
    # Exact pins (a lock file, a recipe) usually name the whole closure: then
    # uv need not fetch metadata to resolve, as with `uv pip sync`. Whether
    # they really do is checked after installing; if not, resolve normally.
    no_deps = inputs.exact_pins() is not None
    for _attempt in range(_MAX_SDIST_RETRIES + 1):
        if no_binary and not no_deps and not inputs.index.offline:
            # uv would build these sdists again (an index without caching headers).
            cached = _install_from_cache(inputs, target, dest, no_binary, frozenset(),
                                         ask=True)
            if cached is not None:
                return cached
        args = _uv_args(inputs, target, dest, no_binary, no_deps=no_deps)
        if progress:
            progress(f"resolving for {target}")
        env = inputs.index.uv_env()
        if started is not None and started.started_as(args, env):
            result = wait_uv(started)
        else:
            if started is not None:
                started.stop()
            if dest.exists():
                shutil.rmtree(dest)
            result = run_uv(args, python=_build_python(target) if no_binary else None, env=env)
        started = None
        if result.returncode == 0:
            dists = tuple(read_installed(dest))
            if no_deps and not _closed(dists, inputs, target):
                no_deps = False
                continue
            notes = _check_fit(dists, target, no_binary)
            return Resolution(target=target, tree=dest, dists=dists,
                              built_from_sdist=tuple(sorted(no_binary)), notes=notes)
        if says_disk_full(result.stderr):  # not a resolution problem: say which disk
            raise disk_full_error(result.stderr)
        unreachable = _index_failure(result.stderr, inputs)
        if unreachable is not None:
            raise unreachable
        cause = _uv_cause(result.stderr)
        missing = _NOT_FOUND.search(result.stderr)
        if missing:
            raise ResolutionError(
                f"{missing.group(1)} was not found on the package index.",
                hint="Check the spelling (`pip index versions NAME`) or the index URL.",
            )
        failed = _FAILED_BUILD.search(result.stderr)
        if failed:
            raise _build_error(canonicalize_name(failed.group(1)), failed.group(2), target,
                               result.stderr)
        needs = _NEEDS_WHEEL.search(result.stderr)
        if not needs:
            raise ResolutionError(f"Cannot resolve the requirements for {target}:\n"
                                  + uv_lines(result.stderr))
        name = canonicalize_name(needs.group(1))
        if name in alternatives():
            raise _no_wheel_error(name, target, newest_offer(name, inputs), cause)
        answer = newest_offer(name, inputs)
        offer = answer.offer
        # Only a project that ships no wheels at all may be built from its sdist:
        # one that ships wheels, none for this target, is native and would be
        # compiled for the host.
        if name in no_binary or offer is None or offer.wheel_platforms or not offer.has_sdist:
            raise _no_wheel_error(name, target, answer, cause)
        no_binary.add(name)
    raise ResolutionError(f"Too many source-only packages for {target}: {sorted(no_binary)}.")


def _install_from_cache(inputs: RequirementInputs, target: Target, dest: Path,
                        no_binary: set[str], fresh: frozenset[str], *,
                        ask: bool) -> Resolution | None:
    """uv's install from its cache alone (`--offline`), the sdists of `no_binary` as uv
    built them before, when every distribution it chose is one whose index page this build
    read moments ago (`fresh`) or, when `ask`, one the index offers now as exactly that
    file (resolve/still_current.py); None (and `dest` removed) when not: a page not read
    this build may be stale, a wheel not cached needs the network."""
    from lambdalayer.resolve.still_current import still_current

    no_deps = inputs.exact_pins() is not None
    cached = dataclasses.replace(inputs, index=dataclasses.replace(inputs.index, offline=True))
    result = run_uv(_uv_args(cached, target, dest, no_binary, no_deps=no_deps),
                    python=_build_python(target) if no_binary else None,
                    env=inputs.index.uv_env())
    if result.returncode == 0:
        dists = tuple(read_installed(dest))
        closed = not no_deps or _closed(dists, inputs, target)
        # Yours (inputs.direct_names) are never asked of an index: uv took them from
        # their URL, with or without its cache.
        known = fresh | inputs.direct_names
        if closed and (all(d.name in known for d in dists) or (ask and still_current(
                dists, _query_plan(inputs), target, built=no_binary, fresh=known))):
            return Resolution(target=target, tree=dest, dists=dists,
                              built_from_sdist=tuple(sorted(no_binary)),
                              notes=_check_fit(dists, target, no_binary))
    shutil.rmtree(dest, ignore_errors=True)
    return None


def _build_python(target: Target) -> str | None:
    """A CPython of the target's version to build sdists with (their tags, their
    Requires-Python), when this host has one."""
    return _host_python(target.runtime.python_version)


@functools.cache  # ten targets ask for five versions; a search that finds none takes 0.3 s
def _host_python(version: str) -> str | None:
    from lambdalayer.interpreters.find import find_interpreter

    found = find_interpreter(version)
    return found.path if found else None


def _build_error(name: str, version: str, target: Target, log: str) -> ResolutionError:
    reason = one_line_reason(log)
    path = write_build_log(name, redact_text(log))  # an index token never lands on disk
    better = alternatives().get(name)
    advice = f" Use {better} instead." if better else (
        " Choose a package with manylinux wheels, or pin a release that has one.")
    return ResolutionError(
        f"{name} {version} publishes no wheel for {target} and its sdist did not build: "
        f"{reason}. A Docker-free build cannot compile native code for Lambda (it would "
        f"be code for this host).{advice}",
        hint=f"The full build log: {path}" if path is not None else
        "The build log was not kept: lambdalayer's cache directory is not usable.")


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


def _prefer_newest(inputs: RequirementInputs, target: Target, dest: Path,
                   first: Resolution, progress: Progress | None,
                   asked: dict[str, Future[IndexAnswer]]) -> Resolution:
    requested: dict[str, Requirement] = {}
    for req in inputs.all_requirements:
        # A local project or `name @ URL` is what ships, whatever the index has newer.
        if canonicalize_name(req.name) not in inputs.direct_names:
            requested.setdefault(canonicalize_name(req.name), req)
    installed = {d.name: d for d in first.dists}
    names = [n for n in requested if n in installed]
    if not names:
        return first
    from lambdalayer.resolve.index_cache import wait

    answers = {n: wait(asked[n]) if n in asked else newest_offer(n, inputs) for n in names}
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
        built = _install(inputs, target, trial, {*to_build, *first.built_from_sdist},
                         progress=None)
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
                                   _why_not(inputs, target, dest, name, newest)))
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
                         f"{_why_not(inputs, target, dest, name, newest)}.")
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


def _why_not(inputs: RequirementInputs, target: Target, dest: Path, name: str,
             newest: Version) -> str:
    """uv's own reason for not installing `name==newest` (one more resolve, asked only
    when the layer ends up without the newest release)."""
    scratch = dest.with_name(dest.name + "-why")
    pinned = dataclasses.replace(inputs, specs=(*inputs.specs, f"{name}=={newest}"))
    try:
        _install(pinned, target, scratch, {name}, progress=None)
    except ResolutionError as err:
        return err.message.rstrip(".")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return "uv preferred an older release when resolving from sdists"


def _closed(dists: tuple[InstalledDist, ...], inputs: RequirementInputs, target: Target) -> bool:
    """True when every dependency of every installed dist, on `target`, is installed."""
    installed = {d.name: d.version for d in dists}
    extras: dict[str, set[str]] = {}
    # Extras asked for anywhere (conservatively, whatever the marker): checking
    # more dependencies than needed only costs a normal resolution.
    for req in [*inputs.all_requirements, *(r for d in dists for r in d.requires)]:
        extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    for dist in dists:
        for req in dist.requires:
            wanted = ["", *sorted(extras.get(dist.name, ()))]
            if req.marker is not None and not any(target.evaluate(req.marker, e) for e in wanted):
                continue
            version = installed.get(canonicalize_name(req.name))
            if version is None or not req.specifier.contains(version, prereleases=True):
                return False
    return True


def _check_fit(dists: tuple[InstalledDist, ...], target: Target,
               from_sdist: set[str]) -> tuple[str, ...]:
    """Every installed wheel must fit the target: the last line of defence against uv.

    uv chose each binary wheel by its *file name* for this target (`--only-binary`,
    `--python-platform`), so a WHEEL file whose tags disagree is a stale file
    (a renamed auditwheel output), noted here; the ELF audit decides whether its
    code loads. Only a wheel built here from an sdist is refused unless pure.
    Returns the notes.
    """
    notes = []
    for dist in dists:
        if dist.is_pure or any(target.accepts_wheel_tag(t) for t in dist.tags):
            continue
        tags = ", ".join(dist.tags) or "no tags"
        if dist.name in from_sdist:
            raise ResolutionError(
                f"{dist.display_name} {dist.version} is published only as an sdist and built "
                f"into a native wheel ({tags}) for this host, which would not load on "
                f"{target}.",
                hint="Ask its maintainers for manylinux wheels, or choose another package.",
            )
        notes.append(
            f"{dist.display_name} {dist.version}: uv selected its wheel for {target} by the "
            f"file name, but the wheel's WHEEL file says {tags} (not rewritten when the "
            "wheel was renamed); the ELF audit decides whether it loads.")
    return tuple(notes)
