"""`build`: one named layer, from requirements to zip(s) and manifest(s).

The flow is target -> resolve -> install -> shrink -> audit -> proof -> archive
(stages.py).
Before any of it, plan.py answers whether the output is already up to
date; that path imports neither the resolver nor rich.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.progress import Progress
from lambdalayer.pipeline.plan import (
    TargetPlan,
    plan_targets,
    up_to_date,
)
from lambdalayer.pipeline.request import Artifact, BuildRequest, BuildResult
from lambdalayer.targets.runtimes import load_runtime_table

if TYPE_CHECKING:
    from lambdalayer.common.uvtool import StartedUv


def build_layer(request: BuildRequest, *, progress: Progress | None = None) -> BuildResult:
    """Build the layer `request` describes, or report the existing zips when up to date.

    Outputs (see stages.py): one zip for a pure-Python layer, one per
    architecture for native code, each with a manifest beside it. Raises
    UsageError, ResolutionError or AuditError; on error nothing is written.
    """
    plan = plan_targets(request)
    if request.project is not None or request.inputs.pylocks:
        from lambdalayer.targets.target import Target

        targets = [Target.parse(r, a) for r, a in plan.pairs]
        if request.project is not None:
            request.project.check_covers(targets)
        for lock in request.inputs.pylocks:  # before anything is resolved: exit 2
            lock.check_targets(targets)
    built = up_to_date(request, plan)
    previous = built.previous
    from lambdalayer.common import noop_memo

    if previous is None:
        noop_memo.cancel()  # real work: this run leaves no memo
    else:
        noop_memo.confirm()
    if previous is not None:
        plan = _with_runtime_note(plan)
        return BuildResult(
            artifacts=tuple(
                Artifact(name=m.zip_path(path).stem, zip_path=m.zip_path(path),
                         manifest_path=path, manifest=m, sizes=None, up_to_date=True)
                for path, m in previous
            ),
            warnings=plan.warnings,
        )
    # Imported here, past the up-to-date check, which needs none of it.
    import dataclasses
    import shutil

    from lambdalayer.common.workdirs import make_workdir, swept_notice

    notice = swept_notice()  # work directories of killed runs, before adding ours
    work: Path | None = None
    started = None
    from lambdalayer.common import interrupt

    try:
        with interrupt.deferred():  # created and named as one step
            work = make_workdir()
        from lambdalayer.owncode.local_projects import with_local_wheels

        inputs, target_inputs, projects = with_local_wheels(
            request.inputs, request.target_inputs, work, progress)
        request = dataclasses.replace(request, inputs=inputs, target_inputs=target_inputs,
                                      local_projects=projects)
        started = _start_uv(request, plan, work)
        # What is not needed to start uv comes after it, overlapping its work: the
        # pipeline's imports (packaging, the audit, ...), botocore's model.
        plan = _with_runtime_note(plan)
        from lambdalayer.pipeline.stages import run_pipeline

        result = run_pipeline(request, plan, built.record, built.inputs_hash, work=work,
                              started=started, progress=progress)
        if notice:
            result = dataclasses.replace(result, warnings=(notice, *result.warnings))
        return result
    finally:
        # One step: a signal inside stop() must not skip the removal. (A signal between
        # here and the `with` is caught by the exit's own sweep: interrupt.final_cleanup.)
        with interrupt.deferred():
            if started is not None:
                started.stop()
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)



def _start_uv(request: BuildRequest, plan: TargetPlan, work: Path) -> StartedUv | None:
    """uv started on the first target (resolve_for_target picks it up), then, while it
    runs, the proof's lookups and the bytecode of what it unpacks (proof/warmup.py)."""
    if not plan.pairs:
        return None
    from lambdalayer.resolve.requirements import start_install

    runtime_name, arch = plan.pairs[0]
    started = start_install(request.inputs_for(f"{runtime_name}/{arch}"), runtime_name, arch,
                            dest=work / "resolve-0")
    if not request.no_proof:
        from lambdalayer.proof import warmup
        from lambdalayer.targets.target import Target

        warmup.start([Target.parse(r, a) for r, a in plan.pairs], request.interpreters,
                     uv_since=started.since if started else None)
    return started


def _with_runtime_note(plan: TargetPlan) -> TargetPlan:
    """`plan` with a warning when botocore's Lambda model lists a runtime the table lacks
    (read once per model: targets/lambda_model.py)."""
    from lambdalayer.targets.lambda_model import note_once

    new_runtime = note_once(load_runtime_table().runtimes)
    return plan if not new_runtime else replace(plan, warnings=(*plan.warnings, new_runtime))
