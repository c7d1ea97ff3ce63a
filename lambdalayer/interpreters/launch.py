"""How to start an interpreter: directly, under qemu-user, or through a root filesystem's loader.

A foreign CPython (another architecture, or one inside a Debian root
filesystem) is run exactly like a native one, with a prefix in front of the
interpreter's path:

- native: nothing (`/usr/bin/python3.12 -I -S …`);
- qemu: `qemu-aarch64 -L ROOT` (the guest's dynamic loader and libraries come
  from ROOT; qemu redirects absolute paths that exist under ROOT, so the layer
  must live at a path ROOT does not have, like a fresh temporary directory);
  the guest's LD_LIBRARY_PATH is passed with `-E`, so the host's qemu never
  sees the layer's foreign libraries; an aarch64 guest gets
  `-cpu neoverse-n1`, Graviton2's core (see QEMU_CPU_CHOICES);
- binfmt: no qemu-user on PATH, but the kernel has an enabled binfmt_misc
  entry for the executable's machine (qemu-user-binfmt, or a CI runner's
  `docker/setup-qemu-action`): the interpreter is run directly and qemu reads
  the prefix from QEMU_LD_PREFIX and the guest's LD_LIBRARY_PATH from
  QEMU_SET_ENV;
- rootfs-loader: ROOT's own `ld-linux` run with `--inhibit-cache
  --library-path ROOT's lib dirs` (a same-architecture root filesystem whose
  glibc may be newer than the host's); the layer's lib dirs go first in that
  path, since the loader ignores LD_LIBRARY_PATH when given one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Kind = Literal["native", "qemu", "binfmt", "rootfs-loader"]

# Machine (platform.machine() spelling) -> qemu-user program and the loader's name.
QEMU_PROGRAMS = {"aarch64": "qemu-aarch64", "x86_64": "qemu-x86_64"}
LOADERS = {"aarch64": "ld-linux-aarch64.so.1", "x86_64": "ld-linux-x86-64.so.2"}
_MULTIARCH = {"aarch64": "aarch64-linux-gnu", "x86_64": "x86_64-linux-gnu"}
_ELF_MACHINES = {"x86_64": 62, "aarch64": 183}  # e_machine
# The CPU an aarch64 guest is given, newest qemu first (the first whose version it has):
# - neoverse-n1 (qemu 7.0+): Graviton2's core, the oldest Lambda's arm64 runs on, so code
#   that needs a newer core (SVE, pointer authentication beyond the NOP-compatible hints
#   Debian builds with) fails here as it would there; and about 15-20% cheaper to emulate
#   than `max` (glibc picks its plain ASIMD string functions; docs/performance.md);
# - max,pauth-impdef=on (qemu 6.0+): every feature, with the cheap implementation-defined
#   pointer authentication: qemu's default (architected, QARMA5) made the pointer-
#   authenticated CPython 3.13/3.14 of Debian trixie 2.3-2.5x slower (2.26 s vs 0.97 s
#   for `import json, decimal, ssl, ctypes`; bench/emulation_bench.py);
# - older qemu: nothing, qemu's default.
# A QEMU_CPU the user set wins.
QEMU_CPU_CHOICES: dict[str, tuple[tuple[tuple[int, int], str], ...]] = {
    "aarch64": (((7, 0), "neoverse-n1"), ((6, 0), "max,pauth-impdef=on"))}
# Where the kernel's binfmt_misc entries are read; tests point it at a folder of their own.
BINFMT_DIR_VARIABLE = "LAMBDALAYER_BINFMT_MISC"


@dataclass(frozen=True, kw_only=True)
class Launch:
    """The prefix that starts an interpreter of `machine` on this host."""

    kind: Kind = "native"
    program: str | None = None  # qemu-aarch64, or the root filesystem's ld-linux
    root: str | None = None  # the library prefix (-L) or root filesystem
    machine: str | None = None

    def argv(self, executable: str, args: list[str], library_path: list[str]) -> list[str]:
        """The command line running `executable args…` with `library_path` searched first."""
        if self.kind == "qemu" and self.program:
            guest_env = ["-E", "LD_LIBRARY_PATH=" + os.pathsep.join(library_path)] \
                if library_path else []
            return [self.program, *qemu_cpu_args(self.program, self.machine), "-L",
                    self.root or "/",
                    *guest_env, executable, *args]
        if self.kind == "binfmt":
            return [executable, *args]  # the kernel hands it to qemu (see environment())
        if self.kind == "rootfs-loader" and self.program and self.root:
            dirs = [*library_path, *root_library_dirs(Path(self.root), self.machine or "")]
            return [self.program, "--inhibit-cache", "--library-path", os.pathsep.join(dirs),
                    executable, *args]
        return [executable, *args]

    def environment(self, library_path: list[str]) -> dict[str, str]:
        """Variables the run needs besides argv(): qemu's settings when binfmt starts it."""
        if self.kind != "binfmt":
            return {}
        env = {"QEMU_LD_PREFIX": self.root or "/"}
        if library_path:  # for the guest only, like -E (comma-separated assignments)
            env["QEMU_SET_ENV"] = "LD_LIBRARY_PATH=" + os.pathsep.join(library_path)
        cpu = qemu_cpu_args(self.program or "", self.machine) \
            if self.program and Path(self.program).is_file() else []
        if cpu:
            env["QEMU_CPU"] = cpu[1]
        return env

    def describe(self) -> str:
        """How the run happens, for reports: "native", "qemu-aarch64", "binfmt qemu-aarch64",
        "ROOT's ld.so"."""
        if self.kind == "qemu":
            return Path(self.program or "qemu").name
        if self.kind == "binfmt":
            return f"binfmt {Path(self.program or 'qemu').name}"
        if self.kind == "rootfs-loader":
            return f"{Path(self.root or '').name}'s ld.so"
        return "native"


