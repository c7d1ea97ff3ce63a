"""The proof stage: each layer imported on its targets' CPython before anything is written.

Takes `Proving` (the request's proof options, what it asked for, your own code) and
one laid-out layer; gives its `ArtifactProof`. ProofFailed (exit 6) when an import
fails, with the pin that fixes a pair of distributions that no longer fit together
(pipeline/pairfix.py); under --fix-pairs, PinsFound instead when every such pair has
one. ProofNotRun (exit 7) under `--proof required` when a target could not run here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.archive.zipwriter import zips_as_is
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import ProofFailed, ProofNotRun
from lambdalayer.common.progress import Progress
from lambdalayer.interpreters.configured import ConfiguredInterpreters
from lambdalayer.owncode.sources import IncludedPath, SourceFolder
from lambdalayer.pipeline.pairfix import AppliedPin, PairSearch
from lambdalayer.pipeline.resolving import LayerPlan
from lambdalayer.proof.conflicts import Conflict
from lambdalayer.proof.prove import (
    ArtifactProof,
    Overlap,
    dist_modules,
    prove_layer,
    provided_modules,
    skipped,
)
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.resolve.index_settings import IndexSettings
    from lambdalayer.targets.runtime_sdk import RuntimeSdk

Modules = dict[str, dict[str, list[str]]]  # runtime -> distribution -> top-level modules
# pairfix.search_pairs with the request (its inputs, interpreters and --fix-pairs) bound.
PairSearcher = Callable[[Sequence[Target], Sequence[Conflict], Path, Progress | None,
                         Mapping[str, str] | None], PairSearch]


@dataclass(frozen=True, kw_only=True)
class Proving:
    """What the proof takes from the request."""

    skip: bool  # --no-proof (or proof = false in the config)
    imports: tuple[str, ...]  # --proof-import, else the recipe's: import these only
    inputs: RequirementInputs  # the requested distributions are the ones imported
    local_projects: frozenset[str]  # always imported as requested distributions
    sources: tuple[SourceFolder, ...]  # your own code, imported as "your code (...)"
    includes: tuple[IncludedPath, ...]
    excludes: tuple[str, ...]  # what --exclude left out is not expected to import
    test_report: bool  # --test-report: import what `lambdalayer test` of the zip would
    interpreters: ConfiguredInterpreters
    out_dir: Path  # the proof's bytecode cache is kept per output zip
    sandbox_required: bool  # --proof-sandbox required
    required: bool  # --proof required: a target not run here refuses the build
    fix_pairs: bool
    search_pairs: PairSearcher


class PinsFound(Exception):
    """Raised by prove under --fix-pairs when a working pin was found for every pair
    that no longer fits: stages.run_pipeline builds again with them, or (after one
    round) raises `refusal`, the error without the flag."""

    def __init__(self, pins: tuple[AppliedPin, ...], refusal: ProofFailed) -> None:
        super().__init__(", ".join(p.pin.spec for p in pins))
        self.pins = pins
        self.refusal = refusal


def zip_beside_proof(proving: Proving) -> bool:
    """Whether each zip is written while its layer is proven (pipeline/zips.py): only
    when the proof runs in a box, which shows it the tree read-only."""
    if proving.skip:
        return False
    from lambdalayer.proof.sandbox import find_sandbox

    # Asked here, before any layer is laid out: a required box that cannot be made
    # refuses the build now (exit 8) rather than after resolution and audit.
    return find_sandbox(required=proving.sandbox_required).boxed


def _runtime_sdks(index: IndexSettings, targets: Sequence[Target],
                  excluded: frozenset[str]) -> dict[str, RuntimeSdk]:
    """The SDK each runtime ships, installed for the proof when the layer leaves boto3 or
    botocore out for the runtime to provide (`--exclude :runtime:`); else none."""
    if not {"boto3", "botocore"} & excluded:
        return {}
    from lambdalayer.resolve.runtime_sdk import runtime_sdk

    first = {t.runtime.name: t for t in reversed(targets)}
    return {name: runtime_sdk(target, index) for name, target in first.items()}


def prove(proving: Proving, layer: LayerPlan, root: Path,
          site_dirs: dict[Path, list[InstalledDist]], site_targets: dict[Path, Target],
          progress: Progress | None, *, alone: bool = False,
          overlap: Overlap | None = None) -> ArtifactProof:
    """Import the layer on each target's CPython; ProofFailed when an import fails.
    `alone`: no other layer is proven meanwhile (prove_layer's `spare_cores`);
    `overlap`: the caller audits meanwhile (prove_layer's)."""
    if proving.skip:
        return skipped("--no-proof (or proof = false in the config)")
    listed = proving.imports
    dependencies: Modules = {}
    if listed:
        modules = {t.runtime.name: {name: [name] for name in listed} for t in layer.targets}
    else:
        modules, dependencies = _requested_modules(proving, layer, root, site_dirs,
                                                   site_targets)
    versions = {d.display_name: d.version for dists in site_dirs.values() for d in dists}
    if progress:
        progress(f"proving {layer.name}")
    from lambdalayer.shrink.exclude import expand_excludes

    excluded = expand_excludes(proving.excludes)
    provided = provided_modules(excluded)
    # With --test-report, the proof imports what `lambdalayer test` of the zip would, and the
    # CLI reports those runs instead of importing again: one interpreter run per target.
    # Only when the zip will hold this tree as it is; else --test-report tests the zip.
    test_imports = tuple(listed) if proving.test_report and zips_as_is(root) else None
    proof = prove_layer(root, layer.targets, modules, provided, test_imports=test_imports,
                        configured=proving.interpreters, dependencies=dependencies,
                        versions=versions,
                        bytecode_scope=str(proving.out_dir.resolve() / layer.name),
                        spare_cores=alone,
                        own=frozenset(n for mods in modules.values() for n in mods
                                      if n.startswith("your code (")),
                        sandbox_required=proving.sandbox_required,
                        runtime_sdk=_runtime_sdks(proving.inputs.index, layer.targets,
                                                  excluded), overlap=overlap)
    if proof.status == "failed":
        _refuse(proving, layer, root, proof, versions, progress)
    if proving.required:
        _require_every_target(layer.name, proof)
    return proof


def _refuse(proving: Proving, layer: LayerPlan, root: Path, proof: ArtifactProof,
            versions: dict[str, str], progress: Progress | None) -> None:
    """ProofFailed with the interpreter's own errors and the fix; PinsFound when
    --fix-pairs has a working pin for every pair that no longer fits."""
    failures = "\n".join(f"  {failure}" for failure in proof.failures[:10])
    what = ("your code or the requirements" if any(
        "(your code (" in failure for failure in proof.failures) else "the requirements")
    hint = (f"Fix {what} (the fix line says what is likely missing), or build "
            "with --no-proof to skip the proof (the audit still runs).")
    search = (proving.search_pairs(layer.targets, proof.conflicts, root.parent, progress,
                                   versions) if proof.conflicts else None)
    if search is not None:
        hint = (search.advice() + "Or build with --no-proof to skip the proof (the "
                "audit still runs).")
    refusal = ProofFailed(
        f"The layer {layer.name} does not import on its target (the interpreter's own "
        f"error below); no zip was written.\n{failures}", hint=hint)
    if search is not None and proving.fix_pairs and search.complete:
        raise PinsFound(search.pins, refusal)
    raise refusal


def _require_every_target(name: str, proof: ArtifactProof) -> None:
    """`--proof required`: ProofNotRun (exit 7) when a target's proof was skipped here."""
    not_run = [t for t in proof.targets if t.status == "skipped"]
    if not not_run:
        return
    reasons = "\n".join(f"  {t.target}: {t.reason}" for t in not_run)
    raise ProofNotRun(
        f"The import proof of {name} is required (--proof required, LAMBDALAYER_PROOF or the "
        f"config's proof) but could not run on this host for {len(not_run)} target"
        f"{'s' * (len(not_run) != 1)}; no zip was written.\n{reasons}",
        hint="Fix: provision an interpreter as the reason says (`lambdalayer interpreters add`, "
             "docs/commands/interpreters.md), or build on a host of the target's architecture "
             "(in CI: an arm64 runner for arm64, the fan-out in docs/ci.md); or give --proof "
             "best-effort to write the zip with these targets not proven.")


def _import_dirs(root: Path, targets: Sequence[Target]) -> dict[Path, list[str]]:
    """The layer's directories Lambda's Python imports from -> the runtimes that do:
    python/ for every runtime, each python/lib/pythonX.Y/site-packages for its own."""
    dirs = {root / "python": sorted({t.runtime.name for t in targets})}
    for target in targets:
        runtimes = dirs.setdefault(root / target.site_packages, [])
        if target.runtime.name not in runtimes:
            runtimes.append(target.runtime.name)
    return dirs


def _own_modules(proving: Proving, root: Path, targets: Sequence[Target],
                 site_dirs: dict[Path, list[InstalledDist]]) -> dict[str, dict[str, set[str]]]:
    """Per runtime, the top-level modules of your --source and --include code, each piece
    named as "your code (--source src)"."""
    from lambdalayer.owncode.sources import own_code_modules

    dirs = _import_dirs(root, targets)
    own: dict[str, dict[str, set[str]]] = {}
    for name, per_dir in own_code_modules(proving.sources, proving.includes, root,
                                          site_dirs, dirs).items():
        for directory, found in per_dir.items():
            for runtime in dirs.get(directory, dirs[root / "python"]):
                own.setdefault(runtime, {}).setdefault(name, set()).update(found)
    return own


def _requested_modules(proving: Proving, layer: LayerPlan, root: Path,
                       site_dirs: dict[Path, list[InstalledDist]],
                       site_targets: dict[Path, Target]) -> tuple[Modules, Modules]:
    """Per runtime, each requested distribution's top-level modules (every distribution
    when none matched, e.g. a uv.lock; local projects always) and those of your --source
    and --include code (named "your code (...)"), and the modules of every distribution
    of the layer (dependencies included)."""
    from packaging.utils import canonicalize_name

    requested = {canonicalize_name(r.name) for r in proving.inputs.all_requirements}
    modules: dict[str, dict[str, set[str]]] = {}
    every: dict[str, dict[str, set[str]]] = {}
    own = _own_modules(proving, root, layer.targets, site_dirs)
    for site, dists in site_dirs.items():
        # A shared tree (python/) serves every target; a per-runtime tree only its own.
        runtimes = (sorted({t.runtime.name for t in layer.targets})
                    if layer.shared or site not in site_targets
                    else [site_targets[site].runtime.name])
        for dist in dists:
            found = dist_modules(site, dist.dist_info, dist.files)
            for runtime in runtimes:
                every.setdefault(runtime, {}).setdefault(dist.display_name, set()).update(found)
                if dist.name in requested:
                    modules.setdefault(runtime, {}).setdefault(dist.display_name,
                                                               set()).update(found)
                if dist.name in proving.local_projects:
                    own.setdefault(runtime, {}).setdefault(dist.display_name,
                                                           set()).update(found)
    chosen = {runtime: dict(dists) for runtime, dists in (modules or every).items()}
    for runtime, pieces in own.items():
        chosen.setdefault(runtime, {}).update(pieces)

    def listed(by_runtime: dict[str, dict[str, set[str]]]) -> Modules:
        return {runtime: {name: sorted(mods) for name, mods in dists.items() if mods}
                for runtime, dists in by_runtime.items()}

    return listed(chosen), listed(every)
