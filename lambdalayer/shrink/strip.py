"""`--strip`: remove symbol tables and debug sections from the ELF files in a tree.

The tool must understand the *target's* ELF: the host's GNU `strip` on x86_64
refuses aarch64 files ("Unable to recognise the format"), while `llvm-strip`
handles every machine. So for each ELF machine in the tree we try, in order,
`<machine>-linux-gnu-strip`, `llvm-strip`, `strip` on one real file and keep
the first that succeeds; with none, those files are left alone and a warning
says so. `--strip-unneeded` keeps the dynamic symbols a loader needs.

Each file is stripped to a new file that is renamed over the old one: uv
hard-links files from its cache, and writing in place would change the cache.
The same input and tool give the same bytes, so the zip stays deterministic.
"""

from __future__ import annotations

import errno
import functools
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

_ELF_MAGIC = b"\x7fELF"
_ET_EXEC, _ET_DYN = 2, 3
# e_machine -> the name GNU cross binutils use in their prefix.
MACHINE_NAMES = {3: "i686", 62: "x86_64", 40: "arm", 183: "aarch64"}
# Sections `strip --strip-unneeded` drops from a shared object: the static
# symbol table, its strings and debug information (the dynamic table stays).
_STRIPPED_SECTIONS = (".symtab", ".strtab")
_STRIPPED_PREFIXES = (".debug", ".zdebug")


@dataclass(frozen=True, kw_only=True)
class ElfFile:
    path: Path
    machine: int  # e_machine
    size: int


@dataclass(frozen=True, kw_only=True)
class StripResult:
    """What `strip_tree` did: files rewritten, bytes saved, tools used, what it could not do."""

    stripped: int
    saved: int
    tools: tuple[str, ...]
    warnings: tuple[str, ...]


def _elf_header(path: Path) -> tuple[int, int] | None:
    """(e_type, e_machine) for an ELF file, else None. Both fields sit at the same offsets
    in 32- and 64-bit ELF; EI_DATA (byte 5) says their byte order."""
    try:
        with path.open("rb") as handle:
            head = handle.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != _ELF_MAGIC:
        return None
    if head[5] == 1:
        return int.from_bytes(head[16:18], "little"), int.from_bytes(head[18:20], "little")
    return int.from_bytes(head[16:18], "big"), int.from_bytes(head[18:20], "big")


def elf_files(root: Path) -> Iterator[ElfFile]:
    """Every shared object and executable below `root` (regular files, no symlinks), sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_symlink():
                continue
            header = _elf_header(path)
            if header is not None and header[0] in (_ET_EXEC, _ET_DYN):
                yield ElfFile(path=path, machine=header[1], size=path.stat().st_size)


def strippable_bytes(path: Path) -> int:
    """Bytes `--strip-unneeded` would remove from one ELF file, from its section table.

    An estimate without any strip tool (for the size report); within a fraction of a
    percent of GNU strip on numpy/pandas/pyarrow. 0 for anything unreadable.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            return sum(
                int(section["sh_size"]) for section in elf.iter_sections()
                if section.name in _STRIPPED_SECTIONS or section.name.startswith(_STRIPPED_PREFIXES)
                if section["sh_type"] != "SHT_NOBITS"
            )
    except (ELFError, OSError, ValueError):
        return 0


# Homebrew's llvm is keg-only (not on PATH): look in its keg on Apple silicon and Intel.
HOMEBREW_LLVM = ("/opt/homebrew/opt/llvm/bin", "/usr/local/opt/llvm/bin")
# Lambda's architecture names -> e_machine.
ARCH_MACHINES = {"x86_64": 62, "arm64": 183}


def candidate_tools(machine: int) -> list[str]:
    """Strip tools worth trying for `machine`, most specific first: `$LAMBDALAYER_STRIP`
    alone when set, else the GNU cross strip, llvm-strip (PATH, then Homebrew's keg), strip."""
    override = os.environ.get("LAMBDALAYER_STRIP", "").strip()
    if override:
        return [shutil.which(override) or override]
    names = []
    if machine in MACHINE_NAMES:
        names.append(f"{MACHINE_NAMES[machine]}-linux-gnu-strip")
    found = [shutil.which(name) for name in names]
    found.append(shutil.which("llvm-strip"))
    found += [shutil.which("llvm-strip", path=keg) for keg in HOMEBREW_LLVM]
    found.append(shutil.which("strip"))
    return list(dict.fromkeys(path for path in found if path))


