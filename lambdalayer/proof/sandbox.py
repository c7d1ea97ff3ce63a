"""Run the layer's code where it cannot reach lambdalayer's environment or the network.

The proof (`build`'s import check and `lambdalayer test`) is the one moment third-party
code runs during a build, next to the CI job's deploy credentials. A scrubbed
environment is not enough: any process of the same user can read
`/proc/<pid>/environ` of its parent. So on Linux the interpreter starts in new user,
PID, network, IPC and UTS namespaces: its /proc shows only its own processes, and its
network has nothing but an empty loopback.

- bubblewrap (`bwrap`) when it works here: also the host's file system read-only, with
  the run's scratch folder (Lambda's /opt, /var/task, HOME and TMPDIR) writable;
- else util-linux `unshare` (the file system as it is);
- else nothing, said on the proof line; the environment stays scrubbed.

Invoking a handler (`test --event`) keeps the host's network, since a handler talks
to its services (a database on the CI runner); the other namespaces stay, and the
proof line says so.

Running as another user instead was not chosen: a root CI job's interpreters live in
/root/.pyenv, which no other user can open. LAMBDALAYER_SANDBOX=bwrap|unshare|none
chooses one (docs/sandbox-and-limits.md).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Kind = Literal["bwrap", "unshare", "none"]
SANDBOX_VARIABLE = "LAMBDALAYER_SANDBOX"
_KINDS: tuple[Kind, ...] = ("bwrap", "unshare", "none")
_NAMESPACES = "user, PID, network, IPC and UTS namespaces"


@dataclass(frozen=True, kw_only=True)
class Sandbox:
    """How the proof's interpreter is isolated; `reason` says why not when kind is none."""

    kind: Kind
    program: str | None = None
    reason: str | None = None

    def wrap(self, argv: Sequence[str], *, writable: Path, cwd: Path,
             network: bool = False, also_writable: Sequence[Path] = ()) -> list[str]:
        """`argv` run inside the sandbox, with `writable` (the scratch folder) and
        `also_writable` writable; `network` keeps the host's network namespace."""
        if self.kind == "bwrap" and self.program:
            flags = [f for f in _BWRAP_FLAGS if not (network and f == "--unshare-net")]
            binds = [arg for path in (writable, *also_writable)
                     for arg in ("--bind", str(path), str(path))]
            return [self.program, *flags, *binds, "--chdir", str(cwd), "--", *argv]
        if self.kind == "unshare" and self.program:
            flags = [f for f in _UNSHARE_FLAGS if not (network and f == "--net")]
            return [self.program, *flags, "--", *argv]
        return list(argv)

    def describe(self, *, network: bool = False) -> str:
        """For the proof line: "sandboxed (bwrap: …)" or "NOT sandboxed (why) …"."""
        spaces = (_NAMESPACES.replace("network, ", "")
                  + ", the host's network kept for the invoked handler") if network \
            else _NAMESPACES
        if self.kind == "bwrap":
            return f"sandboxed (bwrap: {spaces}, read-only host files)"
        if self.kind == "unshare":
            return f"sandboxed (unshare: {spaces})"
        return f"NOT sandboxed ({self.reason}); only its environment is scrubbed"


_BWRAP_FLAGS = ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                "--unshare-uts", "--die-with-parent", "--new-session",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc")
# --map-root-user: a user namespace is what lets a non-root user make the others.
_UNSHARE_FLAGS = ("--user", "--map-root-user", "--pid", "--fork", "--net", "--ipc", "--uts",
                  "--mount-proc", "--kill-child")


def _works(argv: list[str]) -> str | None:
    """None when `argv` (a sandbox around `true`) runs here, else what went wrong."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=30, check=False, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def _try(kind: Kind) -> Sandbox | str:
    """The working sandbox of `kind`, or why it does not work here."""
    program = shutil.which("bwrap" if kind == "bwrap" else "unshare")
    true = shutil.which("true")
    if program is None or true is None:
        return f"no {'bwrap (bubblewrap)' if kind == 'bwrap' else 'unshare'} on PATH"
    probe = Sandbox(kind=kind, program=program)
    failure = _works(probe.wrap([true], writable=Path("/"), cwd=Path("/")))
    return probe if failure is None else f"{kind} cannot create namespaces here: {failure}"


@cache
def _find(choice: str) -> Sandbox:
    if platform.system() != "Linux":
        return Sandbox(kind="none", reason=f"namespaces are Linux's; this host runs "
                                           f"{platform.system()}")
    if choice == "none":
        return Sandbox(kind="none", reason=f"{SANDBOX_VARIABLE}=none")
    kinds: tuple[Kind, ...] = ("bwrap", "unshare") if choice not in _KINDS else (
        "bwrap" if choice == "bwrap" else "unshare",)
    failures = []
    for kind in kinds:
        found = _try(kind)
        if isinstance(found, Sandbox):
            return found
        failures.append(found)
    hint = "" if choice in _KINDS else "; install bubblewrap"
    return Sandbox(kind="none", reason="; ".join(failures) + hint)


def find_sandbox() -> Sandbox:
    """The best sandbox this host offers (probed once per choice of LAMBDALAYER_SANDBOX)."""
    return _find(os.environ.get(SANDBOX_VARIABLE, "auto").strip().lower())
