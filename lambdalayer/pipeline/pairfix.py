"""The fix for two distributions of a layer that no longer fit together.

When the proof finds that one distribution fails to import because another one
(the provider) lacks what it imports (proof/conflicts.py), older releases of the
provider are tried, newest first: each try resolves the layer again with
`provider<release-that-failed` added and imports the failing distribution's top
level. The first that imports, and whose provider module defines the name the
conflict is about (read from its source: the proof found it missing at the failing
release), gives the advice ("add -p 'amazon-ion<0.13'"). When
none does, a requested package the layer holds older than its newest release is
tried at that release (pyqldb 3.2.4 pins amazon.ion<=0.9.3 where 3.2.2 took any):
its pins may keep the pair in range, or uv says why it cannot be installed. The
number of resolves is bounded: each costs a uv run and an interpreter start.

With `build --fix-pairs` the pins found are applied instead of advised (stages.py
builds again with them, build_with_pins, and records them in the manifest's inputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lambdalayer.common.errors import LambdaLayerError
from lambdalayer.common.progress import Progress
from lambdalayer.pipeline.request import BuildRequest, BuildResult
from lambdalayer.proof.conflicts import Conflict, defines
from lambdalayer.proof.prove import dist_modules, prove_layer
from lambdalayer.resolve.install import lay_out
from lambdalayer.resolve.newest import newest_offer
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.resolve.resolution import Resolution
from lambdalayer.resolve.resolver import resolve_for_target
from lambdalayer.targets.target import Target

MAX_TRIES = 5


@dataclass(frozen=True, kw_only=True)
class WorkingPin:
    """`spec` ("amazon-ion<0.13") makes the layer hold `name` at `version`, with which
    the conflicting distribution imports."""

    name: str
    spec: str
    version: str


def find_working_pin(request: BuildRequest, target: Target, conflict: Conflict, work: Path,
                     progress: Progress | None = None, *,
                     tries: int = MAX_TRIES) -> WorkingPin | str | None:
    """The newest release of the provider below the failing one with which
    `conflict.dist` imports, within `tries` resolves; why not when a resolve failed;
    None when no try imported (or the host cannot import for `target`)."""
    inputs = request.inputs_for(target)
    if inputs.exact_pins() is not None:
        return None  # a lock file: the user chooses what to change
    provider = canonicalize_name(conflict.provider)
    failing = conflict.provider_version
    for attempt in range(tries):
        spec = f"{conflict.provider}<{_series(failing)}"
        try:
            resolution = _resolve_with(spec, inputs, target, work / f"pairfix-{attempt}",
                                       progress)
        except LambdaLayerError as err:
            # Nothing older fits the other requirements: uv's reason is the advice.
            return f"with {spec} the requirements cannot be resolved ({err.message})"
        held = {d.name: d for d in resolution.dists}
        chosen = held.get(provider)
        if chosen is None or chosen.version == failing:
            return None
        status = _dist_imports(request, target, conflict, resolution,
                               work / f"pairfix-layer-{attempt}")
        if status == "passed":
            return WorkingPin(name=conflict.provider, spec=spec, version=chosen.version)
        if status != "failed":
            return None
        failing = chosen.version
    return None


def _dist_imports(request: BuildRequest, target: Target, conflict: Conflict,
                  resolution: Resolution, root: Path) -> str:
    """The proof's status ("passed", "failed", "skipped"...) for importing the conflicting
    distribution's top level from `resolution` laid out in `root`; "absent" when the
    resolution does not hold it or it has no module to import; "unconfirmed" when it
    imports but the provider's module still does not define the conflict's name."""
    dependent = {d.name: d for d in resolution.dists}.get(canonicalize_name(conflict.dist))
    if dependent is None:
        return "absent"
    site = lay_out(resolution.tree, root, target.site_packages)
    modules = dist_modules(site, dependent.dist_info, dependent.files)
    if not modules:
        return "absent"
    proof = prove_layer(root, [target], {target.runtime.name: {conflict.dist: modules}},
                        configured=request.interpreters,
                        sandbox_required=request.proof_sandbox == "required")
    if proof.status == "passed" and defines([site], conflict.module, conflict.name) is not True:
        # It imports, but not because the provider now has the name the conflict is
        # about: the pin would rest on the failing code's word, not on the analysis.
        return "unconfirmed"
    return proof.status


def newest_release_pin(request: BuildRequest, target: Target, conflict: Conflict,
                       versions: Mapping[str, str], work: Path,
                       progress: Progress | None = None) -> WorkingPin | str | None:
    """A requested package that the layer holds (`versions`: name -> version) older than
    the index's newest release, tried at that release (at most two of them): the pin
    when the conflicting distribution then imports, why not when it cannot be
    installed, None when no such release exists or it does not help."""
    inputs = request.inputs_for(target)
    if inputs.exact_pins() is not None or inputs.index.offline:
        return None
    held = {canonicalize_name(name): version for name, version in versions.items()}
    requested = {canonicalize_name(r.name): r for r in inputs.all_requirements
                 if canonicalize_name(r.name) not in inputs.direct_names}  # yours: never asked
    tried = 0
    for name, requirement in requested.items():
        if tried >= 2 or name not in held:
            continue
        offer = newest_offer(name, inputs).offer
        if (offer is None
                or not _newer(offer.version, held[name])
                or not requirement.specifier.contains(offer.version, prereleases=True)):
            continue
        tried += 1
        spec = f"{requirement.name}=={offer.version}"
        try:
            resolution = _resolve_with(spec, inputs, target, work / f"pairfix-newest-{tried}",
                                       progress)
        except LambdaLayerError as err:
            return (f"Nor can {requirement.name} {offer.version}, its newest release (the "
                    f"layer has {held[name]}), be installed for {target}: {err.message}")
        status = _dist_imports(request, target, conflict, resolution,
                               work / f"pairfix-newest-layer-{tried}")
        if status == "passed":
            return WorkingPin(name=requirement.name, spec=spec, version=offer.version)
    return None


def _resolve_with(spec: str, inputs: RequirementInputs, target: Target, dest: Path,
                  progress: Progress | None) -> Resolution:
    """The layer's requirements for `target` with `spec` added, resolved into `dest`."""
    if progress:
        progress(f"trying {spec}")
    return resolve_for_target(dataclasses.replace(inputs, specs=(*inputs.specs, spec)),
                              target, dest)


