"""The build pipeline proper: resolve -> install -> shrink -> size -> audit -> proof -> archive.

Outputs:
- pure Python and the same for every target: one `NAME.zip` with `python/`;
- pure Python but different per runtime (environment markers): one zip with a
  `python/lib/pythonX.Y/site-packages/` tree per runtime;
- native code: one zip per architecture (`NAME-ARCH.zip` when there are
  several), each with a site-packages tree per runtime.
Nothing is written to the output directory until every artifact has passed the
size check and the audit.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement

from lambdalayer import __version__
from lambdalayer.archive.manifest import (
    FindingRecord,
    Manifest,
    PackageRecord,
    ProofRecord,
    manifest_lock,
    manifest_path_for,
    read_manifest,
)
from lambdalayer.archive.record import rewrite_records
from lambdalayer.archive.zipwriter import zips_as_is
from lambdalayer.common import interrupt
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import (
    AuditError,
    LambdaLayerError,
    ProofFailed,
    ProofNotRun,
    UsageError,
)
from lambdalayer.common.fileio import (
    FileStamp,
    changed_files,
    replace_retrying,
    tree_stamps,
    write_atomic,
)
from lambdalayer.common.limits import UNZIPPED_LIMIT
from lambdalayer.common.progress import Progress
from lambdalayer.common.uvtool import StartedUv
from lambdalayer.pipeline.pairfix import AppliedPin, search_pairs
from lambdalayer.pipeline.plan import TargetPlan
from lambdalayer.pipeline.request import Artifact, BuildRequest, BuildResult
from lambdalayer.pipeline.zips import LayerZips
from lambdalayer.proof.compile import CompileReport, compile_layer, require_interpreters
from lambdalayer.proof.prove import (
    ArtifactProof,
    dist_modules,
    prove_layer,
    provided_modules,
    skipped,
)
from lambdalayer.reports.sizing import (
    SavingsEstimate,
    SizeReport,
    estimate_savings,
    measure,
    refusal_breakdown,
    with_compressed,
)
from lambdalayer.resolve.install import lay_out
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.resolve.resolver import Resolution, resolve_for_target
from lambdalayer.resolve.sources import own_code_files, place_includes, place_sources
from lambdalayer.shrink.apply import ShrinkOptions, shrink_layer
from lambdalayer.supply.inventory import refuse_denied_licences
from lambdalayer.targets.runtimes import load_runtime_table
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.audit.findings import AuditReport, Finding, FindingGroup
    from lambdalayer.pipeline.wheel_reuse import WheelStreams


# The stages `build --verbose` times. "index query" is the time resolution waited on the
# newest-release answers (they are asked while uv resolves); "resolve" excludes it.
STAGES = ("resolve", "index query", "install", "shrink", "audit", "proof", "zip")


class _Clock:
    """Wall-clock seconds spent in each stage, summed over the artifacts."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def timings(self) -> tuple[tuple[str, float], ...]:
        return tuple(self.seconds.items())


@dataclass(kw_only=True)
class _Plan:
    """One artifact to produce: its targets and the resolutions that fill it."""

    name: str
    targets: list[Target]
    shared: bool  # one python/ tree valid for all targets
    resolutions: list[Resolution] = field(default_factory=list)


def _markers_agree(requirements: list[Requirement], extras: tuple[str, ...],
                   targets: list[Target]) -> bool:
    for req in requirements:
        if req.marker is None:
            continue
        for extra in ("", *extras):
            if len({t.evaluate(req.marker, extra) for t in targets}) > 1:
                return False
    return True


def _shareable(resolution: Resolution, inputs: RequirementInputs, targets: list[Target]) -> bool:
    """True when one pure-Python tree is exactly right for every target.

    That needs every wheel to be pure, every Requires-Python to admit every
    target, and every environment marker involved to evaluate the same on all.
    """
    if not _markers_agree(inputs.all_requirements, (), targets):
        return False
    for dist in resolution.dists:
        if not dist.is_pure:
            return False
        if dist.requires_python is not None and not all(
            dist.requires_python.contains(f"{t.runtime.python_version}.99") for t in targets
        ):
            return False
        if not _markers_agree(list(dist.requires), dist.extras, targets):
            return False
    return True


def _resolve_many(request: BuildRequest, targets: list[Target], work: Path,
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
            lambda item: resolve_for_target(request.inputs_for(item[1]), item[1],
                                            work / f"resolve-{item[0]}", progress=progress,
                                            fresh=fresh, built=built),
            enumerate(targets, start=start),
        ))


