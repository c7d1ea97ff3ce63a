"""Requirements -> an installed, target-correct set of wheels: uv for one target.

uv does the resolving; this module runs it, reads what it installed, judges each
wheel's tags (`_check_fit`) and turns uv's failures into refusals that say what the
index offers. The newest-release policy is newest.py's; whether an install from uv's
cache alone stands for an online one is still_current.py's.

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
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from lambdalayer.common.advice import alternatives
from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.errors import IndexUnreachable, ResolutionError
from lambdalayer.common.progress import Progress
from lambdalayer.common.redact import redact_text
from lambdalayer.common.uvtool import StartedUv, UvResult, run_uv, wait_uv
from lambdalayer.common.workdirs import disk_full_error, says_disk_full
from lambdalayer.resolve.newest import ask_newest, prefer_newest, query_plan
from lambdalayer.resolve.requirements import RequirementInputs, pip_install_args
from lambdalayer.resolve.resolution import Resolution
from lambdalayer.resolve.sdist_failure import build_error
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.resolve.index_query import IndexAnswer
    from lambdalayer.resolve.index_settings import QueryPlan

_NEEDS_WHEEL = re.compile(r"Wheels are required for `([^`]+)`")
_NOT_FOUND = re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry")
_FAILED_BUILD = re.compile(r"Failed to build `([A-Za-z0-9._-]+)==([^`]+)`")
_MAX_SDIST_RETRIES = 5


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


def _index_failure(stderr: str, origins: tuple[str, ...],
                   plan: QueryPlan) -> IndexUnreachable | None:
    """uv's failure when it is the index's (resolve/index_failure.py), else None."""
    from lambdalayer.resolve.index_failure import index_failure

    if "Failed to " not in stderr:  # the usual failure: a conflict, a missing wheel
        return None
    named = [o for o in origins if o.startswith("index: ")]
    source = named[0].rsplit("(from ", 1)[-1].rstrip(")") if named else None
    return index_failure(stderr, plan.urls, source)


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
    index as usual: an index that sends its pages without caching headers would
    otherwise have every page fetched again by each target's uv run. `built`: the
    projects that other resolution built from their sdists; uv's builds of them are
    used again.

    Newest compatible release first (resolve/newest.py): a requested package that uv
    installed older than the index's newest release is built from that release's pure
    sdist when it publishes no wheels; every one left older is explained in `notes`.
    Exact pins (a lock) are installed exactly.

    Raises ResolutionError naming the package, the target, what the index offers
    and a known alternative when there is no installable set of wheels.
    """
    if inputs.empty:  # a layer of your own files only: nothing to install
        dest.mkdir(parents=True, exist_ok=True)
        return Resolution(target=target, tree=dest, dists=(), built_from_sdist=())
    # What every step below asks of the inputs, worked out once: whether they pin
    # exactly, the indexes this build uses, and uv's environment for them.
    pinned = inputs.exact_pins() is not None
    plan = query_plan(inputs)
    env = inputs.index.uv_env()
    # Asked while uv resolves (never before): the answers are ready when uv is done.
    offers = {} if pinned else ask_newest(inputs, plan)
    first = (_from_cache(inputs, target, dest, set(built), fresh, plan, env, no_deps=pinned,
                         ask=not pinned)
             if fresh and started is None and not inputs.index.offline else None)
    if first is None:
        first = _install(inputs, target, dest, set(), plan, env, no_deps=pinned,
                         progress=progress, started=started)
    if pinned:
        return first
    return prefer_newest(inputs, target, dest, first, progress, offers,
                         lambda i, d, nb: _install(i, target, d, nb, plan, env, no_deps=False,
                                                   progress=None))


def _install(inputs: RequirementInputs, target: Target, dest: Path, no_binary: set[str],
             plan: QueryPlan, env: dict[str, str], *, no_deps: bool,
             progress: Progress | None, started: StartedUv | None = None) -> Resolution:
    """One binary-first uv install; projects that publish only sdists are built (pure only).

    `no_deps`: the inputs pin exactly. Exact pins (a lock file, a recipe) usually name
    the whole closure: then uv need not fetch metadata to resolve, as with `uv pip
    sync`. Whether they really do is checked after installing; if not, resolve normally.
    """
    for _attempt in range(_MAX_SDIST_RETRIES + 1):
        if no_binary and not no_deps and not inputs.index.offline:
            # uv would build these sdists again (an index without caching headers).
            cached = _from_cache(inputs, target, dest, no_binary, frozenset(), plan, env,
                                 no_deps=False, ask=True)
            if cached is not None:
                return cached
        if progress:
            progress(f"resolving for {target}")
        result, dists = _uv_install(inputs, target, dest, no_binary, env, no_deps=no_deps,
                                    started=started)
        started = None
        if result.returncode != 0:
            no_binary.add(_sdist_to_build(result.stderr, target, no_binary,
                                          inputs.index.origins, plan))
        elif dists is None:  # the exact pins did not name the whole closure
            no_deps = False
        else:
            return _resolution(target, dest, dists, no_binary)
    raise ResolutionError(f"Too many source-only packages for {target}: {sorted(no_binary)}.")


