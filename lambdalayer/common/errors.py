"""One exception hierarchy; the CLI maps `exit_code` to the process status in one place.

Exit codes are part of the user-facing contract (docs/exit-codes.md):

    0  success
    1  internal error (a bug: please report it; the traceback is shown)
    2  usage or configuration error (bad option, unknown recipe/runtime, unreadable file,
       an output that cannot be written: disk full, no permission)
    3  requirements cannot be resolved for the target
    4  audit failure: the layer would not load on its target, or breaks a Lambda limit
    5  AWS error (credentials, permissions, missing function or layer, API failure)
    6  the import proof failed on a real interpreter
    7  the import proof could not run here (no interpreter for the target on this host)
    8  the proof's sandbox was required and cannot be made here (see docs/sandbox-and-limits.md)
    9  a known vulnerability at or above --fail-on ships in the layer (docs/supply-chain.md)
   10  the package index cannot be reached (refused, unknown host, timeout, a 5xx or 401/403)
  128+N  ended by signal N (SIGINT 130, SIGTERM 143, SIGHUP 129): see lambdalayer.common.interrupt
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_RESOLUTION = 3
EXIT_AUDIT = 4
EXIT_AWS = 5
EXIT_TEST_FAILED = 6
EXIT_TEST_NOT_RUN = 7
EXIT_SANDBOX = 8
EXIT_VULNERABLE = 9
EXIT_INDEX = 10


class LambdaLayerError(Exception):
    """A failure the user can act on. `str(err)` is the one-paragraph message shown."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None,
                 details: tuple[dict[str, str | None], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Per-item detail the one paragraph leaves out (e.g. every audit finding):
        # shown with --json and --verbose.
        self.details = details

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(LambdaLayerError):
    """Bad command line, unknown name, unreadable or invalid input file."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """Invalid recipe or project configuration."""


class ResolutionError(LambdaLayerError):
    """The requirements have no installable solution for the target."""

    exit_code = EXIT_RESOLUTION


class AuditError(LambdaLayerError):
    """The layer would fail on its target or breaks a Lambda limit."""

    exit_code = EXIT_AUDIT


class AwsError(LambdaLayerError):
    """An AWS call failed in a way the user must fix (credentials, access, not found)."""

    exit_code = EXIT_AWS


class IndexUnreachable(LambdaLayerError):
    """A package index could not be reached or did not answer (not a dependency conflict)."""

    exit_code = EXIT_INDEX


class ProofFailed(LambdaLayerError):
    """An import failed on a real interpreter."""

    exit_code = EXIT_TEST_FAILED


class ProofNotRun(LambdaLayerError):
    """The import proof was required (`--proof required`) and could not run on a target."""

    exit_code = EXIT_TEST_NOT_RUN


class SandboxUnavailable(LambdaLayerError):
    """The proof's sandbox was required (or named) and cannot be made on this host."""

    exit_code = EXIT_SANDBOX


class Reported(LambdaLayerError):
    """The outcome is already on the screen (findings, proof results): exit with `exit_code`
    and print nothing more, so `--json` stays one document."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"exit {exit_code} (already reported)")
        self.exit_code = exit_code