def qemu_cpu_args(program: str, machine: str | None) -> list[str]:
    """`-cpu …` for `program` emulating `machine`: the CPU the user chose in QEMU_CPU, said
    on the command line because the proof's environment does not carry host variables
    (proof/runner.runtime_environment), else ours where this qemu has it."""
    chosen = os.environ.get("QEMU_CPU", "").strip()
    if chosen:
        return ["-cpu", chosen]
    choices = QEMU_CPU_CHOICES.get(machine or "", ())
    if not choices:
        return []
    version = qemu_version(program)
    return next((["-cpu", cpu] for since, cpu in choices if version >= since), [])


@cache
def qemu_version(program: str) -> tuple[int, ...]:
    """(major, minor) from `program --version`; () when it does not say. Remembered while
    the program's file is the same (interpreters/memo.py)."""
    from lambdalayer.interpreters import memo

    def ask() -> tuple[int, ...]:
        try:
            completed = subprocess.run([program, "--version"], capture_output=True,
                                       text=True, encoding="utf-8", errors="replace",
                                       timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return ()
        found = re.search(r"version (\d+)\.(\d+)", completed.stdout)
        return (int(found.group(1)), int(found.group(2))) if found else ()

    facts = memo.file_facts(program)
    if facts is None:
        return ask()
    return memo.remembered(f"qemu version {program}", facts, ask, list,
                           lambda kept: tuple(int(part) for part in kept))


def root_library_dirs(root: Path, machine: str) -> list[str]:
    """The library directories of a Debian-style root filesystem, as its loader searches them."""
    triplet = _MULTIARCH.get(machine, "")
    candidates = [root / "usr" / "lib" / triplet, root / "lib" / triplet, root / "usr" / "lib",
                  root / "lib"]
    return [str(c) for c in candidates if c.is_dir()]


def find_loader(root: Path, machine: str) -> Path | None:
    """The dynamic loader inside a root filesystem, if it has one for `machine`."""
    name = LOADERS.get(machine)
    if name is None:
        return None
    triplet = _MULTIARCH[machine]
    for candidate in (root / "usr" / "lib64" / name, root / "lib64" / name,
                      root / "usr" / "lib" / triplet / name, root / "lib" / name,
                      root / "usr" / "lib" / name):
        if candidate.exists():
            return candidate
    return None


def find_qemu(machine: str) -> str | None:
    """qemu-user for `machine` on PATH (the -static build too), or None."""
    program = QEMU_PROGRAMS.get(machine)
    if program is None:
        return None
    return shutil.which(program) or shutil.which(f"{program}-static")


def qemu_hint(machine: str, host: str) -> str:
    """What to install so that `machine` code runs on a `host` machine."""
    return (f"{machine} on an {host} host: install qemu-user (Debian/Ubuntu: "
            f"`apt-get install qemu-user`) so {QEMU_PROGRAMS.get(machine, 'qemu')} is on PATH, "
            "or register qemu with binfmt_misc (qemu-user-binfmt)")


@dataclass(frozen=True, kw_only=True)
class BinfmtEntry:
    """An enabled binfmt_misc entry (/proc/sys/fs/binfmt_misc/NAME)."""

    name: str
    interpreter: str  # the program the kernel starts (it may live in a container: F flag)
    flags: str


def binfmt_entry(executable: Path) -> BinfmtEntry | None:
    """The enabled binfmt_misc entry the kernel would use to run `executable`, if any."""
    try:
        with executable.open("rb") as handle:
            return _binfmt_entry_for(handle.read(128))
    except OSError:
        return None


def can_emulate(machine: str) -> bool:
    """qemu-user for `machine` is on PATH, or binfmt_misc runs its executables."""
    code = _ELF_MACHINES.get(machine)
    if find_qemu(machine) is not None:
        return True
    if code is None:
        return False
    # The first bytes of a little-endian 64-bit position-independent executable.
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00" + code.to_bytes(2, "little")
    return _binfmt_entry_for(header) is not None


def _binfmt_entry_for(head: bytes) -> BinfmtEntry | None:
    """Magic entries only (qemu's are): `magic` compared under `mask` at `offset` with the
    file's first bytes, as the kernel does."""
    directory = Path(os.environ.get(BINFMT_DIR_VARIABLE) or "/proc/sys/fs/binfmt_misc")
    try:
        if (directory / "status").read_text("ascii").strip() != "enabled":
            return None
        entries = sorted(e for e in directory.iterdir() if e.name not in ("register", "status"))
    except OSError:
        return None
    for entry in entries:
        try:
            fields = _binfmt_fields(entry.read_text("ascii", "replace"))
        except OSError:
            continue
        if fields.get("enabled") and _magic_matches(head, fields):
            return BinfmtEntry(name=entry.name, interpreter=fields.get("interpreter", ""),
                               flags=fields.get("flags", ""))
    return None


def _binfmt_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() == "enabled":
            fields["enabled"] = "1"
        key, _, value = line.partition(" ")
        fields.setdefault(key.rstrip(":"), value.strip())
    return fields


def _magic_matches(head: bytes, fields: dict[str, str]) -> bool:
    try:
        magic = bytes.fromhex(fields["magic"])
        mask = bytes.fromhex(fields["mask"]) if fields.get("mask") else b"\xff" * len(magic)
        offset = int(fields.get("offset") or 0)
    except (KeyError, ValueError):
        return False  # an extension entry, or one we cannot read
    window = head[offset:offset + len(magic)]
    if len(window) != len(magic) or len(mask) != len(magic):
        return False
    return all((have & bits) == (want & bits)
               for have, want, bits in zip(window, magic, mask, strict=True))


def elf_machine(path: Path) -> str | None:
    """The machine an ELF executable is built for (x86_64/aarch64), from its header."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return {number: name for name, number in _ELF_MACHINES.items()}.get(code)
