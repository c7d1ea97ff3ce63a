"""What the build's import proof found, per artifact (kept apart from the runner so the
request types import nothing of the pipeline: pipeline/request.py holds an ArtifactProof)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lambdalayer.proof.conflicts import Conflict
    from lambdalayer.proof.target_run import TargetRun

ProofStatus = Literal["passed", "failed", "skipped"]
# Which sandbox a proof ran in, for machines (--json, the manifest, the GitHub Action's
# summary): bubblewrap, the fallback box, or none (only the environment was scrubbed).
SandboxKind = Literal["bwrap", "box", "none"]


def sandbox_kind(sandbox: str | None) -> SandboxKind | None:
    """The kind a proof line's sandbox text names; None when no interpreter ran.

    Read from the text's start (proof/sandbox.py's `describe`): "sandboxed (bwrap…" is
    bwrap, any other "sandboxed (…" the fallback box, "NOT sandboxed…" none.
    """
    if sandbox is None:
        return None
    if sandbox.startswith("sandboxed (bwrap"):
        return "bwrap"
    if sandbox.startswith("sandboxed ("):
        return "box"
    return "none"  # "NOT sandboxed (why)", or a text this version does not know


@dataclass(frozen=True, kw_only=True)
class TargetProof:
    """How one target was proven, or why not."""

    target: str  # "python3.11/arm64"
    status: ProofStatus
    how: str | None = None  # "native", "qemu-aarch64", "the loader of ROOT"
    interpreter: str | None = None
    python_version: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    glibc: str | None = None
    glibc_newer: bool = False  # the proving interpreter's glibc is newer than Lambda's
    covered_by: str | None = None
    sandbox: str | None = None  # "sandboxed (bwrap: …)" or "NOT sandboxed (why)"
    # The layer's ELF files the imports mapped (TargetRun.mapped): they confirm the
    # audit's static import closure (pipeline/auditing.py).
    mapped: tuple[str, ...] | None = None
    # Modules not tried here: what they import was left out with --exclude for the
    # runtime to provide, and this interpreter has no copy of the runtime's.
    left_out: tuple[str, ...] = ()
    # The host architecture a pure-Python target ran on, when not its own (an arm64
    # target proven on an x86_64 CPython: the same bytes, but not "natively").
    ran_on: str | None = None
    # The runtime's SDK the run had after the layer (`--exclude :runtime:`), or why none.
    runtime_sdk: str | None = None

    @property
    def sandbox_kind(self) -> SandboxKind | None:
        """bwrap, box or none (sandbox_kind()); None when the target was not run."""
        return sandbox_kind(self.sandbox)

    def line(self) -> str:
        """One line for the summary, e.g. "python3.11/arm64: imported under qemu-aarch64 …"."""
        if self.status == "skipped":
            return f"{self.target}: not proven: {self.reason}"
        if self.covered_by:
            return f"{self.target}: same files as {self.covered_by} (pure Python), {self.status}"
        under = "natively" if self.how == "native" else f"under {self.how}"
        verb = "imported" if self.status == "passed" else "import FAILED"
        # A proving glibc newer than Lambda's is said once per run (glibc_note), not here.
        text = f"{self.target}: {verb} {under}, CPython {self.python_version}"
        if self.ran_on:
            arch = self.target.split("/")[-1]
            text = (f"{self.target}: {verb} on {self.ran_on} CPython {self.python_version} "
                    f"(pure Python: the same bytes on {arch})")
        # How the sandbox was made is said once per run (run_notes); here only whether.
        text = f"{text}, {self.sandbox.split(' (')[0]}" if self.sandbox else text
        if self.runtime_sdk:
            text += f"; {self.runtime_sdk}"
        if self.left_out:
            text += (f"; not tried here: {', '.join(self.left_out)} (needs what was left "
                     "out for the runtime to provide)")
        return text


def run_notes(proofs: list[ArtifactProof | None]) -> list[str]:
    """The notes a run's proof lines share, each said once: the proving glibc and how the
    sandbox was made; a "warning:" line, not a note, when a proof ran without one."""
    notes = [note] if (note := glibc_note(proofs)) else []
    sandboxes = sorted({t.sandbox for proof in proofs if proof is not None
                        for t in proof.targets if t.sandbox})
    notes += [unsandboxed_warning(sandbox) if sandbox_kind(sandbox) == "none"
              else f"note: the proof ran {sandbox}." for sandbox in sandboxes]
    return notes


def unsandboxed_warning(sandbox: str) -> str:
    """The layer's code ran next to the job's secrets with only its environment scrubbed:
    a warning that says how to make that a refusal instead (docs/sandbox-and-limits.md)."""
    return (f"warning: the proof ran {sandbox}. Install bubblewrap "
            "(docs/sandbox-and-limits.md), or give --proof-sandbox required "
            "(LAMBDALAYER_PROOF_SANDBOX=required) to refuse instead of running the layer's "
            "code unsandboxed.")


def glibc_note(proofs: list[ArtifactProof | None]) -> str | None:
    """One note for a whole run when an interpreter that proved a target has a glibc
    newer than Lambda's (an import could pass here and still need a newer symbol there)."""
    versions = sorted({t.glibc for proof in proofs if proof is not None
                       for t in proof.targets if t.glibc_newer and t.glibc})
    if not versions:
        return None
    return (f"note: the proving CPython's glibc ({', '.join(versions)}) is newer than "
            "Lambda's; the audit checks every symbol version against Lambda's glibc.")


@dataclass(frozen=True, kw_only=True)
class ArtifactProof:
    """The proof of one artifact: `status` over all its targets."""

    status: ProofStatus
    reason: str | None = None
    interpreter: str | None = None
    targets: tuple[TargetProof, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()  # each: the target, the module, the interpreter's error, a fix
    # With `build --test-report`: the interpreter runs behind `targets`, each importing exactly
    # what `lambdalayer test` of the zip would (prove.prove_layer's test_imports), so
    # the test report is made from them instead of importing the layer again. Empty when
    # they cannot stand for that test (plain build, or a tree the zip does not hold as is).
    test_runs: tuple[TargetRun, ...] = ()
    # Failures caused by another distribution of the layer (proof/conflicts.py), in order.
    conflicts: tuple[Conflict, ...] = ()
    # Your own code the proof imported: ("your code (--source src)", its modules).
    own_code: tuple[tuple[str, tuple[str, ...]], ...] = ()


def skipped(reason: str) -> ArtifactProof:
    """The proof was not run at all (e.g. --no-proof)."""
    return ArtifactProof(status="skipped", reason=reason)
