"""What one interpreter run of the proof found, per target (runner.py makes these).

Plain records, kept apart from the runner so that the build's result types
(result.ArtifactProof, held by pipeline/request.py) can carry them without
reaching the runner, the audit or anything else of the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lambdalayer.targets.target import Target

Status = Literal["passed", "failed", "not-run"]


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """One import: how long it took, where the module came from, or the interpreter's error."""

    module: str
    ok: bool
    seconds: float
    origin: str | None = None  # the module's file, as a Lambda path (/opt/python/...)
    error: str | None = None  # e.g. "ModuleNotFoundError: No module named 'psycopg2._psycopg'"
    traceback: str | None = None


@dataclass(frozen=True, kw_only=True)
class HandlerResult:
    """The handler was imported (and, with an event, invoked once)."""

    handler: str
    ok: bool
    seconds: float
    invoked: bool
    result: Any = None  # what the handler returned (JSON-compatible)
    origin: str | None = None
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True, kw_only=True)
class TargetRun:
    """The proof of one target; `reason` says why it failed as a whole or did not run."""

    target: Target
    status: Status
    reason: str | None = None
    interpreter: str | None = None
    python_version: str | None = None
    imports: tuple[ImportResult, ...] = ()
    handler: HandlerResult | None = None
    seconds: float = 0.0  # wall time of the whole interpreter run, start-up included
    # A pure-Python layer is the same files on both architectures: the run of the
    # first architecture stands for the others, and this names it.
    covered_by: str | None = None
    how: str | None = None  # "native", "qemu-aarch64", "ROOT's ld.so" (interpreters/launch.py)
    glibc: str | None = None  # the proving interpreter's glibc, e.g. "2.36"
    # "sandboxed (bwrap: …)" or "NOT sandboxed (why)": proof/sandbox.py
    sandbox: str | None = None
    # The layer's ELF files the interpreter had mapped after the imports (layer paths,
    # as the audit's findings name them: python/lib/...), from /proc/self/maps; None
    # when the run did not get that far or the host has no /proc.
    mapped: tuple[str, ...] | None = None
    # Bytes of bytecode the run added to the proof's cache (runner.bytecode_cache):
    # only then may the cache have outgrown its share.
    bytecode_stored: int = 0
    # Sources the import compiled because the cache lacked them (as the run named them):
    # compiled again afterwards where the layer's code cannot reach (runner._run_target).
    misses: tuple[str, ...] = ()
    # The runtime's SDK the run had after the layer (`--exclude :runtime:`): "with the
    # runtime's boto3 1.34.126 at /var/runtime", or "without the runtime's SDK (why)".
    runtime_sdk: str | None = None

    @property
    def glibc_newer(self) -> bool:
        """True when the proving interpreter's glibc is newer than the target's."""
        if not self.glibc:
            return False
        try:
            have = tuple(int(p) for p in self.glibc.split(".")[:2])
        except ValueError:
            return False
        return have > self.target.runtime.os.glibc