def _resolve_all(request: BuildRequest, targets: list[Target], work: Path,
                 progress: Progress | None, started: StartedUv | None = None) -> list[_Plan]:
    """Resolve as few times as the result allows.

    One resolution serves every target when it is shareable; a pure result that
    differs per runtime needs one per runtime; native code needs one per target.
    """
    probe = resolve_for_target(request.inputs_for(targets[0]), targets[0], work / "resolve-0",
                               progress=progress, started=started)
    # With lock files, one tree serves all targets only if every lock says the same.
    same_locks = len({request.inputs_for(t).fingerprint() for t in targets}) == 1
    if same_locks and _shareable(probe, request.inputs_for(targets[0]), targets):
        return [_Plan(name=request.name, targets=targets, shared=True, resolutions=[probe])]
    by_runtime: dict[str, list[Target]] = {}
    for target in targets:
        by_runtime.setdefault(target.runtime.name, []).append(target)
    if probe.dists and all(d.is_pure for d in probe.dists):
        firsts = [group[0] for group in by_runtime.values()]
        per_runtime = [probe, *_resolve_many(request, firsts[1:], work, progress, 1, probe)]
        if all(_shareable(res, request.inputs_for(res.target),
                          by_runtime[res.target.runtime.name]) for res in per_runtime) and all(
                len({request.inputs_for(t).fingerprint() for t in group}) == 1
                for group in by_runtime.values()):
            return [_Plan(name=request.name, targets=targets, shared=False,
                          resolutions=per_runtime)]
    native = sorted({d.display_name for d in probe.dists if not d.is_pure})
    # A recipe is reviewed: its native layers may default to every current runtime.
    if native and not (request.runtimes or request.recipe):
        raise UsageError(
            f"The layer contains native code ({', '.join(native)}), so it must be built for "
            "specific runtimes. Name them with --runtime (e.g. --runtime python3.12), "
            "and --arch when you need only one architecture."
        )
    resolutions = [probe, *_resolve_many(request, targets[1:], work, progress, len(targets),
                                                  probe)]
    archs = sorted({t.arch for t in targets}, key=list(load_runtime_table().architectures).index)
    plans = []
    for arch in archs:
        name = request.name if len(archs) == 1 else f"{request.name}-{arch}"
        chosen = [r for r in resolutions if r.target.arch == arch]
        plans.append(_Plan(name=name, targets=[r.target for r in chosen], shared=False,
                           resolutions=chosen))
    return plans


_MAX_GROUPS = 5


def _grouped(errors: list[Finding]) -> str:
    """A refusal that fits a screen: per package and advice, one line naming what is
    wrong (the missing libraries, with a file count) and one line of advice."""
    from lambdalayer.audit.findings import group_findings

    clusters: dict[tuple[str, tuple[str, ...], str], list[FindingGroup]] = {}
    for group in group_findings(errors):
        advice = _advice(group.example.message) if group.subject else group.example.message
        clusters.setdefault((group.code, group.packages, advice), []).append(group)
    lines = []
    for (code, packages, advice), groups in list(clusters.items())[:_MAX_GROUPS]:
        paths = list(dict.fromkeys(p for g in groups for p in g.paths))
        subjects = ", ".join(g.subject for g in groups if g.subject)
        what = f"{code} {subjects}" if subjects else code
        shown = (", ".join(p or "(layer)" for p in paths) if len(paths) <= 3
                 else f"e.g. {paths[0]}")
        where = ", ".join(packages) or "the layer"
        absent = re.search(r"neither in the layer nor on ([^:(]+)", groups[0].example.message)
        why = f"not on {absent.group(1).strip()}; " if absent else ""
        lines.append(f"  {what}: {why}{len(paths)} file{'s' * (len(paths) != 1)} in {where} "
                     f"({shown}):")
        lines.append(f"    {advice}")
    if len(clusters) > _MAX_GROUPS:
        lines.append(f"  ... and {len(clusters) - _MAX_GROUPS} more kinds of error.")
    return "\n".join(lines)


def _advice(message: str) -> str:
    """What to do, from a finding about one library or symbol: its message after the
    statement of what fails (the sentence ending in "cannot open shared object file.")."""
    marker = "cannot open shared object file. "
    return message.split(marker, 1)[1] if marker in message else message


def _audit(root: Path, targets: list[Target], allow: frozenset[str],
           name: str) -> list[FindingRecord]:
    """Run the native-extension audit; AuditError on errors. `name` is the layer the
    printed fixes rebuild."""
    from lambdalayer.audit import audit_layer  # preloaded in a thread by run_pipeline

    return _records(audit_layer(root, targets, allow=allow, layer=name))


