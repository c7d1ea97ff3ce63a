"""Find a local CPython X.Y to stand in for a Lambda runtime's interpreter.

Looked for, in order: `pythonX.Y` on PATH, pyenv's versions directory, then
`uv python find X.Y`. Every candidate is run once to confirm what it is (a
pyenv shim on PATH may name a version that is not selected, and then fails),
and the path reported is the interpreter's own `sys.executable`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from lambdalayer.interpreters import memo
from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.interpreters.launch import (
    LOADERS,
    Launch,
    binfmt_entry,
    can_emulate,
    elf_machine,
    find_loader,
    find_qemu,
    qemu_hint,
)

_PROBE = (
    "import json, platform, sys; print(json.dumps({"
    "'implementation': sys.implementation.name, 'version': list(sys.version_info[:3]), "
    "'executable': sys.executable, 'machine': platform.machine(), "
    "'system': platform.system(), 'libc': platform.libc_ver()[0]}))"
)


@dataclass(frozen=True, kw_only=True)
class Interpreter:
    """A CPython interpreter on this host and the platform it runs on."""

    path: str
    version: str  # full version, e.g. "3.11.7"
    machine: str  # platform.machine(): x86_64, aarch64, arm64
    system: str  # platform.system(): Linux, Darwin, Windows
    libc: str  # "glibc" on glibc Linux, "" elsewhere (musl reports nothing)
    # How it is started: natively, under qemu-user, or through a root filesystem's loader.
    launch: Launch = field(default_factory=Launch)
    # host (PATH/pyenv/uv), uv, rootfs, env or config (a path named in either)
    source: str = "host"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def _path_candidate(version: str) -> list[str]:
    found = shutil.which(f"python{version}")
    # A pyenv shim is a shell script that fails for an unselected version, slowly; pyenv's
    # versions are looked at directly next.
    if found and Path(found).parent.name == "shims":
        return []
    return [found] if found else []


def _pyenv_candidates(version: str) -> list[str]:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for directory in root.glob(f"{version}.*"):
        # Only final releases such as 3.11.7; "3.11.7t" or "3.11-dev" are not what Lambda runs.
        if re.fullmatch(rf"{re.escape(version)}\.\d+", directory.name):
            exe = directory / "bin" / f"python{version}"
            if exe.exists():
                found.append((int(directory.name.rsplit(".", 1)[1]), str(exe)))
    return [exe for _, exe in sorted(found, reverse=True)]


def _windows_candidates(version: str, *, system: str | None = None) -> list[str]:
    """Windows: the `py -X.Y` launcher (python.org installs), then pyenv-win's versions
    (`%PYENV_ROOT%` or ~/.pyenv/pyenv-win, each version's python.exe at its root)."""
    if (system or os.name) != "nt":
        return []
    found = []
    launcher = shutil.which("py")
    if launcher:
        try:
            completed = subprocess.run(
                [launcher, f"-{version}", "-c", "import sys; print(sys.executable)"],
                capture_output=True, text=True, encoding="utf-8", errors="replace",
                timeout=60, check=False)
            if completed.returncode == 0 and completed.stdout.strip():
                found.append(completed.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    root = os.environ.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv",
                                                         "pyenv-win")
    versions = os.path.join(root, "versions")
    patches = []
    for name in os.listdir(versions) if os.path.isdir(versions) else []:
        exe = os.path.join(versions, name, "python.exe")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", name) and os.path.exists(exe):
            patches.append((int(name.rsplit(".", 1)[1]), exe))
    return found + [exe for _, exe in sorted(patches, reverse=True)]


def _uv_candidate(version: str) -> list[str]:
    """`uv python find X.Y`'s answer (0.3-0.5 s when the host has none), remembered while
    what steers uv's search holds (interpreters/memo.py)."""
    from lambdalayer.common.uvtool import run_uv, uv_binary

    def ask() -> list[str]:
        try:
            result = run_uv(["python", "find", "--no-project", version], timeout=60)
        except (OSError, subprocess.SubprocessError):
            return []
        path = result.stdout.strip()
        return [path] if result.returncode == 0 and path else []

    return memo.remembered(f"uv python find {version}", memo.uv_search_facts(uv_binary()),
                           ask, list, lambda kept: [str(p) for p in kept])


def probe(path: str) -> Interpreter | None:
    """What `path` is, by running it; None when it does not run or is not CPython.
    Remembered while the file (and LD_LIBRARY_PATH, which may pick its libpython) is the
    same (interpreters/memo.py)."""
    facts = memo.file_facts(path)
    if facts is None:
        return _probe(path)
    return memo.remembered(f"probe {path}", [facts, os.environ.get("LD_LIBRARY_PATH")],
                           lambda: _probe(path), _encode, _decode)


def _encode(found: Interpreter | None) -> dict[str, str] | None:
    return None if found is None else {"path": found.path, "version": found.version,
                                       "machine": found.machine, "system": found.system,
                                       "libc": found.libc}


def _decode(kept: Any) -> Interpreter | None:
    if kept is None:
        return None
    return Interpreter(path=str(kept["path"]), version=str(kept["version"]),
                       machine=str(kept["machine"]), system=str(kept["system"]),
                       libc=str(kept["libc"]))


def _probe(path: str) -> Interpreter | None:
    try:
        completed = subprocess.run([path, "-I", "-S", "-c", _PROBE], capture_output=True,
                                   text=True, encoding="utf-8", errors="replace", timeout=60,
                                   check=False)
        data = json.loads(completed.stdout) if completed.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("implementation") != "cpython":
        return None
    return Interpreter(path=str(data["executable"]),
                       version=".".join(str(part) for part in data["version"]),
                       machine=str(data["machine"]), system=str(data["system"]),
                       libc=str(data["libc"]))


@cache
def find_interpreter(version: str) -> Interpreter | None:
    """A CPython whose major.minor is `version` ("3.11"), or None when the host has none."""
    return _local_interpreter(version) or _uv_interpreter(version)


@cache
def _local_interpreter(version: str) -> Interpreter | None:
    return _search(version, (_path_candidate, _pyenv_candidates, _windows_candidates))


@cache
def _uv_interpreter(version: str) -> Interpreter | None:
    return _search(version, (_uv_candidate,))


def _search(version: str, sources: tuple[Callable[[str], list[str]], ...]) -> Interpreter | None:
    seen: set[str] = set()
    for source in sources:
        for candidate in source(version):
            if candidate in seen:
                continue
            seen.add(candidate)
            found = probe(candidate)
            if found is not None and found.minor == version:
                return found
    return None


def where_we_looked(version: str) -> str:
    """One phrase for messages: where find_interpreter searched, and how to add one."""
    return (f"looked for python{version} on PATH, in pyenv's versions and with "
            f"`uv python find {version}`; install one with `uv python install {version}` "
            f"or `pyenv install {version}`")


# --- Interpreters for any runtime x architecture ------------------------------------------

ENV_DIRS = "LAMBDALAYER_INTERPRETERS"  # os.pathsep-separated root filesystems or their parents


def host_machine() -> str:
    """This host's machine in Linux's spelling (x86_64, aarch64)."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def env_variable(version: str, machine: str) -> str:
    """The variable naming an explicit interpreter, e.g. LAMBDALAYER_PYTHON_3_12_ARM64."""
    arch = "ARM64" if machine == "aarch64" else "X86_64"
    return f"LAMBDALAYER_PYTHON_{version.replace('.', '_')}_{arch}"


def interpreter_dirs() -> list[Path]:
    """Where root filesystems are looked for: $LAMBDALAYER_INTERPRETERS, then the cache."""
    from lambdalayer.common.cache import INTERPRETERS_DIR, cache_root

    listed = [Path(p).expanduser() for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    return [*listed, cache_root() / INTERPRETERS_DIR]


def root_filesystems() -> list[Path]:
    """Every root filesystem (a directory with usr/bin/python3.*) in interpreter_dirs()."""
    roots: list[Path] = []
    for directory in interpreter_dirs():
        if (directory / "usr" / "bin").is_dir():
            roots.append(directory)
        elif directory.is_dir():
            roots.extend(sorted(d for d in directory.iterdir()
                                if d.is_dir() and (d / "usr" / "bin").is_dir()))
    return roots


# Debian/Ubuntu's glibc for another architecture, installed under /usr/<triplet>: the qemu
# prefix for a CPython that brings no root filesystem (python-build-standalone, from uv).
CROSS_GLIBC_PACKAGES = {"aarch64": "libc6-arm64-cross", "x86_64": "libc6-amd64-cross"}


def cross_glibc_prefix(machine: str) -> Path:
    """Where `machine`'s glibc is for qemu -L: $QEMU_LD_PREFIX (qemu's own variable), else
    /usr/<machine>-linux-gnu (CROSS_GLIBC_PACKAGES)."""
    return Path(os.environ.get("QEMU_LD_PREFIX") or f"/usr/{machine}-linux-gnu")


def _cross_glibc_missing(machine: str) -> str | None:
    """What to install when cross_glibc_prefix(machine) has no glibc, or None when it has."""
    prefix = cross_glibc_prefix(machine)
    if find_loader(prefix, machine) is not None:
        return None
    package = CROSS_GLIBC_PACKAGES.get(machine, f"{machine}'s glibc")
    return (f"needs {machine}'s glibc for qemu, and {prefix} has none: install {package} "
            f"(Debian/Ubuntu: `apt-get install {package}`) or set QEMU_LD_PREFIX to a "
            f"directory holding lib/{LOADERS.get(machine, 'ld.so')}")


def foreign_interpreter(path: Path, version: str, machine: str, root: Path | None,
             source: str) -> Interpreter | None:
    """An interpreter at `path` started through qemu or a root filesystem's loader."""
    host = host_machine()
    if machine == host:
        if root is None:
            return probe(str(path))
        loader = find_loader(root, machine)
        if loader is None:
            return None
        launch = Launch(kind="rootfs-loader", program=str(loader), root=str(root),
                        machine=machine)
    else:
        # Without a root filesystem (a uv download), the prefix holds glibc alone.
        if root is None and find_loader(cross_glibc_prefix(machine), machine) is None:
            return None  # missing_reason names the package that provides it
        prefix = str(root or cross_glibc_prefix(machine))
        qemu = find_qemu(machine)
        if qemu is not None:
            launch = Launch(kind="qemu", program=qemu, root=prefix, machine=machine)
        else:
            entry = binfmt_entry(path)
            if entry is None:
                return None
            launch = Launch(kind="binfmt", program=entry.interpreter, root=prefix,
                            machine=machine)
    return Interpreter(path=str(path), version=version, machine=machine, system="Linux",
                       libc="glibc", launch=launch, source=source)


