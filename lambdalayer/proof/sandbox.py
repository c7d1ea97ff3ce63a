"""The proof's box: third-party code runs where it sees only what the import needs.

The proof (`build`'s import check, `lambdalayer test`, and the helper that compiles the
proof's bytecode) is the one moment a build runs third-party code, on a CI runner that
holds deploy credentials. The box around it (docs/sandbox-and-limits.md, threat model
in docs/proof-threat-model.md) shows the interpreter a new, minimal root:

- the host's system directories (/usr and the /bin, /lib... links or folders), a few
  files of /etc the loader reads, all read-only; not /home, /root, /run, /var/run or
  any host socket;
- the interpreter's own prefix (or its root filesystem, for qemu), read-only;
- the layer read-only at /opt, the function's code (or an empty folder) read-only at
  /var/task, exactly Lambda's paths;
- a private, size-limited /tmp (also HOME), a minimal /dev, its own /proc;
- new user, PID, network, IPC, UTS (and cgroup) namespaces; no capabilities; it dies
  with its parent, and killing the box's first process ends every process in it;
- resource limits (`limits_argv`): address space, processes, file size, CPU time.

Two ways to make it, the same view either way:
- bubblewrap (`bwrap`), when it works here;
- else "box": util-linux `unshare` enters the namespaces and lambdalayer's own
  `box.py`, run by this Python, builds the same root with mount(2) and pivot_root(2),
  drops every capability, then runs the interpreter.
If neither can be made (a container without user namespaces, macOS), the proof runs
unboxed with a scrubbed environment on a private copy of the layer, and says so as a
warning; `proof_sandbox = "required"` refuses instead (SandboxUnavailable, exit 8), and
so does a box named with LAMBDALAYER_SANDBOX that cannot be made.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from lambdalayer.common.errors import SandboxUnavailable
from lambdalayer.interpreters.find import Interpreter

Kind = Literal["bwrap", "box", "none"]
SANDBOX_VARIABLE = "LAMBDALAYER_SANDBOX"
_CHOICES = ("auto", "bwrap", "box", "none")
_NAMESPACES = "user, PID, network, IPC and UTS namespaces"
_BOX_SCRIPT = Path(__file__).with_name("box.py")

OPT = "/opt"
TASK = "/var/task"
TMP = "/tmp"
# Lambda's default ephemeral storage is 512 MB (its /tmp); the box's /tmp is as large.
TMP_BYTES = 512 * 1024 * 1024
# The most memory a Lambda function can have is 10,240 MB; the box's address space is
# that, plus room for qemu's translation buffers when the interpreter is emulated.
MEMORY_BYTES = 10240 * 1024 * 1024
EMULATION_EXTRA_BYTES = 4096 * 1024 * 1024
FILE_BYTES = TMP_BYTES  # no single file larger than /tmp itself
EXTRA_PROCESSES = 256  # over what this user already runs (the limit counts them all)

# Read-only in every box: what a dynamically linked interpreter needs to start.
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
# Only for an invoked handler, which keeps the network: names and certificates.
_NETWORK_ETC = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl/certs",
                "/etc/ca-certificates", "/etc/pki")


@dataclass(frozen=True, kw_only=True)
class View:
    """What one run sees, host paths on the left.

    `layer`: (host folder, path inside) pairs shown read-only, e.g. (tree, "/opt");
    `readable`: host paths shown read-only at their own path (the interpreter's
    prefix, a root filesystem, the bytecode cache for the proof);
    `writable`: host paths writable at their own path (only the compile helper's
    bytecode folder: it runs none of the layer's code);
    `network`: keep the host's network (an invoked handler talks to its services);
    `memory`: the address-space limit in bytes."""

    layer: tuple[tuple[Path, str], ...]
    readable: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    network: bool = False
    memory: int = MEMORY_BYTES
    tmp_bytes: int = TMP_BYTES
    cwd: str = TASK
    scratch: str = ""  # an empty host folder the box may mount its root on (box only)


@dataclass(frozen=True, kw_only=True)
class Sandbox:
    """How the proof's interpreter is isolated; `reason` says why not when kind is none."""

    kind: Kind
    program: str | None = None
    reason: str | None = None
    flags: tuple[str, ...] = field(default=())  # extra bwrap flags this bwrap supports

    def wrap(self, argv: Sequence[str], view: View) -> list[str]:
        """`argv` run inside the box showing `view`; for kind none, `argv` under the
        resource limits only (the caller stages a private copy of the layer)."""
        limits = limits_argv(view.memory)
        if self.kind == "bwrap" and self.program:
            return [*limits, self.program, *self.flags, *_bwrap_args(view), "--", *argv]
        if self.kind == "box" and self.program:
            spec = json.dumps({"mounts": _mounts(view), "cwd": view.cwd,
                               "root": view.scratch})
            namespaces = ["--user", "--map-root-user", "--mount", "--pid", "--fork",
                          "--ipc", "--uts", "--kill-child", *([] if view.network else ["--net"])]
            return [*limits, self.program, *namespaces, "--", sys.executable, "-I", "-S",
                    str(_BOX_SCRIPT), spec, *argv]
        return [*limits, *argv]

    @property
    def boxed(self) -> bool:
        """True when the run sees the minimal root (bwrap or box), not the host."""
        return self.kind != "none"

    def describe(self, *, network: bool = False) -> str:
        """For the proof line: "sandboxed (bwrap: …)" or "NOT sandboxed (why) …"."""
        spaces = (_NAMESPACES.replace("network, ", "")
                  + ", the host's network kept for the invoked handler") if network \
            else _NAMESPACES
        if self.kind in ("bwrap", "box"):
            return (f"sandboxed ({self.kind}: {spaces}; only the interpreter, the layer "
                    "read-only at /opt and a private /tmp)")
        return f"NOT sandboxed ({self.reason}); only its environment is scrubbed"


def interpreter_paths(interpreter: Interpreter) -> tuple[Path, ...]:
    """What the box shows read-only for `interpreter` besides the host's /usr: its prefix
    (as named and resolved), and the root filesystem and program it is launched with."""
    paths: set[Path] = set()
    for executable in {interpreter.path, os.path.realpath(interpreter.path)}:
        folder = Path(executable).parent
        paths.add(folder.parent if folder.name == "bin" else folder)
    launch = interpreter.launch
    if launch.root:
        paths.add(Path(launch.root))
    if launch.program:
        paths.add(Path(os.path.realpath(launch.program)).parent)
    return tuple(sorted(p for p in paths if str(p) not in ("/", "/usr", ".")))


def _system_entries() -> list[tuple[str, str, str]]:
    """(kind, source, destination) of the host's system directories: a merged-/usr
    host's /lib is a link, shown as the same link; a real folder is bound read-only."""
    entries: list[tuple[str, str, str]] = []
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            entries.append(("symlink", os.readlink(path), path))
        elif os.path.isdir(path):
            entries.append(("ro", path, path))
    return entries


def _mounts(view: View) -> list[tuple[str, str, str]]:
    """Every mount of `view`, in order, as (kind, source, destination)."""
    mounts = _system_entries()
    etc = [*_ETC_FILES, *(_NETWORK_ETC if view.network else ())]
    mounts += [("ro", path, path) for path in etc if os.path.exists(path)]
    mounts += [("proc", "", "/proc"), ("dev", "", "/dev"),
               ("tmpfs", str(view.tmp_bytes), TMP), ("dir", "", TASK)]
    readable = [str(p) for p in dict.fromkeys(view.readable)
                if not str(p).startswith("/usr/") and str(p) != "/usr"]
    frozen: list[str] = []
    for host, inside in view.layer:
        if not any(path.startswith(inside + "/") for path in readable):
            mounts.append(("ro", str(host), inside))
            continue
        # The interpreter lives under the layer's path (actions/setup-python's
        # /opt/hostedtoolcache): /opt is made of the layer's entries, one bind each, so
        # the interpreter's folder can stand beside them; read-only once all are in.
        mounts.append(("folder", "", inside))
        mounts += [("ro", str(host / entry), f"{inside}/{entry}")
                   for entry in sorted(os.listdir(host))]
        frozen.append(inside)
    mounts += [("ro", path, path) for path in readable]
    mounts += [("rw", str(path), str(path)) for path in view.writable]
    mounts += [("freeze", "", path) for path in frozen]
    return mounts


def _bwrap_args(view: View) -> list[str]:
    args = ["--unshare-all", *(["--share-net"] if view.network else []),
            "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for kind, source, destination in _mounts(view):
        if kind == "symlink":
            args += ["--symlink", source, destination]
        elif kind == "ro":
            args += ["--ro-bind", source, destination]
        elif kind == "rw":
            args += ["--bind", source, destination]
        elif kind == "proc":
            args += ["--proc", destination]
        elif kind == "dev":
            args += ["--dev", destination]
        elif kind == "tmpfs":
            args += ["--size", source, "--perms", "1777", "--tmpfs", destination]
        elif kind == "dir":
            args += ["--dir", destination]
        elif kind == "folder":
            args += ["--perms", "0755", "--size", str(1 << 20), "--tmpfs", destination]
        elif kind == "freeze":
            args += ["--remount-ro", destination]
    return [*args, "--remount-ro", "/", "--chdir", view.cwd]


def _user_processes() -> int:
    """How many processes this user runs now (RLIMIT_NPROC counts every one of them)."""
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                continue
    return count


def limits_argv(memory: int) -> list[str]:
    """`prlimit` with the box's resource limits, to go in front of a command; [] where
    util-linux's prlimit is missing (the limits are then the host's)."""
    program = shutil.which("prlimit")
    if program is None or platform.system() != "Linux":
        return []
    return [program, f"--as={memory}", f"--nproc={_user_processes() + EXTRA_PROCESSES}",
            f"--fsize={FILE_BYTES}", "--core=0"]


def _works(argv: list[str]) -> str | None:
    """None when `argv` (a box around `true`) runs here, else what went wrong."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=30, check=False,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def _try(kind: Kind) -> Sandbox | str:
    """The working box of `kind`, or why it cannot be made here."""
    program = shutil.which("bwrap" if kind == "bwrap" else "unshare")
    true = shutil.which("true")
    if program is None or true is None:
        return f"no {'bwrap (bubblewrap)' if kind == 'bwrap' else 'unshare'} on PATH"
    candidates = [("--unshare-user", "--disable-userns"), ()] if kind == "bwrap" else [()]
    failure = ""
    with tempfile.TemporaryDirectory(prefix="lambdalayer-probe-") as scratch:
        for flags in candidates:
            probe = Sandbox(kind=kind, program=program, flags=flags)
            failure = _works(probe.wrap([true], View(layer=(), scratch=scratch))) or ""
            if not failure:
                return probe
    return f"{kind} cannot make the box here: {failure}"


_APPARMOR_HINT = (
    "on Ubuntu 23.10 and later (GitHub's ubuntu-24.04 runners), AppArmor restricts "
    "unprivileged user namespaces: allow them to bwrap alone with a profile "
    "(docs/sandbox-and-limits.md: /etc/apparmor.d/bwrap granting `userns`), not by "
    "turning kernel.apparmor_restrict_unprivileged_userns off")


_FINDING = threading.Lock()


@cache
def _find(choice: str) -> Sandbox:
    if platform.system() != "Linux":
        return Sandbox(kind="none", reason=f"namespaces are Linux's; this host runs "
                                           f"{platform.system()}")
    if choice == "none":
        return Sandbox(kind="none", reason=f"{SANDBOX_VARIABLE}=none")
    kinds: tuple[Kind, ...] = ("bwrap", "box") if choice == "auto" else (
        "bwrap" if choice == "bwrap" else "box",)
    failures = []
    for kind in kinds:
        found = _try(kind)
        if isinstance(found, Sandbox):
            return found
        failures.append(found)
    reason = "; ".join(failures)
    if "uid map" in reason or "Permission denied" in reason:
        reason += f" ({_APPARMOR_HINT})"
    elif choice == "auto":
        reason += "; install bubblewrap (apt-get install bubblewrap)"
    return Sandbox(kind="none", reason=reason)


def find_sandbox(*, required: bool = False) -> Sandbox:
    """The box this host makes (probed once per choice of LAMBDALAYER_SANDBOX).

    Raises SandboxUnavailable when LAMBDALAYER_SANDBOX names a box that cannot be made,
    or when a box is `required` (proof_sandbox, whose precedence project/precedence.py
    settles) and none can be.
    """
    choice = os.environ.get(SANDBOX_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise SandboxUnavailable(
            f"{SANDBOX_VARIABLE}={choice!r} names no sandbox; use one of "
            f"{', '.join(_CHOICES)}.")
    with _FINDING:  # one probe: a second thread (proof/warmup.py) waits for its answer
        found = _find(choice)
    if found.kind == "none" and (required or choice in ("bwrap", "box")):
        asked = (f"{SANDBOX_VARIABLE}={choice}" if choice in ("bwrap", "box")
                 else "proof_sandbox = \"required\"")
        raise SandboxUnavailable(
            f"The import proof must run sandboxed ({asked}), and no sandbox can be made "
            f"on this host: {found.reason}. Nothing was run.",
            hint="Install bubblewrap and allow it user namespaces (see "
                 "docs/sandbox-and-limits.md), or run on a host that has them.")
    return found