def _records(report: AuditReport, note: str = "") -> list[FindingRecord]:
    """The findings to keep, or AuditError when there are errors (`note` starts the
    list of what is wrong)."""
    records = [FindingRecord(severity=f.severity, code=f.code, path=f.path, message=f.message,
                             package=f.package, load=f.load) for f in report.findings]
    if report.errors:
        raise AuditError(
            f"The layer would not load on its target ({len(report.errors)} error(s)); "
            f"no zip was written.\n{note}{_grouped(report.errors)}",
            hint="Fix the requirements, or pass --allow CODE to accept a finding you have "
                 "checked yourself. Every file: --verbose or --json.",
            details=tuple(f.as_dict() for f in report.errors),
        )
    return records


def _confirm_closure(root: Path, targets: list[Target], allow: frozenset[str], name: str,
                     findings: list[FindingRecord],
                     proof: ArtifactProof) -> list[FindingRecord]:
    """The audit's static import closure checked against what the proof's interpreter
    mapped. Files the audit called on-demand are judged again with the mapped files
    (and what they link to) counted as loaded at import: one the imports reached (the
    package opened it with dlopen while importing) has its findings as errors again.
    A file of the closure the imports did not map changes nothing (a lazy import loads
    it later)."""
    mapped = frozenset(m for t in proof.targets for m in (t.mapped or ()))
    on_demand = {f.path for f in findings if f.load == "on-demand"}
    if not mapped or not on_demand:
        return findings
    from lambdalayer.audit import audit_layer

    report = audit_layer(root, targets, allow=allow, layer=name, mapped=mapped)
    missed = sorted({f.path for f in report.findings
                     if f.load == "import" and f.path in on_demand})
    if not missed:
        return findings
    shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
    note = (f"  The import proof loaded {shown} (mapped by the interpreter, or needed by a "
            "file it mapped), which no extension module links to: the package opens it "
            "with dlopen while it imports, so what it needs counts as needed at import, not "
            "on demand.\n")
    return _records(report, note)


def _size_error(name: str, sizes: SizeReport, savings: SavingsEstimate) -> AuditError:
    return AuditError(
        f"{name} is {sizes.total / 1e6:.1f} MB unzipped, over Lambda's 262,144,000-byte "
        f"(250 MiB) limit for a function and its layers; no zip was written.\n"
        f"{refusal_breakdown(sizes, savings)}",
        hint="The limit counts the function and all its layers together: splitting the layer "
             "helps only functions that need just one part.",
    )


def _shrink_options(request: BuildRequest) -> ShrinkOptions:
    """The request's size options; the requirements are parsed only when --exclude needs them."""
    requirements = tuple(request.inputs.all_requirements) if request.excludes else ()
    return ShrinkOptions(excludes=request.excludes, slim=request.slim,
                         slim_patterns=request.slim_patterns, strip=request.strip,
                         requirements=requirements)


class _PinsFound(Exception):
    """Raised by _prove under --fix-pairs when a working pin was found for every pair
    that no longer fits: run_pipeline builds again with them, or (after one round)
    raises `refusal`, the error without the flag. Never leaves this module."""

    def __init__(self, pins: tuple[AppliedPin, ...], refusal: ProofFailed) -> None:
        super().__init__(", ".join(p.pin.spec for p in pins))
        self.pins = pins
        self.refusal = refusal


def run_pipeline(request: BuildRequest, plan: TargetPlan, record: dict[str, Any],
                 inputs_hash: str, *, work: Path, started: StartedUv | None = None,
                 progress: Progress | None = None) -> BuildResult:
    """Resolve, lay out, check and archive every artifact of `request`.

    `work` is an empty scratch directory the caller removes; `started` is uv
    already running for the first target (see layer._start_first_resolution).
    With `request.fix_pairs`, a proof that finds distributions that no longer fit
    together, and the working pin of each, builds once more with the pins added
    (nothing is written before): one warning line per pin, and the manifest's inputs
    record them as `applied_pins`.
    """
    try:
        return _run(request, plan, record, inputs_hash, work=work, started=started,
                    progress=progress)
    except _PinsFound as found:
        pins = found.pins
    specs = tuple(dict.fromkeys(p.pin.spec for p in pins))  # two pairs may share one
    if progress:
        progress(f"building again with {', '.join(specs)} (--fix-pairs)")
    pinned = replace(
        request, inputs=replace(request.inputs, specs=(*request.inputs.specs, *specs)),
        target_inputs={t: replace(i, specs=(*i.specs, *specs))
                       for t, i in request.target_inputs.items()})
    again = work / "pinned"
    again.mkdir()
    try:
        try:
            result = _run(pinned, plan, {**record, "applied_pins": [p.record() for p in pins]},
                          inputs_hash, work=again, progress=progress)
        except _PinsFound as more:  # one round: another pair is refused with its advice
            raise more.refusal from None
    except LambdaLayerError as err:
        err.hint = (f"(This was the build again with {', '.join(specs)} applied by "
                    f"--fix-pairs.) {err.hint or ''}").strip()
        raise
    # The resolver's "your requirement `ll-ion<0.13` excludes it" is this pin, which
    # the user did not write: the pin's own line says what it is.
    ours = tuple(f"your requirement `{Requirement(spec)}`" for spec in specs)
    kept = tuple(w for w in result.warnings if not any(mark in w for mark in ours))
    return replace(result, warnings=(*(p.line() for p in pins), *kept))