def _rootfs_candidates(version: str, machine: str) -> list[Interpreter | None]:
    found = []
    for root in root_filesystems():
        exe = root / "usr" / "bin" / f"python{version}"
        if exe.is_file() and elf_machine(exe) == machine:
            found.append(foreign_interpreter(exe, version, machine, root, "rootfs"))
    return found


def _uv_foreign_executables(version: str, machine: str) -> list[tuple[str, Path]]:
    """uv-managed CPythons X.Y of another machine: (full version, executable), newest first.

    Read from uv's install directory (`uv python dir`), whose entries are named by uv's
    key (cpython-3.12.7-linux-aarch64-gnu): uv 0.13 leaves installs of other platforms out
    of `uv python list/find`, --all-arches too ("not supported by current platform").
    The name has the patch version: the minor-version link (cpython-3.12-linux-…) is left
    out, and so are free-threaded (+freethreaded), debug builds and prereleases, which
    Lambda does not run.
    """
    try:
        directory = _uv_python_dir()
        entries = list(directory.iterdir()) if directory and directory.is_dir() else []
    except OSError:
        return []
    name = re.compile(rf"cpython-{re.escape(version)}\.(\d+)-linux-{re.escape(machine)}-gnu")
    found = []
    for entry in entries:
        matched = name.fullmatch(entry.name)
        exe = entry / "bin" / f"python{version}"
        if matched and elf_machine(exe) == machine:
            found.append((int(matched.group(1)), exe))
    return [(f"{version}.{patch}", exe) for patch, exe in sorted(found, reverse=True)]


