"""Safe zip reading: extract a layer zip someone else made into a temporary directory.

Nothing is written outside `destination`. Hostile or broken entries are not
extracted; each becomes a `ZipProblem` (the audit turns them into findings):
`..` or absolute names, links leaving the tree, duplicates, corrupt or encrypted
data. What cannot be audited at all (not a zip, truncated directory, a zip bomb
past the caps) is a UsageError. The writer is `archive/zipwriter.py`.

Here, below every stage, because the audit, the proof, the archive (`--unpacked`),
the supply checks and the reports all open zips someone else made. `link_target` is
the one rule for where a layer's symlink points; audit/tree.py uses it too.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lambdalayer.common.errors import UsageError
from lambdalayer.common.workdirs import disk_full_error, is_disk_full

# Lambda unzips at most 250 MB per function; 4x that is far past anything real.
MAX_TOTAL = 1 << 30
# Overall expansion ratio that marks a bomb once the output is big enough to
# matter; real layers deflate 2-5x, zeros at most ~1030x per deflate stream.
MAX_RATIO = 200
RATIO_FLOOR = 64 << 20
MAX_ENTRIES = 100_000
MAX_LINK_TARGET = 4096
# Wall-clock total for one extraction: 1 GiB inflates in seconds, so this is only
# reached by something pathological (docs/sandbox-and-limits.md).
MAX_SECONDS = 300.0
_CHUNK = 1 << 20
_UNIX = 3  # ZipInfo.create_system for zips made on Unix: external_attr holds st_mode
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True, kw_only=True)
class ZipProblem:
    """One entry that was not extracted as-is, or that Lambda would mishandle."""

    code: str
    name: str
    message: str
    severity: str = "error"


@dataclass(frozen=True, kw_only=True)
class ExtractedZip:
    """What `safe_extract` did. `unzipped_size` is the declared size of all files
    (what Lambda counts against 250 MB); `zipped_size` is the archive's size."""

    root: Path
    zipped_size: int
    unzipped_size: int
    entries: int
    problems: tuple[ZipProblem, ...] = field(default=())


class _Budget:
    """Bytes written so far, against the total and ratio caps."""

    def __init__(self, archive: Path, zipped_size: int, max_total: int, max_ratio: int,
                 ratio_floor: int) -> None:
        self.archive = archive
        self.ratio_floor = ratio_floor
        self.zipped_size = max(zipped_size, 1)
        self.max_total = max_total
        self.max_ratio = max_ratio
        self.written = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def spend(self, count: int) -> None:
        self.written += count
        if time.monotonic() > self.deadline:
            raise UsageError(
                f"Extracting {self.archive} took more than {MAX_SECONDS:g} s; refusing to "
                "go on (far past anything a Lambda layer needs).")
        if self.written > self.max_total or (
            self.written > self.ratio_floor and self.written > self.max_ratio * self.zipped_size
        ):
            raise UsageError(
                f"{self.archive} expands to more than {self.written:,} bytes from "
                f"{self.zipped_size:,}: refusing to extract it (a zip bomb, or far past "
                "Lambda's 262,144,000-byte unzipped limit)."
            )


def safe_extract(
    archive: Path,
    destination: Path,
    *,
    max_total: int = MAX_TOTAL,
    max_ratio: int = MAX_RATIO,
    max_entries: int = MAX_ENTRIES,
    ratio_floor: int = RATIO_FLOOR,
) -> ExtractedZip:
    """Extract `archive` into the existing, empty directory `destination`.

    Returns what was extracted and the problems found; raises UsageError when the
    file is not a readable zip or breaks the caps. Never raises anything else for
    bad input.
    """
    try:
        zipped_size = archive.stat().st_size
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                raise UsageError(f"{archive} has {len(infos):,} entries; refusing more than "
                                 f"{max_entries:,}.")
            declared = sum(i.file_size for i in infos if not i.is_dir())
            if declared > max_total or (declared > ratio_floor
                                        and declared > max_ratio * max(zipped_size, 1)):
                raise UsageError(
                    f"{archive} declares {declared:,} bytes unzipped from {zipped_size:,}: "
                    "refusing to extract it (a zip bomb, or far past Lambda's "
                    "262,144,000-byte unzipped limit).")
            budget = _Budget(archive, zipped_size, max_total, max_ratio, ratio_floor)
            problems = _extract_all(zf, infos, destination, budget)
    except UsageError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, OverflowError) as exc:
        raise UsageError(
            f"{archive} is not a readable zip file ({exc}).",
            hint="It may be truncated (an interrupted download?) or not a zip at all; "
                 "rebuild it with `lambdalayer build`.",
        ) from exc
    return ExtractedZip(root=destination, zipped_size=zipped_size, unzipped_size=declared,
                        entries=len(infos), problems=tuple(problems))


