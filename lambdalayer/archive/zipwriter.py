"""Deterministic zip writing.

Same tree in -> same bytes out, whatever the host directory, umask, clock, user
or worker count: entries sorted by name, one fixed timestamp, normalised modes,
no extra fields, no directory entries. Each file is deflated on its own, big
files in fixed 1 MiB pieces (zlib releases the GIL), so compression runs in
parallel without changing the output. A member cache, when given, returns the
deflate stream of a file it has seen (same content, level and zlib) without
compressing it again; a run memo (RunMemo), shared by the zips of one build, does
the same for every file in memory, so content repeated across runtimes and
architectures (the same pure-Python package in ten site-packages trees) is
deflated once per run. The archive is written to a temporary file beside the
destination and renamed.

Deflate output is fixed for a given compressor; a host whose Python links
another (zlib-ng, say) writes other compressed bytes, so the compressor's
known answer (compressor.py) is a build input. Level 0 writes stored entries,
which no compressor touches. A file installed unchanged from a wheel is written
as that wheel member's own deflate stream when one is given (a `StreamSource`:
pipeline/wheel_streams/, docs/zip-format.md): no compressor touches those either.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import stat
import struct
import tempfile
import threading
import unicodedata
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Protocol

from lambdalayer.archive.compressor import compressor_record
from lambdalayer.common import interrupt
from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import replace_retrying, unreadable, walk_error

DEFAULT_LEVEL = 6
_DOS_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
_MAX_ZIP32 = 0xFFFFFFFF
_MAX_ENTRIES = 0xFFFF
_UTF8_FLAG = 0x800
_STORED = 0
_MADE_BY_UNIX = (3 << 8) | 20
_VERSION_NEEDED = 20


class StreamSource(Protocol):
    """A raw deflate stream offered for one file (a wheel's member:
    pipeline/wheel_streams/members.py). The source vouches for it: `stream_for` returns
    it only when it inflates to exactly the file's content, else None."""

    def stream_for(self, path: Path, size: int, crc: int, sha256: str) -> bytes | None: ...


class ZipStopped(Exception):
    """write_zip was told to stop (its `stop` event) before it finished; nothing is left."""


@dataclass(frozen=True, kw_only=True)
class ZipStats:
    """What was written: size of the archive and of its contents."""

    entries: int
    size: int
    unzipped_size: int
    members: tuple[tuple[str, int, int], ...] = ()  # (name, compressed, unzipped) in order
    reused: int = 0  # members written as their wheel's own deflate stream


# A zip's DOS date holds the years 1980-2107 (7 bits from 1980).
_DOS_LAST = dt.datetime(2107, 12, 31, 23, 59, 58, tzinfo=dt.timezone.utc)


def _source_date_epoch() -> tuple[int | None, str]:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None, raw
    try:
        return int(raw), raw
    except ValueError as exc:
        raise UsageError(f"SOURCE_DATE_EPOCH={raw!r} is not a Unix timestamp.") from exc


def timestamp_warning() -> str | None:
    """What to tell the user when SOURCE_DATE_EPOCH is outside what a zip can record."""
    seconds, raw = _source_date_epoch()
    if seconds is None:
        return None
    if seconds < int(_DOS_EPOCH.timestamp()):
        return (f"SOURCE_DATE_EPOCH={raw} is before 1980, the earliest time a zip can record; "
                "the layer's files are dated 1980-01-01.")
    if seconds > int(_DOS_LAST.timestamp()):
        return (f"SOURCE_DATE_EPOCH={raw} is after 2107, the latest time a zip can record; "
                "the layer's files are dated 2107-12-31.")
    return None


