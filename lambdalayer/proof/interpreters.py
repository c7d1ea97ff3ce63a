"""Find a local CPython X.Y to stand in for a Lambda runtime's interpreter.

Looked for, in order: `pythonX.Y` on PATH, pyenv's versions directory, then
`uv python find X.Y`. Every candidate is run once to confirm what it is (a
pyenv shim on PATH may name a version that is not selected, and then fails),
and the path reported is the interpreter's own `sys.executable`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def _path_candidate(version: str) -> list[str]:
    found = shutil.which(f"python{version}")
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
    from lambdalayer.build.uvtool import run_uv

    try:
        result = run_uv(["python", "find", "--no-project", version], timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    path = result.stdout.strip()
    return [path] if result.returncode == 0 and path else []


def probe(path: str) -> Interpreter | None:
    """What `path` is, by running it; None when it does not run or is not CPython."""
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
    seen: set[str] = set()
    sources: tuple[Callable[[str], list[str]], ...] = (_path_candidate, _pyenv_candidates,
                                                       _windows_candidates, _uv_candidate)
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