def _run(request: BuildRequest, plan: TargetPlan, record: dict[str, Any],
         inputs_hash: str, *, work: Path, started: StartedUv | None = None,
         progress: Progress | None = None) -> BuildResult:
    """One pass of run_pipeline."""
    targets = [Target.parse(runtime, arch) for runtime, arch in plan.pairs]
    warnings = list(plan.warnings)
    compiled: dict[str, CompileReport] = {}
    proofs: dict[str, ArtifactProof] = {}
    if request.compile:
        # A missing interpreter is known now: say so before resolving, not after.
        require_interpreters(list(dict.fromkeys(t.runtime for t in targets)))
    # Import the audit (pyelftools and its rules) while uv resolves: the main
    # thread only waits on a subprocess then, so the import costs no wall time.
    threading.Thread(target=importlib.import_module, args=("lambdalayer.audit",),
                     daemon=True).start()
    if not request.no_proof:  # the proof's box and interpreters, found meanwhile too
        from lambdalayer.proof import warmup

        warmup.start(targets, request.interpreters)
    clock = _Clock()
    from lambdalayer.resolve import index_cache

    waited = index_cache.waited_seconds()
    with clock.stage("resolve"):
        plans = _resolve_all(request, targets, work, progress, started)
    clock.seconds["index query"] = index_cache.waited_seconds() - waited
    clock.seconds["resolve"] -= clock.seconds["index query"]
    # One note per distinct text: a shared tree or several targets repeat them.
    warnings.extend(dict.fromkeys(n for p in plans for r in p.resolutions for n in r.notes))
    record = {**record, "artifacts": [f"{p.name}.zip" for p in plans]}
    from lambdalayer.pipeline.wheel_reuse import start_fetches

    # Fetched while the layers are installed, audited and proven (never before resolving).
    streams = start_fetches(request, [r for p in plans for r in p.resolutions], work)
    partials: list[Path] = []
    zips = LayerZips(request, streams, partials)
    beside_proof = _zip_beside_proof(request)
    try:
        layers = [_Layer(plan=layer, root=work / f"layer-{index}")
                  for index, layer in enumerate(plans)]
        _stage_all(request, layers, clock, compiled, zips, beside_proof, progress)
        for item in layers:  # in the layers' order, however their proofs overlapped
            warnings.extend(item.warnings)
            if item.proof is not None:
                proofs[item.plan.name] = item.proof
        with clock.stage("zip"):
            artifacts = _write_artifacts(request, layers, compiled, warnings, zips,
                                         inputs_hash, record, progress, streams)
    finally:
        zips.close()  # nothing is written into dist/ after this
        streams.finish()
        with interrupt.deferred():  # a signal now would cut the cleanup in half
            for partial in partials:  # left only by a failure or a signal
                # A failed removal (a read-only --out) must not hide the error that got here.
                with contextlib.suppress(OSError):
                    partial.unlink(missing_ok=True)
    return BuildResult(artifacts=tuple(replace(a, proof=proofs.get(a.name))
                                       for a in artifacts), warnings=tuple(warnings),
                       timings=clock.timings())


def _zip_beside_proof(request: BuildRequest) -> bool:
    """Whether each zip is written while its layer is proven (pipeline/zips.py): only
    when the proof runs in a box, which shows it the tree read-only."""
    if request.no_proof:
        return False
    from lambdalayer.proof.sandbox import find_sandbox

    # Asked here, before any layer is laid out: a required box that cannot be made
    # refuses the build now (exit 8) rather than after resolution and audit.
    return find_sandbox(required=request.proof_sandbox == "required").boxed


@dataclass(kw_only=True)
class _Layer:
    """One layer on its way through the stages (filled in by _prepare and _finish)."""

    plan: _Plan
    root: Path
    site_dirs: dict[Path, list[InstalledDist]] = field(default_factory=dict)
    site_targets: dict[Path, Target] = field(default_factory=dict)
    sizes: SizeReport | None = None
    findings: list[FindingRecord] = field(default_factory=list)
    allow: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    proof: ArtifactProof | None = None
    # Every file as the audit (and --compile) left it: the zip must hold exactly that.
    stamps: dict[str, FileStamp] = field(default_factory=dict)