def fixed_timestamp() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else 1980-01-01 00:00:00;
    clamped to the years a zip can record (timestamp_warning says when)."""
    seconds, _raw = _source_date_epoch()
    moment = _DOS_EPOCH
    if seconds is not None:
        bounded = min(max(seconds, int(_DOS_EPOCH.timestamp())), int(_DOS_LAST.timestamp()))
        moment = dt.datetime.fromtimestamp(bounded, dt.timezone.utc)
    # DOS timestamps have two-second resolution.
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute,
            moment.second - moment.second % 2)


def _dos_time(stamp: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = stamp
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


_EXECUTABLE_MAGIC = (b"\x7fELF", b"#!")


def normalised_mode(path: Path) -> int:
    """0755 for an ELF file or a `#!` script, 0644 for everything else: from the content,
    never the host's x bit (Windows sets that only for .exe/.bat, umasks differ), so
    every host writes the same modes. Always world-readable (docs/lambda-facts.md)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    return 0o755 if head.startswith(_EXECUTABLE_MAGIC) else 0o644


def iter_tree(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every regular file below `root`, following no symlinks.

    Names are NFC (macOS volumes may list NFD, which then fails to import on Lambda).
    A directory or file that cannot be read is a UsageError, never a silent omission
    (on Windows, paths past 260 characters do that).
    """
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames.sort()
        for filename in filenames:
            path = Path(dirpath, filename)
            try:
                info = path.lstat()
            except OSError as exc:
                raise unreadable(exc) from exc
            if not stat.S_ISREG(info.st_mode):
                continue
            yield unicodedata.normalize("NFC", path.relative_to(root).as_posix()), path


def zips_as_is(root: Path) -> bool:
    """True when the zip of `root` (iter_tree) holds the tree as it is: no symlink or
    special file (left out), no name that is not NFC (renamed), no empty directory (a
    zip has no directory entries). Then what imports from `root` imports from the zip."""
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            empty = True
            for entry in entries:
                empty = False
                if entry.is_symlink() or unicodedata.normalize("NFC", entry.name) != entry.name:
                    return False
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif not entry.is_file(follow_symlinks=False):
                    return False
            if empty:
                return False
    return True


# Files larger than two chunks are deflated in 1 MiB pieces, each primed with
# the 32 KiB before it and ended by a sync flush (pigz's scheme): one big .so
# (libarrow is 39 MB) then spreads over every core instead of finishing last.
# The pieces depend only on this constant, never on the worker count.
CHUNK = 1 << 20
_WINDOW = 32 * 1024
_READ_BLOCK = 1 << 20
# Files this large go through the member cache when one is given.
CACHE_MIN = 256 * 1024


class MemberCache(Protocol):
    """Compressed members by key (content digest, level, zlib version): a warm cache makes
    re-zipping an unchanged file a read instead of a deflate."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


class RunMemo:
    """Deflate streams of one run in memory, by the member cache's key (content digest,
    level, piece size, compressor output): what one zip of a build compressed, the next
    zip of the same build reuses, for files of every size. Up to `budget` bytes of
    compressed data are kept; past that, content is compressed again (same bytes)."""

    def __init__(self, budget: int = 256 * 1024 * 1024) -> None:
        self._streams: dict[str, bytes] = {}
        self._budget = budget
        self._held = 0
        self.hits = 0
        # (device, inode, size, mtime) -> (CRC, key): uv hard-links one cached wheel's
        # files into every target's tree, so the same file is read and hashed once.
        # Trees are never changed in place (resolve/install.py), so an inode seen in
        # this run still holds what it held.
        self.probed: dict[tuple[int, int, int, int], tuple[int, str]] = {}

    def get(self, key: str) -> bytes | None:
        found = self._streams.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: str, data: bytes) -> None:
        if key not in self._streams and self._held + len(data) <= self._budget:
            self._streams[key] = data
            self._held += len(data)


@dataclass(frozen=True, kw_only=True)
class _Member:
    name: str
    path: Path
    size: int
    crc: int | None = None  # known after probing (large or cacheable files)
    key: str | None = None  # cache key, when a cache or a memo is in use
    cached: bytes | None = None
    same_as: int | None = None  # index of an earlier member with the same key
    identity: tuple[int, int, int, int] = (0, 0, 0, 0)  # device, inode, size, mtime
    stream: StreamSource | None = None  # the wheel member this file may be copied from
    reused: bool = False  # `cached` is the wheel's own stream (StreamSource)


