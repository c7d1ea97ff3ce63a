"""Where output may go: never over something lambdalayer did not write (docs/safety.md).

`--out`, `--unpacked`, `--report`/`report -o` and the cache name places on the user's
disk. `--unpacked DIR` replaces DIR's contents, so a careless `--unpacked .` would
empty a checkout; `--out .` would put NAME.json over a project's own file. The checks
here run before anything is written: a target that is (or contains) the working
directory, a project root, an output directory or the cache is refused, and so is a
path that runs through a file, or a file or device where a folder is expected.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lambdalayer.common.errors import UsageError

# A directory holding one of these is someone's project, never ours to fill or empty.
PROJECT_MARKERS = ("pyproject.toml", "lambdalayer.toml", "setup.py", "setup.cfg", ".git",
                   ".hg", "package.json")
# Beside an `--unpacked` directory (not inside: everything inside ships in the layer):
# the entries lambdalayer put there, the only ones a later build may remove.
UNPACKED_RECORD = ".lambdalayer-unpacked"
_REPORT_SIGNATURE = b"lambdalayer report</title>"


@dataclass(frozen=True, kw_only=True)
class Protected:
    """Places no output may be, or contain (resolved paths)."""

    cwd: Path = field(default_factory=lambda: Path.cwd().resolve())
    roots: tuple[Path, ...] = ()  # project roots (the config file's folder)
    outputs: tuple[Path, ...] = ()  # where zips and manifests go
    cache: Path | None = None

    @classmethod
    def make(cls, *, roots: Iterable[Path] = (), outputs: Iterable[Path] = (),
             cache: Path | None = None) -> Protected:
        return cls(roots=tuple(resolved(r) for r in roots),
                   outputs=tuple(resolved(o) for o in outputs),
                   cache=resolved(cache) if cache is not None else None)


def resolved(path: Path) -> Path:
    """The absolute path with links followed as far as they exist (`.` and `..` gone)."""
    try:
        return Path(os.path.realpath(os.path.abspath(path)))
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _shown(option: str, path: Path) -> str:
    return f"{option} {path}"


def check_path_shape(path: Path, *, option: str, want_dir: bool) -> None:
    """UsageError when `path` cannot be the folder (or file) it should be: it exists as the
    other kind or as a device, or one of its parents is a file."""
    if "\x00" in str(path):
        raise UsageError(f"{option}: the path contains a NUL character.")
    absolute = Path(os.path.abspath(path))
    if any(len(os.fsencode(part)) > 255 for part in absolute.parts):
        raise UsageError(f"{option}: a name in {str(path)[:60]}... is longer than the "
                         "255 bytes a filesystem takes.")
    for ancestor in absolute.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UsageError(f"{_shown(option, path)}: {ancestor} is a file, not a folder.")
            break
    if not absolute.exists():
        if absolute.is_symlink():
            raise UsageError(f"{_shown(option, path)} is a link to nothing "
                             f"({os.readlink(absolute)}).")
        return
    if want_dir and not absolute.is_dir():
        raise UsageError(f"{_shown(option, path)} exists and is not a folder.")
    if not want_dir and not absolute.is_file():
        kind = "a folder" if absolute.is_dir() else "not a regular file"
        raise UsageError(f"{_shown(option, path)} is {kind}; name a file to write.")


# Kernel file systems: nothing written there is a file on a disk (/proc refuses new
# names, /dev holds devices, /sys is the kernel's), so no output may go there; /dev/shm
# is an ordinary (memory) file system.
_PSEUDO_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
_SHARED_MEMORY = Path("/dev/shm")


def check_writable(path: Path, *, option: str, want_dir: bool) -> None:
    """UsageError unless `path` (a folder, or with want_dir False a file) can be created and
    written: not on /proc, /sys or /dev, and the folder it goes in (or the nearest one
    of its parents that exists) accepts a new entry. Probed by making and removing an
    empty folder, the one way that also sees read-only mounts and full disks as root."""
    target = resolved(path)
    for pseudo in _PSEUDO_ROOTS:
        if _inside(target, pseudo) and not _inside(target, _SHARED_MEMORY):
            raise UsageError(f"{_shown(option, path)} is on the kernel's {pseudo} file "
                             "system, where no file can be written.",
                             hint="Name a folder on a disk.")
    where = target if want_dir and target.is_dir() else target.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        # A random name, as tempfile.mkdtemp makes, without importing tempfile (and
        # shutil, random): every build, an up-to-date one too, comes through here.
        probe = where / f".lambdalayer-probe-{os.getpid()}-{os.urandom(8).hex()}"
        os.mkdir(probe, 0o700)
        os.rmdir(probe)
    except OSError as exc:
        reason = {errno.EROFS: "it is on a read-only file system",
                  errno.ENOSPC: "its disk is full",
                  errno.EACCES: "you may not write there",
                  errno.EPERM: "you may not write there"}.get(exc.errno or 0,
                                                              exc.strerror or str(exc))
        raise UsageError(f"{_shown(option, path)}: lambdalayer cannot create anything in "
                         f"{where}: {reason}.",
                         hint="Name a folder you can write to.") from None


def _clash(target: Path, protected: Protected, *, outputs: bool) -> str | None:
    """Why `target` (resolved) may not be written or emptied, or None."""
    if _inside(protected.cwd, target):
        return ("is the working directory" if target == protected.cwd
                else f"contains the working directory {protected.cwd}")
    for root in protected.roots:
        if _inside(root, target):
            return f"is or contains the project root {root}"
    if target.is_dir():
        found = [m for m in PROJECT_MARKERS if os.path.lexists(target / m)]
        if found:
            return f"is a project root (it holds {found[0]})"
    if protected.cache is not None and (_inside(target, protected.cache)
                                        or _inside(protected.cache, target)):
        return f"is, contains or is inside lambdalayer's cache {protected.cache}"
    if outputs:
        for out in protected.outputs:
            if _inside(out, target):
                return f"is or contains the output directory {out} (zips and manifests)"
    return None


def check_out_dir(path: Path, protected: Protected, *, option: str = "--out") -> None:
    """`--out`: a folder for NAME.zip and NAME.json, away from the project and the cache."""
    check_path_shape(path, option=option, want_dir=True)
    reason = _clash(resolved(path), protected, outputs=False)
    if reason:
        raise UsageError(f"{_shown(option, path)} {reason}; lambdalayer writes its zips and "
                         "manifests only into a folder of their own.",
                         hint="Use the default dist/ or another empty folder "
                              "(docs/safety.md).")
    check_writable(path, option=option, want_dir=True)


def check_unpacked_dir(path: Path, protected: Protected, *,
                       option: str = "--unpacked") -> None:
    """`--unpacked`: a folder whose contents lambdalayer replaces; never the project's."""
    check_path_shape(path, option=option, want_dir=True)
    reason = _clash(resolved(path), protected, outputs=True)
    if reason:
        raise UsageError(f"{_shown(option, path)} {reason}; its contents would be replaced "
                         "by the layer's tree, so lambdalayer refuses.",
                         hint="Name an empty folder, or one an earlier --unpacked wrote "
                              "(docs/safety.md).")
    check_writable(path, option=option, want_dir=True)