def _stage_all(request: BuildRequest, layers: list[_Layer], clock: _Clock,
               compiled: dict[str, CompileReport], zips: LayerZips, beside_proof: bool,
               progress: Progress | None) -> None:
    """Lay out, shrink, audit and prove each layer.

    With several layers (one per architecture), each layer's proof runs in a thread of
    its own while the next layer is laid out, and the proofs share the cores: five
    runs under qemu and five native ones pack onto two cores instead of waiting for
    each other layer by layer. A layer for another machine than this host's goes
    first, so its proof (under qemu, the longest) starts first and the native layer is
    laid out meanwhile. A refusal is the first-started layer's first: a later layer's
    failure is raised only when every earlier proof passed.
    """
    if len(layers) == 1:
        only = layers[0]
        _prepare(request, only, clock, compiled, zips, beside_proof, progress)
        with clock.stage("proof"):
            proof = _prove(request, only.plan, only.root, only.site_dirs, only.site_targets,
                           progress, alone=True)
        _finish(request, only, proof, clock)
        return
    from lambdalayer.interpreters.find import host_machine

    here = host_machine()
    order = sorted(layers, key=lambda item: all(t.machine == here for t in item.plan.targets))
    with ThreadPoolExecutor(max_workers=len(layers), thread_name_prefix="proof") as pool:
        running: list[Future[ArtifactProof]] = []
        try:
            for item in order:
                _prepare(request, item, clock, compiled, zips, beside_proof, progress)
                running.append(pool.submit(_prove, request, item.plan, item.root,
                                           item.site_dirs, item.site_targets, progress))
        except Exception:
            for future in running:  # an earlier layer's refusal comes first
                failure = future.exception()
                if failure is not None:
                    raise failure from None
            raise
        for item, future in zip(order, running, strict=True):
            with clock.stage("proof"):
                proof = future.result()
            _finish(request, item, proof, clock)


def _prepare(request: BuildRequest, item: _Layer, clock: _Clock,
             compiled: dict[str, CompileReport], zips: LayerZips, beside_proof: bool,
             progress: Progress | None) -> None:
    """Lay out, shrink and audit one layer (its zip begun, to be written beside the proof)."""
    layer, root = item.plan, item.root
    with clock.stage("install"):
        for resolution in layer.resolutions:
            prefix = "python" if layer.shared else resolution.target.site_packages
            site = lay_out(resolution.tree, root, prefix)
            item.site_dirs[site] = list(resolution.dists)
            item.site_targets[site] = resolution.target
    with clock.stage("shrink"):
        # --exclude, --slim, --strip (shrink/apply.py); the size check and audit see
        # the result.
        shrunk = shrink_layer(_shrink_options(request), root, item.site_dirs,
                              item.site_targets, progress=progress)
        item.site_dirs = site_dirs = shrunk.site_dirs
        item.warnings.extend(shrunk.warnings)
        _refuse_if_emptied(request, layer.name, site_dirs)
        # Your own files come after the size options: those are about installed packages.
        place_sources(request.sources, site_dirs)
        place_includes(request.includes, root)
        for site in site_dirs:
            rewrite_records(site)  # RECORD names only what ships (no host-made bin/ scripts)
        item.sizes = sizes = measure(
            root, site_dirs, reductions=shrunk.reductions,
            own=own_code_files(request.sources, request.includes, root, site_dirs))
    if sizes.total > UNZIPPED_LIMIT:
        raise _size_error(layer.name, sizes, estimate_savings(
            root, site_dirs, item.site_targets, request.inputs.all_requirements,
            slim_patterns=request.slim_patterns))
    if progress:
        progress(f"auditing {layer.name}")
    item.allow = request.allow
    if request.includes and not request.sources and all(
            not r.dists for r in layer.resolutions):
        # Only --include files (a binary or library layer): no python/ is intended.
        item.allow = item.allow | {"missing-python-dir"}
    with clock.stage("audit"):
        item.findings = _audit(root, layer.targets, item.allow, request.name)
        refuse_denied_licences(root, request.deny_licences, layer.name)
    if request.compile:
        compiled[layer.name] = compile_layer(root, layer.name, layer.targets,
                                             sizes.total, progress=progress)
    item.stamps = tree_stamps(root)
    if beside_proof:  # the tree is final now: only swapped into place once proven
        zips.start(layer.name, root, site_dirs)


