"""`build`: one named layer, from requirements to zip(s) and manifest(s).

The flow is target -> resolve -> install -> audit -> archive (pipeline.py).
Before any of it, freshness.py answers whether the output is already up to
date; that path imports neither the resolver nor rich.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.freshness import (
    TargetPlan,
    hash_inputs,
    inputs_record,
    plan_targets,
    up_to_date,
)
from lambdalayer.manifest import Manifest
from lambdalayer.requirements import RequirementInputs
from lambdalayer.runtimes import load_runtime_table

if TYPE_CHECKING:
    from lambdalayer.compile import CompileReport
    from lambdalayer.recipes import Recipe
    from lambdalayer.sizing import SizeReport
    from lambdalayer.uvtool import StartedUv

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """Everything `build` needs for one layer; the CLI fills it from options."""

    name: str
    inputs: RequirementInputs
    out_dir: Path
    runtimes: tuple[str, ...] = ()  # empty: the recipe's, else every current runtime
    architectures: tuple[str, ...] = ()  # empty: the recipe's, else both
    recipe: Recipe | None = None
    force: bool = False
    allow: frozenset[str] = frozenset()
    description: str | None = None
    license: str | None = None
    smoke_imports: tuple[str, ...] = ()
    # Size options (shrink.py): drop what no import needs, strip ELF symbols, leave
    # packages out ("--exclude" values as given, ":runtime:" included), zip level.
    slim: bool = False
    slim_patterns: tuple[str, ...] = ()  # extra globs from recipes/config (slim.py)
    strip: bool = False
    excludes: tuple[str, ...] = ()
    compression_level: int = 6  # archive.DEFAULT_LEVEL
    compile: bool = False  # ship unchecked-hash .pyc per runtime (compile.py)
    smoke: bool = False  # the CLI smoke-tests each artifact after the build (smoke.py)
    # Per-target inputs from lock files ("python3.12/x86_64" -> the lock), when used.
    target_inputs: Mapping[str, RequirementInputs] = field(default_factory=dict)

    def inputs_for(self, target: object) -> RequirementInputs:
        """What to install for `target` (a Target or "runtime/arch"): its lock, if any."""
        return self.target_inputs.get(str(target), self.inputs)

    def exact_pins(self) -> dict[str, str] | None:
        """The exact pins every target installs, when they are the same for all, else None."""
        sources = list(self.target_inputs.values()) or [self.inputs]
        pins = [s.exact_pins() for s in sources]
        return pins[0] if pins[0] is not None and all(p == pins[0] for p in pins) else None


@dataclass(frozen=True, kw_only=True)
class Artifact:
    name: str
    zip_path: Path
    manifest_path: Path
    manifest: Manifest
    sizes: SizeReport | None  # None when the build was skipped as up to date
    up_to_date: bool
    compiled: CompileReport | None = None  # with --compile, what the .pyc files cost


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    artifacts: tuple[Artifact, ...]
    warnings: tuple[str, ...] = ()


def build_layer(request: BuildRequest, *, progress: Progress | None = None) -> BuildResult:
    """Build the layer `request` describes, or report the existing zips when up to date.

    Outputs (see pipeline.py): one zip for a pure-Python layer, one per
    architecture for native code, each with a manifest beside it. Raises
    UsageError, ResolutionError or AuditError; on error nothing is written.
    """
    plan = plan_targets(request)
    record = inputs_record(request, plan)
    inputs_hash = hash_inputs(record)
    previous = up_to_date(request, inputs_hash)
    if previous is not None:
        return BuildResult(
            artifacts=tuple(
                Artifact(name=m.name, zip_path=m.zip_path(path), manifest_path=path, manifest=m,
                         sizes=None, up_to_date=True)
                for path, m in previous
            ),
            warnings=plan.warnings,
        )
    # Imported here, past the up-to-date check, which needs none of it.
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="lambdalayer-"))
    started = _start_first_resolution(request, plan, work)
    try:
        # The pipeline's imports (packaging, the audit, ...) overlap uv's work.
        from lambdalayer.pipeline import run_pipeline

        return run_pipeline(request, plan, record, inputs_hash, work=work, started=started,
                            progress=progress)
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(work, ignore_errors=True)


def _start_first_resolution(request: BuildRequest, plan: TargetPlan,
                            work: Path) -> StartedUv | None:
    """Start uv for the first target now; resolve_for_target picks it up if the args agree."""
    from lambdalayer.uvtool import pip_install_args, start_uv

    if not plan.pairs:
        return None
    runtime_name, arch = plan.pairs[0]
    table = load_runtime_table()
    runtime = table.runtime(runtime_name)
    inputs = request.inputs_for(f"{runtime_name}/{arch}")
    args = pip_install_args(inputs, uv_platform=table.uv_platform(runtime, arch),
                            python_version=runtime.python_version, dest=work / "resolve-0",
                            no_deps=inputs.exact_pins() is not None)
    return start_uv(args)
