"""Requirements -> an installed, target-correct set of wheels (uv does the resolving).

uv evaluates environment markers for the *target* (pip evaluates them for the
host: DESIGN.md §2), and `--only-binary :all:` keeps it from picking a version
with no wheel for the target and building it for the host. A project that
publishes only an sdist may still be built, but the result must be a pure
`py3-none-any` wheel: anything else would carry host machine code.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from lambdalayer.advice import alternatives
from lambdalayer.build.distinfo import InstalledDist, read_installed
from lambdalayer.build.requirements import RequirementInputs
from lambdalayer.errors import ResolutionError
from lambdalayer.redact import redact_text

if TYPE_CHECKING:
    from lambdalayer.build.index import IndexAnswer
from lambdalayer.build.uvtool import StartedUv, pip_install_args, run_uv, wait_uv
from lambdalayer.targets.target import Target

Progress = Callable[[str], None]

_NEEDS_WHEEL = re.compile(r"Wheels are required for `([^`]+)`")
_NOT_FOUND = re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry")
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


def newest_offer(name: str, inputs: RequirementInputs) -> IndexAnswer:
    """What the indexes this build uses offer for `name` (never the public index when the
    build does not use it)."""
    # Imported here: urllib is only needed when explaining a failure.
    from lambdalayer.build.index import ask_indexes
    from lambdalayer.build.indexes import query_plan

    plan = query_plan(inputs.index, [f.text for f in inputs.files])
    return ask_indexes(name, plan)


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
    started: StartedUv | None = None,
) -> Resolution:
    """Install `inputs` for `target` into the empty directory `dest`.

    `started`: uv already running with `first_attempt_args` for this target and
    `dest` (build.py starts it before importing the pipeline); its result is
    used as the first attempt.

    Raises ResolutionError naming the package, the target, what the index offers
    and a known alternative when there is no installable set of wheels.
    """
    if inputs.empty:  # a layer of your own files only: nothing to install
        dest.mkdir(parents=True, exist_ok=True)
        return Resolution(target=target, tree=dest, dists=(), built_from_sdist=())
    no_binary: set[str] = set()
    # Exact pins (a lock file, a recipe) usually name the whole closure: then
    # uv need not fetch metadata to resolve, as with `uv pip sync`. Whether
    # they really do is checked after installing; if not, resolve normally.
    no_deps = inputs.exact_pins() is not None
    for _attempt in range(_MAX_SDIST_RETRIES + 1):
        args = _uv_args(inputs, target, dest, no_binary, no_deps=no_deps)
        if progress:
            progress(f"resolving for {target}")
        if started is not None and started.args == tuple(args):
            result = wait_uv(started)
        else:
            if started is not None:
                started.stop()
            if dest.exists():
                shutil.rmtree(dest)
            result = run_uv(args)
        started = None
        if result.returncode == 0:
            dists = tuple(read_installed(dest))
            if no_deps and not _closed(dists, inputs, target):
                no_deps = False
                continue
            notes = _check_fit(dists, target, no_binary)
            return Resolution(target=target, tree=dest, dists=dists,
                              built_from_sdist=tuple(sorted(no_binary)), notes=notes)
        cause = _uv_cause(result.stderr)
        missing = _NOT_FOUND.search(result.stderr)
        if missing:
            raise ResolutionError(
                f"{missing.group(1)} was not found on the package index.",
                hint="Check the spelling (`pip index versions NAME`) or the index URL.",
            )
        needs = _NEEDS_WHEEL.search(result.stderr)
        if not needs:
            raise ResolutionError(f"Cannot resolve the requirements for {target}: {cause}")
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