def _cache_key(digest: str, level: int) -> str:
    # Deflate output is fixed by the compressor's output (compressor.py), the level and
    # the chunking; stored members (level 0) by nothing else.
    return f"{digest}-v1-l{level}-c{CHUNK}-z{compressor_record(level)['output']}"


def _probe(member: _Member, level: int, cache: MemberCache | None,
           memo: RunMemo | None) -> _Member:
    """CRC (and, with a cache, a memo or a wheel stream, digest and known data) of a file."""
    seen = memo.probed.get(member.identity) if memo is not None else None
    if seen is not None:
        crc, key = seen
    else:
        crc = 0
        wanted = cache is not None or memo is not None or member.stream is not None
        digest = hashlib.sha256() if wanted else None
        with member.path.open("rb") as handle:
            while block := handle.read(_READ_BLOCK):
                crc = zlib.crc32(block, crc)
                if digest is not None:
                    digest.update(block)
        if digest is None:
            return replace(member, crc=crc)
        key = _cache_key(digest.hexdigest(), level)
        if memo is not None:
            memo.probed[member.identity] = (crc, key)
    if member.stream is not None:
        # The wheel's stream only when it holds exactly this content (verified there);
        # never kept under the deflate key, which names our own deflate's bytes.
        reused = member.stream.stream_for(member.path, member.size, crc,
                                          key.split("-", 1)[0])
        if reused is not None:
            return replace(member, crc=crc, cached=reused, reused=True)
    known = memo.get(key) if memo is not None else None
    if known is None and cache is not None and member.size >= CACHE_MIN:
        known = cache.get(key)
    return replace(member, crc=crc, key=key, cached=known)


def _deflate_whole(path: Path, level: int) -> tuple[bytes, int, int]:
    data = path.read_bytes()
    if level == 0:  # stored: the file's own bytes, whatever the host's zlib
        return data, zlib.crc32(data), len(data)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def _deflate_chunk(path: Path, index: int, last: bool, level: int) -> bytes:
    start = index * CHUNK
    with path.open("rb") as handle:
        primer = b""
        if start:
            handle.seek(start - _WINDOW)
            primer = handle.read(_WINDOW)
        data = handle.read() if last else handle.read(CHUNK)  # the last piece runs to EOF
    if level == 0:
        return data
    if primer:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zdict=primer)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    ending = zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
    return compressor.compress(data) + compressor.flush(ending)


