"""The build's request and result types: what the CLI asks for and what it gets back.

Imported by every stage; imports nothing of the pipeline, so no stage ever
imports another in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.pipeline.recipe import Recipe
from lambdalayer.resolve.requirements import RequirementInputs

if TYPE_CHECKING:  # the manifest's module is loaded after uv starts (pipeline/layer.py)
    from lambdalayer.archive.manifest import Manifest
    from lambdalayer.owncode.sources import IncludedPath, SourceFolder
    from lambdalayer.owncode.uv_project import ProjectLock
    from lambdalayer.proof.compile import CompileReport
    from lambdalayer.proof.result import ArtifactProof
    from lambdalayer.reports.sizing import SizeReport



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
    proof_imports: tuple[str, ...] = ()
    # Size options (shrink/apply.py): drop what no import needs, strip ELF symbols, leave
    # packages out ("--exclude" values as given, ":runtime:" included), zip level.
    slim: bool = False
    slim_patterns: tuple[str, ...] = ()  # extra globs from recipes/config (slim.py)
    strip: bool = False
    excludes: tuple[str, ...] = ()
    compression_level: int = 6  # archive.DEFAULT_LEVEL
    compile: bool = False  # ship unchecked-hash .pyc per runtime (proof/compile.py)
    # --test-report: after the build, the CLI shows what `lambdalayer test` finds in each zip.
    test_report: bool = False
    no_proof: bool = False  # --no-proof / proof = false: skip the default import proof
    # --fix-pairs / fix_pairs = true: apply the working pin the proof finds for two
    # distributions that no longer fit together, instead of advising it (pairfix.py).
    fix_pairs: bool = False
    # Per-target inputs from lock files ("python3.12/x86_64" -> the lock), when used.
    target_inputs: Mapping[str, RequirementInputs] = field(default_factory=dict)
    # Your own files (owncode/sources.py) and the project the inputs came from
    # (owncode/uv_project.py).
    sources: tuple[SourceFolder, ...] = ()
    includes: tuple[IncludedPath, ...] = ()
    # The local projects' distribution names (canonical), once built (pipeline/layer.py):
    # the proof always imports them as requested distributions, never as dependencies.
    local_projects: frozenset[str] = frozenset()
    project: ProjectLock | None = None
    # The interpreters the project config names for the proof (after LAMBDALAYER_PYTHON_*).
    interpreters: ConfiguredInterpreters = NOTHING_CONFIGURED
    follow_links: bool = False  # links leading outside a folder are taken (docs/trust.md)
    # "required": no proof runs outside its sandbox (SandboxUnavailable, exit 8) instead of
    # running with a scrubbed environment only; docs/sandbox-and-limits.md.
    proof_sandbox: Literal["auto", "required"] = "auto"
    # --deny-licence / deny_licences: licences no distribution of the layer may need
    # (supply/licences.py); a layer with one is refused like an audit error (exit 4).
    deny_licences: tuple[str, ...] = ()
    # "required": a target the proof cannot run on this host refuses the build (ProofNotRun,
    # exit 7) instead of being "skipped"; docs/commands/build.md.
    proof: Literal["required", "best-effort"] = "best-effort"

    def inputs_for(self, target: object) -> RequirementInputs:
        """What to install for `target` (a Target or "runtime/arch"): its lock, if any."""
        return self.target_inputs.get(str(target), self.inputs)

    def exact_pins(self, environments: Sequence[dict[str, str]] = ()) -> dict[str, str] | None:
        """The exact pins every target installs, when they are the same for all, else None;
        `environments`: each target's marker values (a pin under a marker counts where
        the marker takes the target in)."""
        if self.target_inputs:
            pins = [s.exact_pins() for s in self.target_inputs.values()]
        else:
            pins = [self.inputs.exact_pins(env) for env in environments] or [
                self.inputs.exact_pins()]
        return pins[0] if pins[0] is not None and all(p == pins[0] for p in pins) else None


@dataclass(frozen=True, kw_only=True)
class Artifact:
    name: str  # the zip's stem: NAME, or NAME-ARCH for one architecture of a native layer
    zip_path: Path
    manifest_path: Path
    manifest: Manifest
    sizes: SizeReport | None  # None when the build was skipped as up to date
    up_to_date: bool
    compiled: CompileReport | None = None  # with --compile, what the .pyc files cost
    proof: ArtifactProof | None = None  # the default import proof (proof/prove.py)


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    artifacts: tuple[Artifact, ...]
    warnings: tuple[str, ...] = ()
    # Wall-clock seconds per stage, in pipeline order (stages.STAGES), for `build --verbose`.
    timings: tuple[tuple[str, float], ...] = ()
