"""The build pipeline as one ordered loop; each stage's work lives in its own module.

    resolve      resolving.resolve_all      requirements -> one LayerPlan per artifact
    install      layout.install             each resolution laid out in the layer's tree
    shrink       layout.shrink              --exclude, --slim, --strip
    own code     layout.add_own_code        --source, --include
    size         layout.measure_layer       refused over Lambda's unzipped limit
    proof        proving.prove              imported on each target (the zip written
                                            beside it when the proof is boxed: zips.py)
    audit        auditing.audit             ELF files and licences judged, beside the proof
    audit again  auditing.confirm_closure   what the proof saw loaded
    artifacts    artifacts.write_artifacts  zip + SBOM + manifest swapped into dist/

The request is read once (settings.split_request): each stage takes only its own
settings. Outputs: one `NAME.zip` for pure Python (one site-packages tree per runtime
when markers differ), one per architecture for native code (`NAME-ARCH.zip` when there
are several). No zip is swapped into the output folder before every layer passed its proof.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lambdalayer.common import interrupt
from lambdalayer.common.fileio import stamps_of, tree_stamps
from lambdalayer.common.progress import Progress
from lambdalayer.common.uvtool import StartedUv
from lambdalayer.pipeline.artifacts import StagedLayer, write_artifacts
from lambdalayer.pipeline.auditing import audit, confirm_closure
from lambdalayer.pipeline.layout import add_own_code, install, measure_layer, shrink
from lambdalayer.pipeline.pairfix import build_with_pins
from lambdalayer.pipeline.plan import TargetPlan
from lambdalayer.pipeline.proving import PinsFound, prove, zip_beside_proof
from lambdalayer.pipeline.request import BuildRequest, BuildResult
from lambdalayer.pipeline.resolving import resolve_all
from lambdalayer.pipeline.settings import StageSettings, split_request
from lambdalayer.pipeline.wheel_streams.reuse import start_fetches
from lambdalayer.pipeline.zips import LayerZips
from lambdalayer.proof.compile import CompileReport, compile_layer, require_interpreters
from lambdalayer.proof.prove import ArtifactProof
from lambdalayer.targets.target import Target

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


def run_pipeline(request: BuildRequest, plan: TargetPlan, record: dict[str, Any],
                 inputs_hash: str, *, work: Path, started: StartedUv | None = None,
                 progress: Progress | None = None) -> BuildResult:
    """Resolve, lay out, check and archive every artifact of `request`.

    `work` is an empty scratch directory the caller removes; `started` is uv
    already running for the first target (see resolve/requirements.start_install).
    With `request.fix_pairs`, a proof that finds distributions that no longer fit
    together, and the working pin of each, builds once more with the pins added
    (nothing is written before): one warning line per pin, and the manifest's inputs
    record them as `applied_pins`.
    """
    try:
        return _run(request, plan, record, inputs_hash, work=work, started=started,
                    progress=progress)
    except PinsFound as found:
        pins = found.pins

    def again(pinned: BuildRequest, pinned_record: dict[str, Any], where: Path) -> BuildResult:
        try:
            return _run(pinned, plan, pinned_record, inputs_hash, work=where,
                        progress=progress)
        except PinsFound as more:  # one round: another pair is refused with its advice
            raise more.refusal from None

    return build_with_pins(pins, request, record, work, progress, again)


def _run(request: BuildRequest, plan: TargetPlan, record: dict[str, Any],
         inputs_hash: str, *, work: Path, started: StartedUv | None = None,
         progress: Progress | None = None) -> BuildResult:
    """One pass of run_pipeline: the stages in order."""
    targets = [Target.parse(runtime, arch) for runtime, arch in plan.pairs]
    settings = split_request(request, targets)
    warnings = list(plan.warnings)
    compiled: dict[str, CompileReport] | None = {} if request.compile else None  # --compile
    if request.compile:
        # A missing interpreter is known now: say so before resolving, not after.
        require_interpreters(list(dict.fromkeys(t.runtime for t in targets)))
    # The audit (pyelftools, its rules) imported while uv resolves: no wall time then.
    threading.Thread(target=importlib.import_module, args=("lambdalayer.audit",),
                     daemon=True).start()
    clock = _Clock()
    from lambdalayer.resolve import index_cache

    waited = index_cache.waited_seconds()
    with clock.stage("resolve"):
        plans = resolve_all(settings.resolving, targets, work, progress, started)
    clock.seconds["index query"] = index_cache.waited_seconds() - waited
    clock.seconds["resolve"] -= clock.seconds["index query"]
    # One note per distinct text: a shared tree or several targets repeat them.
    warnings.extend(dict.fromkeys(n for p in plans for r in p.resolutions for n in r.notes))
    record = {**record, "artifacts": [f"{p.name}.zip" for p in plans]}
    # Fetched while the layers are installed, audited and proven (never before resolving).
    streams = start_fetches(request, [r for p in plans for r in p.resolutions], work)
    partials: list[Path] = []
    zips = LayerZips(request, streams, partials)
    beside_proof = zips if zip_beside_proof(settings.proving) else None
    layers = [StagedLayer(plan=layer, root=work / f"layer-{index}")
              for index, layer in enumerate(plans)]
    try:
        _stage_all(settings, layers, clock, compiled, beside_proof, progress)
        for item in layers:  # in the layers' order, however their proofs overlapped
            warnings.extend(item.warnings)
        with clock.stage("zip"):
            artifacts = write_artifacts(settings.writing, layers, compiled or {}, warnings,
                                        zips, inputs_hash, record, progress, streams)
    finally:
        zips.close()  # nothing is written into dist/ after this
        streams.finish()
        with interrupt.deferred():  # a signal now would cut the cleanup in half
            for partial in partials:  # left only by a failure or a signal
                # A failed removal (a read-only --out) must not hide the error that got here.
                with contextlib.suppress(OSError):
                    partial.unlink(missing_ok=True)
        for item in layers:  # the proof's bytecode helper, which overlapped the zip, ended
            item.overlap.close()
    return BuildResult(artifacts=tuple(artifacts), warnings=tuple(warnings),
                       timings=tuple(clock.seconds.items()))


def _stage_all(settings: StageSettings, layers: list[StagedLayer], clock: _Clock,
               compiled: dict[str, CompileReport] | None, zips: LayerZips | None,
               progress: Progress | None) -> None:
    """Lay out, prove and audit each layer (`zips`: write each zip beside its proof).

    Each audit runs beside its proof, and its refusal wins once that proof ended. Several
    layers: each proof runs in a thread while the next layer is laid out, another machine's
    (qemu: the longest) first; a refusal is the first-started layer's first."""
    if len(layers) == 1:
        only = layers[0]
        _prepare(settings, only, clock, compiled, progress)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit") as auditor:
            audited = auditor.submit(_beside_proof, settings, only, clock, compiled, zips)
            try:
                with clock.stage("proof"):
                    proof = prove(settings.proving, only.plan, only.root, only.site_dirs,
                                  only.site_targets, progress, alone=True, overlap=only.overlap)
            finally:
                only.overlap.ended()
                audited.result()  # its refusal, if any, replaces the proof's verdict
        _finish(settings, only, proof, clock)
        return
    from lambdalayer.interpreters.find import host_machine

    here = host_machine()
    order = sorted(layers, key=lambda item: all(t.machine == here for t in item.plan.targets))
    with ThreadPoolExecutor(max_workers=len(layers), thread_name_prefix="proof") as pool:
        running: list[Future[ArtifactProof]] = []
        try:
            for item in order:
                _prepare(settings, item, clock, compiled, progress)
                started = pool.submit(prove, settings.proving, item.plan, item.root,
                                      item.site_dirs, item.site_targets, progress,
                                      overlap=item.overlap)
                started.add_done_callback(item.overlap.ended)
                _beside_proof(settings, item, clock, compiled, zips)  # pool awaits its proof
                running.append(started)
        except Exception:
            for future in running:  # an earlier layer's refusal comes first
                failure = future.exception()
                if failure is not None:
                    raise failure from None
            raise
        for item, future in zip(order, running, strict=True):
            with clock.stage("proof"):
                proof = future.result()
            _finish(settings, item, proof, clock)