def _refuse_if_emptied(request: BuildRequest, name: str,
                       site_dirs: dict[Path, list[InstalledDist]]) -> None:
    """A layer --exclude left without a package (and no files of your own) would be
    an empty zip: refused, naming the cause, before the audit and the proof."""
    if not request.excludes or request.sources or request.includes:
        return
    if any(site_dirs.values()):
        return
    excluded = " ".join(f"--exclude {spec}" for spec in request.excludes)
    raise UsageError(
        f"Nothing is left in layer {name}: {excluded} leaves out every package it "
        "would hold (':runtime:' is what Lambda's Python runtime already ships), so "
        "the zip would be empty.",
        hint="Ask for a package the runtime does not ship, or drop --exclude; a layer "
             "of only boto3 is meant to replace the runtime's copy, so keep it in.")


def _finish(request: BuildRequest, item: _Layer, proof: ArtifactProof, clock: _Clock) -> None:
    """What the proof saw loaded joins the audit's closure; the proof's warnings."""
    with clock.stage("audit"):
        item.findings = _confirm_closure(item.root, item.plan.targets, item.allow,
                                         request.name, item.findings, proof)
    item.warnings.extend(proof.warnings)
    item.proof = proof


def _unchanged_since_audit(item: _Layer) -> None:
    """AuditError when a file of the layer changed after the audit read it (the proof
    ran third-party code meanwhile): what was zipped may not be what was audited."""
    changed = changed_files(item.root, item.stamps)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                          else "")
        raise AuditError(
            f"The files of {item.plan.name} changed after the audit read them ({shown}); "
            "something ran during the build wrote into the layer, so no zip was written.",
            hint="Build again; if it repeats, a package in the layer writes into its own "
                 "files when imported: see docs/proof-threat-model.md.")


def _note_unavailable(streams: WheelStreams, record: dict[str, Any], inputs_hash: str,
                      warnings: list[str]) -> tuple[dict[str, Any], str]:
    """The record and inputs hash, naming the wheels this build could not have (their
    files deflated here: the zip differs from an online build's), and a warning."""
    from lambdalayer.pipeline.plan import hash_inputs
    from lambdalayer.pipeline.wheel_reuse import UNAVAILABLE_KEY, unavailable_warning

    missing = streams.unavailable()
    if not missing:
        return record, inputs_hash
    warnings.append(unavailable_warning(missing))
    return ({**record, UNAVAILABLE_KEY: sorted(missing)},
            hash_inputs({"inputs_hash": inputs_hash, UNAVAILABLE_KEY: sorted(missing)}))


def _write_artifacts(request: BuildRequest, layers: list[_Layer],
                     compiled: dict[str, CompileReport], warnings: list[str],
                     zips: LayerZips, inputs_hash: str, record: dict[str, Any],
                     progress: Progress | None, streams: WheelStreams) -> list[Artifact]:
    """Each staged layer's zip (finished, or written now) and its manifest, swapped into
    place together."""
    artifacts = []
    done = []
    for item in layers:
        if progress and not zips.ready(item.plan.name):
            progress(f"writing {item.plan.name}.zip")
        done.append(zips.result(item.plan.name, item.root, item.site_dirs))
    warnings.extend(zips.warnings)
    for item in layers:
        _unchanged_since_audit(item)
    for zipped in done:
        warnings.extend(zipped.warnings)
    record, inputs_hash = _note_unavailable(streams, record, inputs_hash, warnings)
    for item, zipped in zip(layers, done, strict=True):
        layer, findings, site_dirs = item.plan, item.findings, item.site_dirs
        assert item.sizes is not None  # measured by _prepare before anything is zipped
        zip_path = request.out_dir / f"{layer.name}.zip"
        partial, stats = zipped.partial, zipped.stats
        sha256, code_sha256 = zipped.sha256, zipped.code_sha256
        sizes = with_compressed(item.sizes, stats.members, stats.size)
        manifest = _manifest(request, layer, zip_path, sha256, code_sha256, stats.size,
                             stats.unzipped_size, sizes, findings, site_dirs,
                             inputs_hash, record)
        manifest.proof = _proof_records(item.proof)
        manifest_path = manifest_path_for(zip_path)
        sbom_path, staged_sbom = _stage_sbom(request, item, zip_path, sha256, code_sha256,
                                             inputs_hash, streams)
        zips.partials.append(staged_sbom)
        manifest.sbom = sbom_path.name
        with manifest_lock(manifest_path):  # a publish may be recording into it right now
            previous = _previous_manifest(manifest_path)
            old_sha = previous.sha256 if previous else None
            if previous is not None and old_sha == sha256:
                # Same bytes: the versions published from the old zip are this zip's too.
                manifest.published = list(previous.published)
            # Both files are complete on disk before either is swapped in: a full disk
            # fails here and leaves the previous pair as it was.
            staged_manifest = manifest_path.with_name(
                f".{manifest_path.name}.{os.getpid()}.partial")
            zips.partials.append(staged_manifest)
            write_atomic(staged_manifest, manifest.to_json().encode("utf-8"),
                         shown_as=manifest_path)
            with interrupt.deferred():
                replace_retrying(partial, zip_path)
                replace_retrying(staged_sbom, sbom_path)
                replace_retrying(staged_manifest, manifest_path)
        artifacts.append(Artifact(name=layer.name, zip_path=zip_path,
                                  manifest_path=manifest_path, manifest=manifest,
                                  sizes=sizes, up_to_date=old_sha == sha256,
                                  compiled=compiled.get(layer.name)))
    return artifacts


