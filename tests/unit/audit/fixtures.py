"""Helpers that make real native files and layer trees for the audit's tests."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.conftest import require

EM_AARCH64 = 183
EM_X86_64 = 62

# memfd_create is versioned GLIBC_2.27: above Amazon Linux 2 (2.26), below AL2023 (2.34).
NEEDS_GLIBC_2_27 = """
#define _GNU_SOURCE
#include <sys/mman.h>
int make(void) { return memfd_create("x", 0); }
"""
# pidfd_open is GLIBC_2.36: above both Lambda OSes.
NEEDS_GLIBC_2_36 = """
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
extern int pidfd_open(int pid, unsigned int flags);
int make(void) { return pidfd_open(1, 0); }
"""
# A libstdc++ symbol versioned GLIBCXX_3.4.30 (GCC 12), above AL2 (3.4.24) and AL2023 (3.4.29).
NEEDS_GLIBCXX_3_4_30 = """
extern void lambdalayer_cxx_sym(void);
__asm__(".symver lambdalayer_cxx_sym, _ZNKSt11__timepunctIcE15_M_am_pm_formatEPPKc@GLIBCXX_3.4.30");
void *make(void) { return (void *)&lambdalayer_cxx_sym; }
"""
PLAIN = "int answer(void) { return 42; }\n"


def require_cc() -> str:
    compiler = shutil.which("cc")
    require(compiler is not None, "no C compiler (cc) on this machine")
    assert compiler is not None
    return compiler


def compile_so(workdir: Path, name: str, source: str = PLAIN, *, args: tuple[str, ...] = (),
               soname: str | None = None) -> Path:
    """Compile `source` into the shared object `workdir/name` with the system compiler."""
    compiler = require_cc()
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"{name}.c"
    src.write_text(source)
    out = workdir / name
    command = [compiler, "-shared", "-fPIC", "-o", str(out), str(src)]
    if soname:
        command.append(f"-Wl,-soname,{soname}")
    command += ["-Wl,--no-as-needed", *args]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out


def stub_library(workdir: Path, soname: str) -> Path:
    """A library whose soname is `soname`, to make another object NEED it."""
    return compile_so(workdir / "stubs", soname, PLAIN, soname=soname)


def set_machine(path: Path, machine: int) -> None:
    """Patch e_machine (offset 18, little-endian) as if built for another CPU."""
    data = bytearray(path.read_bytes())
    data[18:20] = machine.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def place(layer: Path, rel: str, source: Path | bytes | str) -> Path:
    """Put a file at `layer/rel` (copying a path, or writing bytes/text)."""
    target = layer / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copyfile(source, target)
    elif isinstance(source, bytes):
        target.write_bytes(source)
    else:
        target.write_text(source)
    return target


def add_dist_info(site: Path, name: str, version: str, files: list[str],
                  tag: str = "py3-none-any") -> None:
    """A minimal *.dist-info with METADATA, WHEEL and RECORD owning `files`."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    (dist / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    record = [f"{f},," for f in files] + [f"{dist.name}/{n},," for n in
                                           ("METADATA", "WHEEL", "RECORD")]
    (dist / "RECORD").write_text("\n".join(record) + "\n")


def install_wheel(wheel: Path, python_dir: Path, *, skip_prefix: str | None = None) -> None:
    """Unpack a wheel into a layer's python/ directory, as an installer would
    (`skip_prefix` leaves out entries starting with it, e.g. a bundled .libs dir)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if skip_prefix and info.filename.startswith(skip_prefix):
                continue
            if info.is_dir():
                continue
            target = python_dir / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))


def zip_dir(tree: Path, archive: Path) -> Path:
    """Zip a directory the way a user would (relative names, Unix modes kept)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
    return archive