def _uv_python_dir() -> Path | None:
    """`uv python dir`, remembered as `uv python find` is (interpreters/memo.py)."""
    from lambdalayer.common.uvtool import run_uv, uv_binary

    def ask() -> str | None:
        try:
            result = run_uv(["python", "dir"], timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    found = memo.remembered("uv python dir", memo.uv_search_facts(uv_binary()), ask,
                            lambda text: text, lambda kept: None if kept is None else str(kept))
    return Path(found) if found else None


def _uv_foreign(version: str, machine: str) -> list[Interpreter | None]:
    """uv-managed CPythons of another architecture (`uv python install cpython-X.Y-linux-…`),
    run under qemu with the cross glibc (cross_glibc_prefix) as the library prefix."""
    return [foreign_interpreter(exe, full, machine, None, "uv")
            for full, exe in _uv_foreign_executables(version, machine)]




def explicit_choice(version: str, machine: str,
                    configured: ConfiguredInterpreters = NOTHING_CONFIGURED
                    ) -> tuple[Path, str, str] | None:
    """The interpreter named for X.Y on `machine`: (path, where named, source) or None."""
    variable = env_variable(version, machine)
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser(), f"${variable}", "env"
    named = configured.get(version, machine)
    if named is not None:
        path, origin = named
        return path, origin, "config"
    return None


def _explicit_problem(path: Path, version: str, machine: str) -> str | None:
    """Why a named interpreter cannot stand for X.Y on `machine`, before running it."""
    if not path.is_file():
        return "does not exist"
    exe_machine = elf_machine(path.resolve())
    if exe_machine is not None and exe_machine != machine:
        return f"is an {exe_machine} executable, not {machine}"
    return None


def _explicit_interpreter(path: Path, version: str, machine: str,
                          source: str) -> Interpreter | None:
    if _explicit_problem(path, version, machine):
        return None
    # A Debian-style root filesystem's usr/bin/pythonX.Y: run with that root's libraries.
    root = path.parent.parent.parent if path.parent.parent.name == "usr" else None
    if machine == host_machine() and root is None:
        found = probe(str(path))
        if found is None or found.minor != version:
            return None
        return replace(found, source=source, path=str(path))  # the path the user named
    return foreign_interpreter(path, version, machine, root, source)


@cache
def find_for(version: str, machine: str,
             configured: ConfiguredInterpreters = NOTHING_CONFIGURED) -> Interpreter | None:
    """A CPython X.Y that runs code built for `machine`, native first, then emulated.

    Order: an explicit path ($LAMBDALAYER_PYTHON_X_Y_ARCH, then the config's
    [interpreters] table; nothing else is tried when one is named), a native
    CPython (find_interpreter) when `machine` is the host's, root filesystems
    (interpreter_dirs()), then uv-managed CPythons of other architectures.
    """
    chosen = explicit_choice(version, machine, configured)
    if chosen is not None:
        return _explicit_interpreter(chosen[0], version, machine, chosen[2])
    host = machine == host_machine()

    def native(found: Interpreter | None) -> Interpreter | None:
        return found if found is not None and found.machine in (machine, "arm64") else None

    # Cheapest first: PATH and pyenv, then root filesystems, then asking uv (slow).
    found = native(_local_interpreter(version)) if host else None
    for candidate in (found, *_rootfs_candidates(version, machine)):
        if candidate is not None:
            return candidate
    if host:
        return native(_uv_interpreter(version))
    return next((f for f in _uv_foreign(version, machine) if f is not None), None)


def missing_reason(version: str, machine: str,
                   configured: ConfiguredInterpreters = NOTHING_CONFIGURED) -> str:
    """One line on why find_for found nothing, and what would help."""
    host = host_machine()
    chosen = explicit_choice(version, machine, configured)
    if chosen is not None:
        path, origin, _ = chosen
        problem = _explicit_problem(path, version, machine)
        if problem is None and machine != host and not can_emulate(machine):
            problem = f"needs qemu-user: {qemu_hint(machine, host)}"
        if problem is None and machine != host and path.parent.parent.name != "usr":
            problem = _cross_glibc_missing(machine)  # not in a root filesystem
        return (f"{origin} names {path}, which {problem or f'does not run as CPython {version}'}"
                f"; fix or remove it to let lambdalayer look for one")
    if machine != host and not can_emulate(machine):
        return qemu_hint(machine, host)
    if machine != host:
        installed = _uv_foreign_executables(version, machine)
        missing = _cross_glibc_missing(machine) if installed else None
        if missing:
            full, exe = installed[0]
            return f"uv's CPython {full} for {machine} ({exe}) {missing}"
        return (f"no {machine} CPython {version} on this host: provision one with "
                f"`lambdalayer interpreters add --runtime python{version} --arch "
                f"{'arm64' if machine == 'aarch64' else 'x86_64'}`")
    return f"no CPython {version} on this host ({where_we_looked(version)})"
