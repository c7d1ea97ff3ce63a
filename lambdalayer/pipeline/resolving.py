"""The resolve stage: each target's requirements -> the artifacts to build.

Takes `Resolving` (the layer's name, each target's inputs) and the targets; gives one
`LayerPlan` per artifact: one for a pure-Python layer (one resolution shared by every
target, or one per runtime when markers differ), one per architecture for native code.
UsageError when native code needs runtimes the request did not name.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lambdalayer.common.errors import UsageError
from lambdalayer.common.progress import Progress
from lambdalayer.common.uvtool import StartedUv
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.resolve.resolution import Resolution, shareable
from lambdalayer.resolve.resolver import resolve_for_target
from lambdalayer.targets.runtimes import load_runtime_table
from lambdalayer.targets.target import Target


@dataclass(frozen=True, kw_only=True)
class Resolving:
    """What the resolve stage takes from the request."""

    name: str  # the layer's; a native layer's zips are NAME-ARCH, one per architecture
    inputs: Mapping[str, RequirementInputs]  # str(target) -> what it installs (its lock)
    # --runtime given, or a recipe (reviewed): native code may use every current runtime.
    runtimes_chosen: bool

    def of(self, target: Target) -> RequirementInputs:
        return self.inputs[str(target)]


@dataclass(kw_only=True)
class LayerPlan:
    """One artifact to produce: its targets and the resolutions that fill it."""

    name: str
    targets: list[Target]
    shared: bool  # one python/ tree valid for all targets
    resolutions: list[Resolution] = field(default_factory=list)


def _resolve_many(wanted: Resolving, targets: list[Target], work: Path,
                  progress: Progress | None, start: int, probe: Resolution) -> list[Resolution]:
    """Resolve for several targets at once (uv is I/O bound: threads suffice), from uv's
    cache alone where the index pages `probe` just read decide it all (resolve_for_target).

    Four at a time: the uv runs share uv's cache (its locks on the same index pages and
    wheels), and more side by side is slower, not faster: nine warm-cache resolves took
    a median 2.7 s four at a time, 3.5 s two at a time and 6.9 s all at once (2 cores)."""
    fresh = frozenset(d.name for d in probe.dists)
    built = frozenset(probe.built_from_sdist)
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(targets)))) as pool:
        return list(pool.map(
            lambda item: resolve_for_target(wanted.of(item[1]), item[1],
                                            work / f"resolve-{item[0]}", progress=progress,
                                            fresh=fresh, built=built),
            enumerate(targets, start=start),
        ))


def resolve_all(wanted: Resolving, targets: list[Target], work: Path,
                progress: Progress | None, started: StartedUv | None = None) -> list[LayerPlan]:
    """Resolve as few times as the result allows.

    One resolution serves every target when it is shareable; a pure result that
    differs per runtime needs one per runtime; native code needs one per target.
    `started` is uv already running for the first target (requirements.start_install).
    """
    # With lock files, one tree serves several targets only if their locks say the same.
    locks = {str(t): wanted.of(t).fingerprint() for t in targets}
    probe = resolve_for_target(wanted.of(targets[0]), targets[0], work / "resolve-0",
                               progress=progress, started=started)
    if len(set(locks.values())) == 1 and shareable(
            probe, wanted.of(targets[0]).all_requirements, targets):
        return [LayerPlan(name=wanted.name, targets=targets, shared=True, resolutions=[probe])]
    by_runtime: dict[str, list[Target]] = {}
    for target in targets:
        by_runtime.setdefault(target.runtime.name, []).append(target)
    if probe.dists and all(d.is_pure for d in probe.dists):
        firsts = [group[0] for group in by_runtime.values()]
        per_runtime = [probe, *_resolve_many(wanted, firsts[1:], work, progress, 1, probe)]
        if all(shareable(res, wanted.of(res.target).all_requirements,
                         by_runtime[res.target.runtime.name]) for res in per_runtime) and all(
                len({locks[str(t)] for t in group}) == 1 for group in by_runtime.values()):
            return [LayerPlan(name=wanted.name, targets=targets, shared=False,
                              resolutions=per_runtime)]
    native = sorted({d.display_name for d in probe.dists if not d.is_pure})
    # A recipe is reviewed: its native layers may default to every current runtime.
    if native and not wanted.runtimes_chosen:
        raise UsageError(
            f"The layer contains native code ({', '.join(native)}), so it must be built for "
            "specific runtimes. Name them with --runtime (e.g. --runtime python3.12), "
            "and --arch when you need only one architecture."
        )
    resolutions = [probe, *_resolve_many(wanted, targets[1:], work, progress, len(targets),
                                         probe)]
    archs = sorted({t.arch for t in targets}, key=list(load_runtime_table().architectures).index)
    plans = []
    for arch in archs:
        name = wanted.name if len(archs) == 1 else f"{wanted.name}-{arch}"
        chosen = [r for r in resolutions if r.target.arch == arch]
        plans.append(LayerPlan(name=name, targets=[r.target for r in chosen], shared=False,
                               resolutions=chosen))
    return plans
