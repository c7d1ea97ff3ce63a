"""Deterministic zip writing.

Same tree in -> same bytes out, whatever the host directory, umask, clock, user
or worker count: entries sorted by name, one fixed timestamp, normalised modes,
no extra fields, no directory entries. Each file is deflated on its own (zlib
releases the GIL), so compression runs in parallel without changing the output.
The archive is written to a temporary file beside the destination and renamed.

Caveat: deflate output is fixed for a given zlib; a host whose Python links a
different zlib (zlib-ng, say) may produce different compressed bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.errors import UsageError

DEFAULT_LEVEL = 6
_DOS_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
_MAX_ZIP32 = 0xFFFFFFFF
_MAX_ENTRIES = 0xFFFF
_UTF8_FLAG = 0x800
_MADE_BY_UNIX = (3 << 8) | 20
_VERSION_NEEDED = 20


@dataclass(frozen=True, kw_only=True)
class ZipStats:
    """What was written: size of the archive and of its contents."""

    entries: int
    size: int
    unzipped_size: int


def fixed_timestamp() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else 1980-01-01 00:00:00."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = _DOS_EPOCH
    if raw:
        try:
            moment = max(dt.datetime.fromtimestamp(int(raw), dt.timezone.utc), _DOS_EPOCH)
        except (ValueError, OverflowError, OSError) as exc:
            raise UsageError(f"SOURCE_DATE_EPOCH={raw!r} is not a Unix timestamp.") from exc
    # DOS timestamps have two-second resolution.
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute,
            moment.second - moment.second % 2)


def _dos_time(stamp: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = stamp
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def normalised_mode(path: Path) -> int:
    """0755 for anything executable by its owner, 0644 otherwise: always world-readable."""
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def iter_tree(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every regular file below `root`, following no symlinks."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in filenames:
            path = Path(dirpath, filename)
            if path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


def _deflate(path: Path, level: int) -> tuple[bytes, int, int]:
    data = path.read_bytes()
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def write_zip(
    files: Iterable[tuple[str, Path]],
    destination: Path,
    *,
    level: int = DEFAULT_LEVEL,
    workers: int | None = None,
) -> ZipStats:
    """Write `files` (archive name -> source path) to `destination`, deterministically.

    Names are sorted; duplicate names are a ValueError. The destination appears
    atomically: a crash leaves either the old file or none, never half an archive.
    """
    entries = sorted(files)
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError("duplicate archive names")
    if len(entries) > _MAX_ENTRIES:
        raise UsageError(f"{len(entries)} files is more than a zip without ZIP64 can hold.")
    time, date = _dos_time(fixed_timestamp())
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Closed by the `with handle` below; delete=False so it can be renamed into place.
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle, ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            central: list[bytes] = []
            offset = 0
            unzipped = 0
            # map() keeps input order, so the output does not depend on scheduling.
            compressed = pool.map(lambda entry: _deflate(entry[1], level), entries)
            for (name, source), (data, crc, raw_size) in zip(entries, compressed, strict=True):
                encoded = name.encode("utf-8")
                flags = 0 if encoded.isascii() else _UTF8_FLAG
                if offset > _MAX_ZIP32 or len(data) > _MAX_ZIP32 or raw_size > _MAX_ZIP32:
                    raise UsageError("The layer is larger than 4 GiB; Lambda could not take it.")
                local = struct.pack(
                    "<IHHHHHIIIHH", 0x04034B50, _VERSION_NEEDED, flags, zlib.DEFLATED,
                    time, date, crc, len(data), raw_size, len(encoded), 0,
                )
                handle.write(local + encoded)
                handle.write(data)
                external = (stat.S_IFREG | normalised_mode(source)) << 16
                central.append(struct.pack(
                    "<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY_UNIX, _VERSION_NEEDED, flags,
                    zlib.DEFLATED, time, date, crc, len(data), raw_size, len(encoded),
                    0, 0, 0, 0, external, offset,
                ) + encoded)
                offset += len(local) + len(encoded) + len(data)
                unzipped += raw_size
            directory = b"".join(central)
            handle.write(directory)
            handle.write(struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                len(directory), offset, 0,
            ))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return ZipStats(entries=len(entries), size=destination.stat().st_size, unzipped_size=unzipped)