@functools.cache
def _tool_version(tool: str) -> str:
    try:
        completed = subprocess.run([tool, "--version"], capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unusable"
    lines = completed.stdout.strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def tool_versions(archs: list[str]) -> dict[str, list[str]]:
    """Per architecture, "name: version" of each tool `--strip` may use for it: they are
    build inputs, since another strip (or version) writes other bytes."""
    return {arch: [f"{Path(t).name}: {_tool_version(t)}"
                   for t in candidate_tools(ARCH_MACHINES.get(arch, 0))] for arch in archs}


def install_hint(label: str, system: str | None = None) -> str:
    """How to get a strip tool that reads `label` ELF files on this kind of host."""
    system = system or platform.system()
    if system == "Darwin":
        return ("Install llvm with Homebrew (`brew install llvm`; its llvm-strip is found in "
                "the keg) or set LAMBDALAYER_STRIP to an llvm-strip.")
    if system == "Windows":
        return ("Install LLVM (`winget install LLVM.LLVM`) and put llvm-strip on PATH, or set "
                "LAMBDALAYER_STRIP to llvm-strip.exe.")
    return f"Install llvm (llvm-strip) or binutils-{label}-linux-gnu."


def _strip_one(tool: str, elf: ElfFile) -> int:
    """Strip `elf` with `tool` via a new file renamed over it; bytes saved, -1 on failure.

    A result that is not an ELF file for the same machine, or is larger, is discarded.
    """
    temporary = elf.path.with_name(f".{elf.path.name}.strip-tmp")
    try:
        completed = _run_tool([tool, "--strip-unneeded", "-o", str(temporary), str(elf.path)])
        header = _elf_header(temporary) if completed.returncode == 0 else None
        new_size = temporary.stat().st_size if header else 0
        if header is None or header[1] != elf.machine or new_size > elf.size:
            temporary.unlink(missing_ok=True)
            return -1
        # Keep the original's mode (the zip's 0755/0644 comes from it).
        os.chmod(temporary, elf.path.stat().st_mode & 0o7777)
        os.replace(temporary, elf.path)
        return elf.size - new_size
    except OSError:
        temporary.unlink(missing_ok=True)
        return -1


# A launch the machine refused for the moment (no process or memory to spare, as on a
# loaded CI runner) is tried again: taken as "this tool cannot strip it", it would leave
# the file as it was or pick the next tool, and change the zip's bytes.
_TRANSIENT = (errno.EAGAIN, errno.ENOMEM)
_LAUNCHES = 4


def _run_tool(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    for attempt in range(_LAUNCHES):
        try:
            return subprocess.run(argv, capture_output=True, check=False)
        except OSError as exc:
            if exc.errno not in _TRANSIENT or attempt == _LAUNCHES - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def strip_tree(root: Path, *, workers: int | None = None) -> StripResult:
    """Strip every ELF shared object and executable below `root` with a tool that handles it.

    Never raises for a missing or unsuitable tool: those files stay as they were
    and `warnings` says which and what to install.
    """
    by_machine: dict[int, list[ElfFile]] = {}
    for elf in elf_files(root):
        by_machine.setdefault(elf.machine, []).append(elf)
    warnings: list[str] = []
    tools: list[str] = []
    stripped = saved = 0
    for machine, files in sorted(by_machine.items()):
        label = MACHINE_NAMES.get(machine, f"e_machine {machine}")
        tool = None
        tried = candidate_tools(machine)
        for candidate in tried:
            # The first file decides whether this tool understands the machine.
            result = _strip_one(candidate, files[0])
            if result >= 0:
                tool, saved, stripped = candidate, saved + result, stripped + 1
                break
        if tool is None:
            warnings.append(
                f"--strip skipped {len(files)} {label} ELF file(s): no strip tool here "
                f"understands them (tried: {', '.join(Path(t).name for t in tried) or 'none'}). "
                f"{install_hint(label)}"
            )
            continue
        tools.append(Path(tool).name)
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            results = list(pool.map(functools.partial(_strip_one, tool), files[1:]))
        failed = [elf for elf, result in zip(files[1:], results, strict=True) if result < 0]
        stripped += len(results) - len(failed)
        saved += sum(r for r in results if r > 0)
        if failed:
            warnings.append(
                f"--strip left {len(failed)} {label} file(s) as they were ({Path(tool).name} "
                f"failed on them), e.g. {failed[0].path.name}."
            )
    return StripResult(stripped=stripped, saved=saved, tools=tuple(tools),
                       warnings=tuple(warnings))