def _chunks(size: int) -> int:
    return max(1, -(-size // CHUNK)) if size > 2 * CHUNK else 1


_Result = tuple[bytes, int, int] | bytes
_Unit = tuple[int, Callable[[], _Result]]


def _paused(pause: Callable[[], object], work: Callable[[], _Result]) -> _Result:
    pause()
    return work()


def _units(members: list[_Member], level: int, pause: Callable[[], object]) -> Iterator[_Unit]:
    """(member index, work) in archive order: the compression still to do."""
    for index, member in enumerate(members):
        if member.cached is not None or member.same_as is not None:
            continue
        count = _chunks(member.size)
        if count == 1 and member.crc is None:
            yield index, functools.partial(_paused, pause, functools.partial(
                _deflate_whole, member.path, level))
        else:
            for part in range(count):
                yield index, functools.partial(_paused, pause, functools.partial(
                    _deflate_chunk, member.path, part, part == count - 1, level))


def _in_order(pool: ThreadPoolExecutor, units: Iterator[_Unit],
              window: int) -> Iterator[tuple[int, tuple[bytes, int, int] | bytes]]:
    """Run `units` on `pool`, at most `window` ahead, yielding results in input order."""
    pending: deque[tuple[int, Future[tuple[bytes, int, int] | bytes]]] = deque()
    for index, work in units:
        pending.append((index, pool.submit(work)))
        if len(pending) >= window:
            done_index, future = pending.popleft()
            yield done_index, future.result()
    while pending:
        done_index, future = pending.popleft()
        yield done_index, future.result()


def _compressed_members(
    members: list[_Member], level: int, pool: ThreadPoolExecutor, workers: int,
    cache: MemberCache | None, memo: RunMemo | None, pause: Callable[[], object],
) -> Iterator[tuple[_Member, bytes, int, int]]:
    """(member, deflate data, crc, size) for every member, in archive order."""
    results = _in_order(pool, _units(members, level, pause), window=4 * workers)
    repeated = {m.same_as for m in members if m.same_as is not None}
    earlier: dict[int, bytes] = {}  # data of members a later one repeats
    for index, member in enumerate(members):
        if member.cached is not None and member.crc is not None:
            if index in repeated:
                earlier[index] = member.cached
            if memo is not None and member.key is not None and not member.reused:
                memo.put(member.key, member.cached)  # later zips skip the cache's check
            yield member, member.cached, member.crc, member.size
            continue
        if member.same_as is not None and member.crc is not None:
            yield member, earlier[member.same_as], member.crc, member.size
            continue
        count = _chunks(member.size)
        if count == 1 and member.crc is None:
            _index, whole = next(results)
            assert isinstance(whole, tuple)
            data, crc, raw_size = whole
        else:
            parts = []
            for _ in range(count):
                _index, part = next(results)
                assert isinstance(part, bytes) and _index == index
                parts.append(part)
            data, raw_size = b"".join(parts), member.size
            assert member.crc is not None
            crc = member.crc
        if member.key is not None:
            if cache is not None and member.size >= CACHE_MIN:
                cache.put(member.key, data)
            if memo is not None:
                memo.put(member.key, data)
        if index in repeated:
            earlier[index] = data
        yield member, data, crc, raw_size


def _checked_entries(files: Iterable[tuple[str, Path]], level: int) -> list[tuple[str, Path]]:
    """`files` sorted by name; ValueError for a duplicate name, UsageError for what a zip
    without ZIP64 cannot hold or a level zlib does not have."""
    entries = sorted(files)
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError("duplicate archive names")
    if len(entries) > _MAX_ENTRIES:
        raise UsageError(f"{len(entries)} files is more than a zip without ZIP64 can hold.")
    if not 0 <= level <= 9:
        raise UsageError(f"Compression level {level} is not between 0 and 9.")
    return entries


def _probed_members(entries: list[tuple[str, Path]], level: int, pool: ThreadPoolExecutor,
                    cache: MemberCache | None, memo: RunMemo | None,
                    streams: Mapping[str, StreamSource],
                    pause: Callable[[], object]) -> list[_Member]:
    members = []
    for name, source in entries:
        info = source.stat()
        members.append(_Member(name=name, path=source, size=info.st_size, identity=(
            info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns), stream=streams.get(name)))
    # Probe what needs a whole-file CRC up front (big files, cache lookups, wheel streams,
    # every file with a memo): chunks are then deflated independently, in any order.
    probe = [i for i, m in enumerate(members) if m.size > 2 * CHUNK or memo is not None
             or m.stream is not None or (cache is not None and m.size >= CACHE_MIN)]

    def probed(i: int) -> _Member:
        pause()
        return _probe(members[i], level, cache, memo)

    for i, probed_member in zip(probe, pool.map(probed, probe), strict=True):
        members[i] = probed_member
    # Content that repeats within this zip (one package in several runtimes' trees) is
    # compressed at its first place and copied to the others.
    first: dict[str, int] = {}
    for i, member in enumerate(members):
        if member.key is None or member.reused:
            continue
        if member.key not in first:
            first[member.key] = i
        elif member.cached is None:
            members[i] = replace(member, same_as=first[member.key])
    return members


def _write_member(handle: IO[bytes], member: _Member, data: bytes, crc: int, raw_size: int, *,
                  offset: int, method: int, time: int, date: int) -> tuple[bytes, int]:
    """Write one local header and its data at `offset`; (central record, bytes written)."""
    name, source = member.name, member.path
    encoded = name.encode("utf-8")
    flags = 0 if encoded.isascii() else _UTF8_FLAG
    if offset > _MAX_ZIP32 or len(data) > _MAX_ZIP32 or raw_size > _MAX_ZIP32:
        raise UsageError("The layer is larger than 4 GiB; Lambda could not take it.")
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, _VERSION_NEEDED, flags, method,
        time, date, crc, len(data), raw_size, len(encoded), 0,
    )
    handle.write(local + encoded)
    handle.write(data)
    external = (stat.S_IFREG | normalised_mode(source)) << 16
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY_UNIX, _VERSION_NEEDED, flags,
        method, time, date, crc, len(data), raw_size, len(encoded),
        0, 0, 0, 0, external, offset,
    ) + encoded
    return central, len(local) + len(encoded) + len(data)