def _newer(version: str, than: str) -> bool:
    try:
        return Version(version) > Version(than)
    except InvalidVersion:
        return False


def _series(version: str) -> str:
    """The release series of `version` ("0.14.6" -> "0.14"): below it is the next older
    series, so each try skips the patch releases that share the failing API."""
    try:
        release = Version(version).release
    except InvalidVersion:
        return version
    return ".".join(str(part) for part in release[:2]) if len(release) > 1 else version


@dataclass(frozen=True, kw_only=True)
class AppliedPin:
    """A working pin `build --fix-pairs` adds to the requirements, and the conflict it
    fixes (recorded in the manifest's inputs as `applied_pins`)."""

    conflict: Conflict
    pin: WorkingPin

    def line(self) -> str:
        """The one warning line that says what was pinned and why."""
        c = self.conflict
        return (f"applied {self.pin.spec} (--fix-pairs): {c.dist} {c.version} needs "
                f"`{c.name}` from {c.provider}, which {c.provider} {c.provider_version} does "
                f"not have; the layer holds {self.pin.name} {self.pin.version} because of "
                f"this pin (not the newest release), and with it {c.dist} imports. "
                f"Add -p '{self.pin.spec}' to your requirements to make the pin explicit.")

    def record(self) -> dict[str, str]:
        c = self.conflict
        return {"spec": self.pin.spec, "version": self.pin.version, "dist": c.dist,
                "dist_version": c.version, "provider": c.provider,
                "provider_version": c.provider_version, "name": c.name}


