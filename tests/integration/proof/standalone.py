"""A python-build-standalone-shaped CPython for another architecture, made from a Debian
root filesystem, and a uv downloads list naming it.

uv cannot download CPython here (no GitHub), so the tests make the `install_only`
archive uv would fetch: `python/bin/python3.X`, `python/lib/python3.X/…` and every
shared library the interpreter and its extension modules need except glibc's, found
through the executable's RPATH `$ORIGIN/../lib` (set with patchelf). Only glibc then
comes from the qemu prefix (Debian's libc6-arm64-cross), as with a real uv download.
`uv python install --python-downloads-json-url LIST` installs it for real.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

_TRIPLET = {"aarch64": "aarch64-linux-gnu", "x86_64": "x86_64-linux-gnu"}
# glibc's own libraries: the qemu prefix (/usr/<triplet>) provides them, as it does for
# python-build-standalone's builds, which link nothing else dynamically.
_GLIBC = re.compile(r"(ld-linux.*|lib(c|m|dl|pthread|rt|util|resolv|anl|nsl|BrokenLocale)"
                    r"\.so\.\d+)")


@dataclass(frozen=True)
class Standalone:
    """An install_only archive and the downloads list (uv's JSON) that names it."""

    archive: Path
    downloads_json: Path
    key: str  # cpython-3.11.2-linux-aarch64-gnu
    version: str  # 3.11.2


def _needed(path: Path) -> list[str]:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        return [tag.needed for section in elf.iter_sections()
                if isinstance(section, DynamicSection)
                for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def _library_dirs(root: Path, machine: str) -> list[Path]:
    triplet = _TRIPLET[machine]
    return [root / "usr" / "lib" / triplet, root / "lib" / triplet, root / "usr" / "lib",
            root / "lib"]


def _copy_libraries(objects: list[Path], root: Path, machine: str, dest: Path) -> None:
    """Copy every non-glibc library `objects` need (transitively) from `root` into `dest`."""
    pending = list(objects)
    done: set[str] = set()
    while pending:
        for name in _needed(pending.pop()):
            if name in done or _GLIBC.fullmatch(name):
                continue
            done.add(name)
            found = next((d / name for d in _library_dirs(root, machine)
                          if (d / name).exists()), None)
            if found is None:
                raise FileNotFoundError(f"{name} is not in {root}")
            shutil.copyfile(found, dest / name)  # follows the soname link
            pending.append(dest / name)


def _full_version(exe: Path, minor: str) -> str:
    found = re.search(rb"\x00(" + re.escape(minor.encode()) + rb"\.\d+)\x00", exe.read_bytes())
    if found is None:
        raise ValueError(f"no CPython {minor}.N version string in {exe}")
    return found.group(1).decode()


def _outside_links(tree: Path) -> list[Path]:
    return [p for p in tree.rglob("*") if p.is_symlink() and Path(p.readlink()).is_absolute()]


def build(root: Path, minor: str, machine: str, out: Path) -> Standalone:
    """The install_only archive of `root`'s CPython `minor` and its downloads list, in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    source = root / "usr" / "bin" / f"python{minor}"
    version = _full_version(source, minor)
    tree = out / "tree" / "python"
    (tree / "bin").mkdir(parents=True)
    exe = tree / "bin" / f"python{minor}"
    shutil.copy2(source, exe)
    for link in ("python3", "python"):
        (tree / "bin" / link).symlink_to(exe.name)
    stdlib = tree / "lib" / f"python{minor}"
    shutil.copytree(root / "usr" / "lib" / f"python{minor}", stdlib, symlinks=True,
                    ignore=shutil.ignore_patterns("test", "idlelib", "tkinter", "ensurepip",
                                                  "sitecustomize.py"))
    # Debian's sitecustomize.py links to /etc; uv (rightly) refuses absolute links.
    assert not _outside_links(tree), _outside_links(tree)
    dynload = sorted((stdlib / "lib-dynload").glob("*.so"))
    _copy_libraries([exe, *dynload], root, machine, tree / "lib")
    # DT_RPATH (not RUNPATH) on the executable also serves the extension modules it loads.
    subprocess.run(["patchelf", "--force-rpath", "--set-rpath", "$ORIGIN/../lib", str(exe)],
                   check=True, capture_output=True)
    key = f"cpython-{version}-linux-{machine}-gnu"
    archive = out / f"cpython-{version}-{machine}-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(tree, arcname="python")
    shutil.rmtree(out / "tree")
    major, minor_number, patch = (int(p) for p in version.split("."))
    listing = {key: {
        "name": "cpython", "arch": {"family": machine, "variant": None}, "os": "linux",
        "libc": "gnu", "major": major, "minor": minor_number, "patch": patch,
        "prerelease": "", "url": archive.as_uri(),
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(), "variant": None}}
    downloads_json = out / "downloads.json"
    downloads_json.write_text(json.dumps(listing, indent=1))
    return Standalone(archive=archive, downloads_json=downloads_json, key=key, version=version)