def _prepare(settings: StageSettings, item: StagedLayer, clock: _Clock,
             compiled: dict[str, CompileReport] | None, progress: Progress | None) -> None:
    """Install, shrink, own code, size and stamp one layer (a change before the swap-in is
    exit 4); with --compile, audit and compile before the stamps."""
    layer, root, layout = item.plan, item.root, settings.layout
    with clock.stage("install"):
        item.site_dirs, item.site_targets = install(layer, root)
    with clock.stage("shrink"):
        shrunk = shrink(layout, layer.name, root, item.site_dirs, item.site_targets, progress)
        item.site_dirs = shrunk.site_dirs
        item.warnings.extend(shrunk.warnings)
        walked = add_own_code(layout, root, item.site_dirs)
        item.sizes = measure_layer(layout, layer.name, root, item.site_dirs,
                                   item.site_targets, shrunk.reductions, walked)
    if progress:
        progress(f"auditing {layer.name}")
    if compiled is not None:  # the audit reads the tree before the bytecode is added
        _audit(settings, item, clock)
        compiled[layer.name] = compile_layer(root, layer.name, layer.targets,
                                             item.sizes.total, progress=progress)
    item.stamps = stamps_of(walked) if compiled is None else tree_stamps(root)


def _beside_proof(settings: StageSettings, item: StagedLayer, clock: _Clock,
                  compiled: dict[str, CompileReport] | None, zips: LayerZips | None) -> None:
    """Once the proof's box started (its start not slowed): the audit (--compile:
    _prepare's), then the zip begun if `zips` (after a refusal, dist/ is untouched)."""
    item.overlap.started.wait()
    if compiled is None:
        _audit(settings, item, clock)
    if zips is not None:  # the tree is final: only swapped into place once proven
        zips.start(item.plan.name, item.root, item.site_dirs)


def _audit(settings: StageSettings, item: StagedLayer, clock: _Clock) -> None:
    with clock.stage("audit"):
        audited = audit(settings.auditing, item.plan, item.root)
        item.findings, item.allow = audited.findings, audited.allow


def _finish(settings: StageSettings, item: StagedLayer, proof: ArtifactProof,
            clock: _Clock) -> None:
    """What the proof saw loaded joins the audit's closure; the proof's warnings."""
    with clock.stage("audit"):
        item.findings = confirm_closure(settings.auditing, item.root, item.plan.targets,
                                        item.findings, item.allow, proof)
    item.warnings.extend(proof.warnings)
    item.proof = proof