def _stage_sbom(request: BuildRequest, item: _Layer, zip_path: Path, sha256: str,
                code_sha256: str, inputs_hash: str, streams: WheelStreams) -> tuple[Path, Path]:
    """The layer's SBOM (dist/NAME.cdx.json) and its staged partial file."""
    from lambdalayer.pipeline.sboms import layer_facts, stage_sbom
    from lambdalayer.supply.sbom import sbom_path_for

    facts = layer_facts(request, name=item.plan.name, zip_path=zip_path,
                        targets=item.plan.targets, root=item.root, site_dirs=item.site_dirs,
                        resolutions=item.plan.resolutions, streams=streams, sha256=sha256,
                        code_sha256=code_sha256, inputs_hash=inputs_hash)
    return sbom_path_for(zip_path), stage_sbom(facts, sbom_path_for(zip_path))


Modules = dict[str, dict[str, list[str]]]  # runtime -> distribution -> top-level modules


def _import_dirs(root: Path, targets: Sequence[Target]) -> dict[Path, list[str]]:
    """The layer's directories Lambda's Python imports from -> the runtimes that do:
    python/ for every runtime, each python/lib/pythonX.Y/site-packages for its own."""
    dirs = {root / "python": sorted({t.runtime.name for t in targets})}
    for target in targets:
        runtimes = dirs.setdefault(root / target.site_packages, [])
        if target.runtime.name not in runtimes:
            runtimes.append(target.runtime.name)
    return dirs


def _own_modules(request: BuildRequest, root: Path, targets: Sequence[Target],
                 site_dirs: dict[Path, list[InstalledDist]]) -> dict[str, dict[str, set[str]]]:
    """Per runtime, the top-level modules of your --source and --include code, each piece
    named as "your code (--source src)"."""
    from lambdalayer.resolve.sources import own_code_modules

    dirs = _import_dirs(root, targets)
    own: dict[str, dict[str, set[str]]] = {}
    for name, per_dir in own_code_modules(request.sources, request.includes, root,
                                          site_dirs, dirs).items():
        for directory, found in per_dir.items():
            for runtime in dirs.get(directory, dirs[root / "python"]):
                own.setdefault(runtime, {}).setdefault(name, set()).update(found)
    return own


def _requested_modules(request: BuildRequest, layer: _Plan, root: Path,
                       site_dirs: dict[Path, list[InstalledDist]],
                       site_targets: dict[Path, Target]) -> tuple[Modules, Modules]:
    """Per runtime, each requested distribution's top-level modules (every distribution
    when none matched, e.g. a uv.lock; local projects always) and those of your --source
    and --include code (named "your code (...)"), and the modules of every distribution
    of the layer (dependencies included)."""
    from packaging.utils import canonicalize_name

    requested = {canonicalize_name(r.name) for r in request.inputs.all_requirements}
    modules: dict[str, dict[str, set[str]]] = {}
    every: dict[str, dict[str, set[str]]] = {}
    own = _own_modules(request, root, layer.targets, site_dirs)
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
                if dist.name in request.local_projects:
                    own.setdefault(runtime, {}).setdefault(dist.display_name,
                                                           set()).update(found)
    chosen = {runtime: dict(dists) for runtime, dists in (modules or every).items()}
    for runtime, pieces in own.items():
        chosen.setdefault(runtime, {}).update(pieces)

    def listed(by_runtime: dict[str, dict[str, set[str]]]) -> Modules:
        return {runtime: {name: sorted(mods) for name, mods in dists.items() if mods}
                for runtime, dists in by_runtime.items()}

    return listed(chosen), listed(every)