@dataclass(frozen=True, kw_only=True)
class PairSearch:
    """What the search found for the conflicts it tried (at most two): one advice
    sentence or more each, and the working pins; `complete` when every one has a pin."""

    sentences: tuple[str, ...]
    pins: tuple[AppliedPin, ...]
    complete: bool

    def advice(self) -> str:
        """The sentences as one hint, ending with a space."""
        return " ".join(self.sentences) + " "


def search_pairs(request: BuildRequest, targets: Sequence[Target],
                 conflicts: Sequence[Conflict], work: Path,
                 progress: Progress | None = None,
                 versions: Mapping[str, str] | None = None) -> PairSearch:
    """For each conflict (at most two are searched): the pin that works, or that none
    was found among the releases tried (and, with `versions`, the layer's
    distributions, what the newest release of a requested package gave)."""
    sentences: list[str] = []
    pins: list[AppliedPin] = []
    searched = conflicts[:2]
    # Named only where it would help: with the flag on, the pins were applied already.
    fix = "" if request.fix_pairs else "; --fix-pairs applies it and builds"
    for conflict in searched:
        pin = find_working_pin(request, targets[0], conflict, work, progress)
        if isinstance(pin, WorkingPin):
            pins.append(AppliedPin(conflict=conflict, pin=pin))
            sentences.append(
                f"{conflict.dist} imports with {conflict.provider} {pin.version}: add "
                f"-p '{pin.spec}' (or pin {conflict.provider} in your requirements{fix}).")
            continue
        newest = (newest_release_pin(request, targets[0], conflict, versions, work, progress)
                  if versions is not None else None)
        if isinstance(newest, WorkingPin):
            pins.append(AppliedPin(conflict=conflict, pin=newest))
            sentences.append(
                f"{conflict.dist} imports with the newest {newest.name}, "
                f"{newest.version}: add -p '{newest.spec}'{f' ({fix[2:]})' if fix else ''}.")
        else:
            sentences.append(
                f"No older release of {conflict.provider} tried (at most {MAX_TRIES}) made "
                f"{conflict.dist} import{f' ({pin})' if pin else ''}: pin "
                f"{conflict.provider} to a release that still has `{conflict.name}`, or use "
                f"another release of {conflict.dist} or of what requires it.")
            if newest:
                sentences.append(newest)
    return PairSearch(sentences=tuple(sentences), pins=tuple(pins),
                      complete=bool(searched) and len(pins) == len(searched)
                      and len(conflicts) == len(searched))


def build_with_pins(pins: Sequence[AppliedPin], request: BuildRequest, record: dict[str, Any],
                    work: Path, progress: Progress | None,
                    build: Callable[[BuildRequest, dict[str, Any], Path], BuildResult]
                    ) -> BuildResult:
    """`build --fix-pairs`: `build` (stages.run_pipeline's one pass) of `request` once more
    with `pins` added, in work/pinned, the manifest's inputs recording them as
    `applied_pins`; one warning line per pin. A refusal says it was the build again."""
    specs = tuple(dict.fromkeys(p.pin.spec for p in pins))  # two pairs may share one
    if progress:
        progress(f"building again with {', '.join(specs)} (--fix-pairs)")
    add = dataclasses.replace
    pinned = add(request, inputs=add(request.inputs, specs=(*request.inputs.specs, *specs)),
                 target_inputs={t: add(i, specs=(*i.specs, *specs))
                                for t, i in request.target_inputs.items()})
    again = work / "pinned"
    again.mkdir()
    try:
        result = build(pinned, {**record, "applied_pins": [p.record() for p in pins]}, again)
    except LambdaLayerError as err:
        err.hint = (f"(This was the build again with {', '.join(specs)} applied by "
                    f"--fix-pairs.) {err.hint or ''}").strip()
        raise
    # The resolver's "your requirement `ll-ion<0.13` excludes it" is this pin, which
    # the user did not write: the pin's own line says what it is.
    ours = tuple(f"your requirement `{Requirement(spec)}`" for spec in specs)
    kept = tuple(w for w in result.warnings if not any(mark in w for mark in ours))
    return dataclasses.replace(result, warnings=(*(p.line() for p in pins), *kept))