def _write_directory(handle: IO[bytes], central: list[bytes], offset: int) -> None:
    """The central directory (at `offset`) and its end record, flushed to the disk."""
    directory = b"".join(central)
    handle.write(directory)
    handle.write(struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
        len(directory), offset, 0,
    ))
    handle.flush()
    os.fsync(handle.fileno())


def _no_pause() -> None:
    pass


def write_zip(
    files: Iterable[tuple[str, Path]],
    destination: Path,
    *,
    level: int = DEFAULT_LEVEL,
    workers: int | None = None,
    cache: MemberCache | None = None,
    memo: RunMemo | None = None,
    streams: Mapping[str, StreamSource] | None = None,
    stop: threading.Event | None = None,
    pause: Callable[[], object] | None = None,
) -> ZipStats:
    """Write `files` (archive name -> source path) to `destination`, deterministically.

    Names are sorted; duplicate names are a ValueError. The destination appears
    atomically: a crash leaves either the old file or none, never half an archive.
    The bytes depend on the files, `level` and zlib alone: not on `workers`, and
    not on whether `cache` (compressed members from earlier builds) was warm, nor on
    what `memo` (compressed members of this run's earlier zips) holds.

    `streams` (archive name -> wheel member, pipeline/wheel_streams/): a file whose
    content is exactly its wheel member's is written as that member's deflate stream;
    the bytes then depend on the wheel instead of on zlib. Level 0 stores everything.

    `stop` set (by another thread) ends the writing between two members with ZipStopped,
    the temporary file removed and `destination` untouched. `pause`, called before each
    member is read and before each is written, may block (to leave the cores to more
    urgent work); it changes when the bytes are written, never which.
    """
    entries = _checked_entries(files, level)
    pause = pause or _no_pause
    if level == 0:
        memo = None  # stored members cost no compression: nothing to reuse
        streams = None  # stored means stored: no deflate stream at all
    workers = max(1, workers or os.cpu_count() or 1)
    method = _STORED if level == 0 else zlib.DEFLATED
    time, date = _dos_time(fixed_timestamp())
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary: Path | None = None
    try:
        # Created and named as one step: a signal between the two would leave a file no
        # `except` knows (a 0-byte .tmp in dist/). Closed by `with handle` below;
        # delete=False so it can be renamed into place.
        with interrupt.deferred():
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
                dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp",
                delete=False)
            temporary = Path(handle.name)
        with handle, ThreadPoolExecutor(max_workers=workers) as pool:
            central: list[bytes] = []
            offset = 0
            unzipped = 0
            sizes: list[tuple[str, int, int]] = []
            reused = 0
            members = _probed_members(entries, level, pool, cache, memo, streams or {},
                                      pause)
            for member, data, crc, raw_size in _compressed_members(
                    members, level, pool, workers, cache, memo, pause):
                pause()
                if stop is not None and stop.is_set():
                    raise ZipStopped(destination)
                record, written = _write_member(handle, member, data, crc, raw_size,
                                                offset=offset, method=method, time=time,
                                                date=date)
                central.append(record)
                offset += written
                unzipped += raw_size
                sizes.append((member.name, len(data), raw_size))
                reused += member.reused
            _write_directory(handle, central, offset)
        os.chmod(temporary, 0o644)
        replace_retrying(temporary, destination)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return ZipStats(entries=len(entries), size=destination.stat().st_size, unzipped_size=unzipped,
                    members=tuple(sizes), reused=reused)