def _extract_all(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], destination: Path,
                 budget: _Budget) -> list[ZipProblem]:
    problems: list[ZipProblem] = []
    seen: dict[str, zipfile.ZipInfo] = {}
    links: list[tuple[str, zipfile.ZipInfo]] = []
    for info in infos:
        budget.spend(0)  # the time budget holds for many empty entries too
        name = info.filename
        normal = _check_name(name, problems)
        if normal is None:
            continue
        if normal in seen:
            problems.append(ZipProblem(
                code="duplicate-entry", name=normal,
                message=f"The zip holds {normal} more than once; which copy Lambda extracts "
                        "is undefined. Rebuild the zip from a clean tree."))
            continue
        seen[normal] = info
        mode = (info.external_attr >> 16) if info.create_system == _UNIX else 0
        _check_mode(normal, info, mode, problems)
        if stat.S_ISLNK(mode):
            links.append((normal, info))
            continue
        target = destination / normal
        try:
            if info.is_dir() or stat.S_ISDIR(mode):
                target.mkdir(parents=True, exist_ok=True)
                continue
            if info.flag_bits & 0x1:
                problems.append(ZipProblem(
                    code="corrupt-zip-entry", name=normal,
                    message="This entry is encrypted; Lambda cannot extract it. Rebuild the "
                            "zip without a password."))
                continue
            _write_entry(zf, info, target, budget)
        except UsageError:
            raise
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            problems.append(ZipProblem(
                code="duplicate-entry", name=normal,
                message=f"{normal} is both a file and a directory in the zip ({exc.strerror}); "
                        "Lambda's extraction of it is undefined. Rebuild the zip."))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError, OverflowError) as exc:
            # zlib.error is an Exception subclass raised by zipfile on bad deflate data;
            # LZMAError and bz2's OSError likewise: all mean "this entry's bytes are bad".
            target.unlink(missing_ok=True)
            problems.append(_corrupt(normal, exc))
        except Exception as exc:  # zlib.error / lzma.LZMAError have no common base
            target.unlink(missing_ok=True)
            problems.append(_corrupt(normal, exc))
    for normal, info in links:
        _make_link(zf, info, normal, destination, problems)
    return problems


