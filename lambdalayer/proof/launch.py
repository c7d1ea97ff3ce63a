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
  `-cpu max,pauth-impdef=on` (see QEMU_CPU_OPTIONS);
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

Kind = Literal["native", "qemu", "rootfs-loader"]

# Machine (platform.machine() spelling) -> qemu-user program and the loader's name.
QEMU_PROGRAMS = {"aarch64": "qemu-aarch64", "x86_64": "qemu-x86_64"}
LOADERS = {"aarch64": "ld-linux-aarch64.so.1", "x86_64": "ld-linux-x86-64.so.2"}
_MULTIARCH = {"aarch64": "aarch64-linux-gnu", "x86_64": "x86_64-linux-gnu"}
# Debian trixie and later build arm64 code with pointer authentication; qemu's default
# (architected, QARMA5) emulation of it made CPython 3.13/3.14 start 4-6x slower (4.6 s vs
# 0.8 s for `import json, decimal, ssl, ctypes`). The implementation-defined algorithm
# keeps the feature, so the same instructions run and fail the same way, only cheaper.
# A QEMU_CPU the user set wins (qemu reads it when no -cpu is given); qemu before 6.0 has
# no pauth-impdef property and gets nothing.
QEMU_CPU_OPTIONS = {"aarch64": "max,pauth-impdef=on"}
_PAUTH_IMPDEF_SINCE = (6, 0)


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
        if self.kind == "rootfs-loader" and self.program and self.root:
            dirs = [*library_path, *root_library_dirs(Path(self.root), self.machine or "")]
            return [self.program, "--inhibit-cache", "--library-path", os.pathsep.join(dirs),
                    executable, *args]
        return [executable, *args]

    def describe(self) -> str:
        """How the run happens, for reports: "native", "qemu-aarch64", "ROOT's ld.so"."""
        if self.kind == "qemu":
            return Path(self.program or "qemu").name
        if self.kind == "rootfs-loader":
            return f"{Path(self.root or '').name}'s ld.so"
        return "native"


def qemu_cpu_args(program: str, machine: str | None) -> list[str]:
    """`-cpu …` for `program` emulating `machine`, unless the user chose one in QEMU_CPU."""
    options = QEMU_CPU_OPTIONS.get(machine or "")
    if not options or os.environ.get("QEMU_CPU"):
        return []
    return ["-cpu", options] if qemu_version(program) >= _PAUTH_IMPDEF_SINCE else []


@cache
def qemu_version(program: str) -> tuple[int, ...]:
    """(major, minor) from `program --version`; () when it does not say."""
    try:
        completed = subprocess.run([program, "--version"], capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", timeout=30,
                                   check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    found = re.search(r"version (\d+)\.(\d+)", completed.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else ()


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
            f"`apt-get install qemu-user`) so {QEMU_PROGRAMS.get(machine, 'qemu')} is on PATH")


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
    return {62: "x86_64", 183: "aarch64"}.get(code)