def _uv_install(inputs: RequirementInputs, target: Target, dest: Path, no_binary: set[str],
                env: dict[str, str], *, no_deps: bool, offline: bool = False,
                started: StartedUv | None = None
                ) -> tuple[UvResult, tuple[InstalledDist, ...] | None]:
    """uv's install into `dest` (emptied first; `offline`: from uv's cache alone), the
    sdists of `no_binary` built: (uv's result, what it installed). What it installed is
    None when uv failed, or when `no_deps` (installed without resolving) and the exact
    pins do not name the whole closure. `started`: uv already running; used when it
    runs this very install."""
    if offline:
        inputs = dataclasses.replace(inputs,
                                     index=dataclasses.replace(inputs.index, offline=True))
    args = pip_install_args(inputs, uv_platform=target.uv_platform,
                            python_version=target.runtime.python_version, dest=dest,
                            no_binary=frozenset(no_binary), no_deps=no_deps)
    if started is not None and started.started_as(args, env):
        result = wait_uv(started)
    else:
        if started is not None:
            started.stop()
        if dest.exists():
            shutil.rmtree(dest)
        result = run_uv(args, python=_build_python(target) if no_binary else None, env=env)
    if result.returncode != 0:
        return result, None
    dists = tuple(read_installed(dest))
    if no_deps and not inputs.closed_over(dists, target.marker_environment):
        return result, None
    return result, dists


def _sdist_to_build(stderr: str, target: Target, no_binary: set[str],
                    origins: tuple[str, ...], plan: QueryPlan) -> str:
    """The project whose sdist the next attempt builds, after uv's failure (`stderr`): one
    that publishes no wheel at all. Raises the refusal that explains any other failure."""
    if says_disk_full(stderr):  # not a resolution problem: say which disk
        raise disk_full_error(stderr)
    unreachable = _index_failure(stderr, origins, plan)
    if unreachable is not None:
        raise unreachable
    cause = _uv_cause(stderr)
    missing = _NOT_FOUND.search(stderr)
    if missing:
        raise ResolutionError(
            f"{missing.group(1)} was not found on the package index.",
            hint="Check the spelling (`pip index versions NAME`) or the index URL.",
        )
    failed = _FAILED_BUILD.search(stderr)
    if failed:
        raise build_error(canonicalize_name(failed.group(1)), failed.group(2), target, stderr)
    needs = _NEEDS_WHEEL.search(stderr)
    if not needs:
        raise ResolutionError(f"Cannot resolve the requirements for {target}:\n"
                              + uv_lines(stderr))
    name = canonicalize_name(needs.group(1))
    # Imported here: urllib is only needed when explaining a failure.
    from lambdalayer.resolve.index_query import ask_indexes

    answer = ask_indexes(name, plan)
    offer = answer.offer
    # Only a project that ships no wheels at all may be built from its sdist: one that
    # ships wheels, none for this target, is native and would be compiled for the host.
    if (name in alternatives() or name in no_binary or offer is None
            or offer.wheel_platforms or not offer.has_sdist):
        raise _no_wheel_error(name, target, answer, cause)
    return name


def _from_cache(inputs: RequirementInputs, target: Target, dest: Path, no_binary: set[str],
                fresh: frozenset[str], plan: QueryPlan, env: dict[str, str], *,
                no_deps: bool, ask: bool) -> Resolution | None:
    """uv's install into `dest` from its cache alone (`--offline`), the sdists of
    `no_binary` as uv built them before, when it stands for an online one: every
    distribution it chose is one whose index page this build read moments ago (`fresh`)
    or, when `ask`, one the indexes of `plan` offer now as exactly that file
    (resolve/still_current.py). None (and `dest` removed) when not: a page not read
    this build may be stale, a wheel not cached needs the network."""
    from lambdalayer.resolve.still_current import still_current

    _, dists = _uv_install(inputs, target, dest, no_binary, env, no_deps=no_deps,
                           offline=True)
    # Yours (inputs.direct_names) are never asked of an index: uv took them from their
    # URL, with or without its cache.
    known = fresh | inputs.direct_names
    if dists is None or not (all(d.name in known for d in dists) or (ask and still_current(
            dists, plan, target, built=no_binary, fresh=known))):
        shutil.rmtree(dest, ignore_errors=True)
        return None
    return _resolution(target, dest, dists, no_binary)


def _resolution(target: Target, dest: Path, dists: tuple[InstalledDist, ...],
                no_binary: set[str]) -> Resolution:
    """What uv installed in `dest`, each wheel judged (`_check_fit`)."""
    return Resolution(target=target, tree=dest, dists=dists,
                      built_from_sdist=tuple(sorted(no_binary)),
                      notes=_check_fit(dists, target, no_binary))


def _build_python(target: Target) -> str | None:
    """A CPython of the target's version to build sdists with (their tags, their
    Requires-Python), when this host has one."""
    return _host_python(target.runtime.python_version)


@functools.cache  # ten targets ask for five versions; a search that finds none takes 0.3 s
def _host_python(version: str) -> str | None:
    from lambdalayer.interpreters.find import find_interpreter

    found = find_interpreter(version)
    return found.path if found else None


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