def _write_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                 budget: _Budget) -> None:
    """Extract one entry; a full disk is this host's problem, never the entry's: a
    UsageError naming the disk (not a corrupt-zip-entry finding)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_entry(zf, info, target, budget)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        target.unlink(missing_ok=True)
        raise disk_full_error(str(target)) from exc


def _corrupt(name: str, exc: BaseException) -> ZipProblem:
    return ZipProblem(
        code="corrupt-zip-entry", name=name,
        message=f"This entry cannot be extracted ({type(exc).__name__}: {exc}); Lambda will "
                "fail to extract it too. Rebuild the zip.")


def _check_name(name: str, problems: list[ZipProblem]) -> str | None:
    """The normalised relative name, or None (with a problem) when it must not be extracted."""
    shown = name.replace("\0", "\\0")
    if "\0" in name:
        problems.append(ZipProblem(code="unsafe-path", name=shown,
                                   message="The entry name contains a NUL byte; not extracted."))
        return None
    if "\\" in name:
        problems.append(ZipProblem(
            code="backslash-path", name=name,
            message="The name uses '\\' as a separator (a zip made by some Windows tools): "
                    "Lambda extracts it as one odd file name in /opt, so nothing below it "
                    "imports. Zip with a tool that writes '/' (lambdalayer build does)."))
        return None
    if name.startswith("/") or _DRIVE.match(name):
        problems.append(ZipProblem(
            code="unsafe-path", name=name,
            message="Absolute path in the zip: not extracted. A layer's files must be "
                    "relative (python/...)."))
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        problems.append(ZipProblem(
            code="unsafe-path", name=name,
            message="The path climbs out of the layer with '..': not extracted. Rebuild "
                    "the zip from the layer directory."))
        return None
    if not parts:
        return None
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in parts):
        problems.append(ZipProblem(code="unsafe-path", name=name,
                                   message="A path component is longer than 255 bytes; "
                                           "not extracted."))
        return None
    return "/".join(parts)


def _check_mode(name: str, info: zipfile.ZipInfo, mode: int, problems: list[ZipProblem]) -> None:
    permissions = stat.S_IMODE(mode)
    if not permissions or stat.S_ISLNK(mode):
        return  # no Unix mode recorded (DOS/Windows zips): Lambda applies its default
    is_dir = info.is_dir() or stat.S_ISDIR(mode)
    needed = stat.S_IROTH | stat.S_IXOTH if is_dir else stat.S_IROTH
    if permissions & needed != needed:
        kind = "directory" if is_dir else "file"
        problems.append(ZipProblem(
            code="not-world-readable", name=name,
            message=f"This {kind} has mode {permissions:04o}; Lambda runs the function as a "
                    "different user, so reading it fails with PermissionError. Lambda "
                    "requires world-readable files: chmod -R o+rX the tree before zipping "
                    "(lambdalayer build normalises modes)."))


def _copy_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> None:
    # O_EXCL | O_NOFOLLOW: never write through something already there (no links
    # exist yet, but a duplicate that slipped past normalisation must not clobber).
    # O_BINARY (Windows): without it every \n written becomes \r\n and each .so is mangled.
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_BINARY", 0))
    descriptor = os.open(target, flags, 0o644)
    with os.fdopen(descriptor, "wb") as out, zf.open(info) as source:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            budget.spend(len(chunk))
            out.write(chunk)


def link_target(rel: str, raw_target: str) -> str | None:
    """The layer path a symlink at `rel` points to, or None when it leaves the layer.

    An absolute target counts as inside only under /opt, where Lambda puts the layer.
    """
    if raw_target.startswith("/"):
        normal = posixpath.normpath(raw_target)
        if not normal.startswith("/opt/"):
            return None
        return normal[len("/opt/"):]
    normal = posixpath.normpath(posixpath.join(posixpath.dirname(rel), raw_target))
    if normal == ".." or normal.startswith("../") or normal.startswith("/"):
        return None
    return normal


def _make_link(zf: zipfile.ZipFile, info: zipfile.ZipInfo, normal: str, destination: Path,
               problems: list[ZipProblem]) -> None:
    try:
        if info.file_size > MAX_LINK_TARGET:
            raise ValueError("link target too long")
        raw = zf.read(info).decode("utf-8")
    except Exception as exc:  # any failure reading a link's few bytes: a corrupt entry
        problems.append(_corrupt(normal, exc))
        return
    resolved = link_target(normal, raw)
    if resolved is None or "\0" in raw:
        problems.append(ZipProblem(
            code="unsafe-path", name=normal,
            message=f"A symlink to {raw!r}, outside the layer (/opt): not extracted. On "
                    "Lambda it would point at the runtime's own files or at nothing."))
        return
    link = destination / normal
    parent = destination
    for part in normal.split("/")[:-1]:
        parent = parent / part
        if parent.is_symlink():
            # Its relative target was computed in the zip's namespace; below another
            # link the real location differs and `..` could climb out. Refuse.
            problems.append(ZipProblem(
                code="unsafe-path", name=normal,
                message="A symlink inside a symlinked directory: not extracted. Rebuild "
                        "the zip without nested links."))
            return
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        # Always a relative link inside `destination`, even for "/opt/..." targets,
        # so following it can never leave the temporary directory.
        os.symlink(posixpath.relpath(resolved, posixpath.dirname(normal) or "."), link)
    except OSError as exc:
        problems.append(ZipProblem(
            code="duplicate-entry", name=normal,
            message=f"The symlink {normal} clashes with another entry ({exc.strerror}); "
                    "Lambda's extraction of it is undefined. Rebuild the zip."))