def _prove(request: BuildRequest, layer: _Plan, root: Path,
           site_dirs: dict[Path, list[InstalledDist]], site_targets: dict[Path, Target],
           progress: Progress | None, *, alone: bool = False) -> ArtifactProof:
    """Import the layer on each target's CPython; ProofFailed when an import fails.
    `alone`: no other layer is proven meanwhile (prove_layer's `spare_cores`)."""
    if request.no_proof:
        return skipped("--no-proof (or proof = false in the config)")
    listed = request.proof_imports or (request.recipe.proof_imports if request.recipe
                                       else ())
    dependencies: Modules = {}
    if listed:
        modules = {t.runtime.name: {name: [name] for name in listed} for t in layer.targets}
    else:
        modules, dependencies = _requested_modules(request, layer, root, site_dirs,
                                                   site_targets)
    versions = {d.display_name: d.version for dists in site_dirs.values() for d in dists}
    if progress:
        progress(f"import-testing {layer.name}")
    from lambdalayer.shrink.exclude import expand_excludes

    provided = provided_modules(expand_excludes(request.excludes))
    # With --test-report, the proof imports what `lambdalayer test` of the zip would, and the
    # CLI reports those runs instead of importing again: one interpreter run per target.
    # Only when the zip will hold this tree as it is; else --test-report tests the zip.
    test_imports = tuple(listed) if request.test_report and zips_as_is(root) else None
    proof = prove_layer(root, layer.targets, modules, provided, test_imports=test_imports,
                        configured=request.interpreters, dependencies=dependencies,
                        versions=versions,
                        bytecode_scope=str(request.out_dir.resolve() / layer.name),
                        spare_cores=alone,
                        own=frozenset(n for mods in modules.values() for n in mods
                                      if n.startswith("your code (")),
                        sandbox_required=request.proof_sandbox == "required")
    if proof.status == "failed":
        failures = "\n".join(f"  {failure}" for failure in proof.failures[:10])
        what = ("your code or the requirements" if any(
            "(your code (" in failure for failure in proof.failures) else "the requirements")
        hint = (f"Fix {what} (the fix line says what is likely missing), or build "
                "with --no-proof to skip the import test (the audit still runs).")
        search = (search_pairs(request, layer.targets, proof.conflicts, root.parent,
                               progress, versions) if proof.conflicts else None)
        if search is not None:
            hint = (search.advice() + "Or build with --no-proof to skip the import test (the "
                    "audit still runs).")
        refusal = ProofFailed(
            f"The layer {layer.name} does not import on its target (the interpreter's own "
            f"error below); no zip was written.\n{failures}", hint=hint)
        if search is not None and request.fix_pairs and search.complete:
            raise _PinsFound(search.pins, refusal)
        raise refusal
    if request.proof == "required":
        _require_every_target(layer.name, proof)
    return proof


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
             "best-effort to write the zip with these targets not import-tested.")


def _previous_manifest(manifest_path: Path) -> Manifest | None:
    try:
        return read_manifest(manifest_path) if manifest_path.exists() else None
    except UsageError:
        return None


def _proof_records(proof: ArtifactProof | None) -> list[ProofRecord]:
    """The manifest's record of the proof behind the zip: each target, and the sandbox
    its code ran in (the GitHub Action's summary reads it; docs/json.md)."""
    if proof is None:
        return []
    return [ProofRecord(target=t.target, status=t.status, sandbox=t.sandbox,
                        sandbox_kind=t.sandbox_kind) for t in proof.targets]


def _manifest(request: BuildRequest, plan: _Plan, zip_path: Path, sha256: str,
              code_sha256: str, size: int, unzipped: int, sizes: SizeReport,
              findings: list[FindingRecord], site_dirs: dict[Path, list[InstalledDist]],
              inputs_hash: str, record: dict[str, Any]) -> Manifest:
    by_size = {(p.name, p.version): p.size for p in sizes.packages}
    packages: dict[tuple[str, str], PackageRecord] = {}
    for dists in site_dirs.values():
        for dist in dists:
            key = (dist.name, dist.version)
            if key not in packages:
                packages[key] = PackageRecord(
                    name=dist.name, version=dist.version, tags=list(dist.tags),
                    size=by_size.get((dist.display_name, dist.version), 0),
                )
    runtimes = list(dict.fromkeys(t.runtime.name for t in plan.targets))
    archs = list(dict.fromkeys(t.arch for t in plan.targets))
    recipe = request.recipe
    return Manifest(
        # The layer's name, whatever the zip is called: a native layer built for both
        # architectures is NAME-x86_64.zip and NAME-arm64.zip, published as two versions
        # of NAME, as when two CI jobs build one architecture each (docs/ci.md).
        name=request.name,
        zip=zip_path.name,
        sha256=sha256,
        code_sha256=code_sha256,
        size=size,
        unzipped_size=unzipped,
        runtimes=runtimes,
        architectures=archs,
        packages=sorted(packages.values(), key=lambda p: p.name),
        tool_version=__version__,
        inputs_hash=inputs_hash,
        inputs=record,
        recipe=recipe.name if recipe else None,
        description=request.description or (recipe.description if recipe else None),
        license=request.license or (recipe.license if recipe else None),
        proof_imports=list(request.proof_imports or (recipe.proof_imports if recipe else ())),
        findings=findings,
        allowed=sorted(request.allow),
    )