def check_report_file(path: Path, protected: Protected, *, option: str = "--report") -> None:
    """`--report`/`-o`: a new file, or a report lambdalayer wrote before."""
    check_path_shape(path, option=option, want_dir=False)
    target = resolved(path)
    if protected.cache is not None and _inside(target, protected.cache):
        raise UsageError(f"{_shown(option, path)} is inside lambdalayer's cache "
                         f"{protected.cache}; write the report elsewhere.")
    if target.is_file() and not _is_our_report(target):
        raise UsageError(f"{_shown(option, path)} exists and is not a lambdalayer report; "
                         "lambdalayer does not overwrite it.",
                         hint="Name a new file, or delete that one yourself (docs/safety.md).")
    check_writable(path, option=option, want_dir=False)


def _is_our_report(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return _REPORT_SIGNATURE in handle.read(4096)
    except OSError:
        return False


# --- the record of what `--unpacked` wrote --------------------------------------------

def record_path(target: Path) -> Path:
    """`<parent>/.<name>.lambdalayer-unpacked`: beside the tree, so it never ships in it."""
    return target.parent / f".{target.name}{UNPACKED_RECORD}"


def recorded_entries(target: Path) -> set[str]:
    """The top-level names an earlier `--unpacked` recorded writing into `target`."""
    try:
        data = json.loads(record_path(target).read_text("utf-8"))
    except (OSError, ValueError):
        return set()
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return set()
    return {e for e in entries if isinstance(e, str) and e and "/" not in e and e not in
            (".", "..")}


def check_replaceable(target: Path, *, option: str = "--unpacked") -> set[str]:
    """The entries of `target` lambdalayer may remove; UsageError when it holds others."""
    if not target.is_dir():
        return set()
    ours = recorded_entries(target)
    present = {entry.name for entry in os.scandir(target)}
    foreign = sorted(present - ours)
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                          if len(foreign) > 5 else "")
        raise UsageError(f"{option} {target} holds files lambdalayer did not write ({listed}); "
                         "it replaces only a folder that is empty or that it filled before.",
                         hint="Empty the folder yourself or name another one "
                              "(docs/safety.md).")
    return present


def write_record(target: Path, entries: Iterable[str]) -> None:
    from lambdalayer.common.fileio import write_atomic

    document = {"written_by": "lambdalayer build --unpacked", "entries": sorted(entries)}
    write_atomic(record_path(target), json.dumps(document, indent=1).encode("utf-8"))
