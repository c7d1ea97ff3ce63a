"""A wheel's deflated members, copied into the layer zip as they are (docs/zip-format.md).

A layer file whose bytes equal the member of the same name in the wheel its
distribution was installed from, when that member is deflated, is written as that
member's raw deflate stream: no deflate, and bytes fixed by the wheel (pinned by
its hash), not by this host's zlib.

A wheel is input, not trust: before a stream is copied, its member's size and CRC-32
must equal the file's, and the stream must inflate, bounded by that size, to exactly
the file's bytes: compared block by block (inflates_to_file), or, for a member
inflated as soon as its wheel was fetched (verify_members, while the layer is laid out),
by the SHA-256 of what it inflated to against the file's. Anything else (another
content, a stream that inflates to more or less, a truncated or malformed member)
leaves the file to be deflated here. What was verified (member -> SHA-256 of the
content it holds) is recorded per wheel (by the wheel's SHA-256, signed with the
cache's secret) so a rebuild compares digests instead of inflating again; the wheel
file itself is hashed each time it is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lambdalayer.common import interrupt
from lambdalayer.common.cache import sign, wheels_folder

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_MAGIC = 0x04034B50
_ENCRYPTED = 0x1
_UTF8 = 0x800
_INFLATE_BLOCK = 1 << 20
_VERIFIED_FORMAT = "lambdalayer-verified-streams-1"


@dataclass(frozen=True, kw_only=True)
class WheelMember:
    """A deflated member of a wheel: where its raw stream is and what it claims to hold."""

    offset: int  # of the raw deflate stream in the wheel file
    length: int  # compressed bytes
    size: int  # uncompressed bytes, from the central directory
    crc: int


@dataclass(kw_only=True)
class OpenWheel:
    """A wheel file whose bytes were hashed when opened; streams are read from that
    same open file. `verified` holds member name -> SHA-256 of what its stream inflates
    to, for the members checked so far (this run's and the recorded ones)."""

    sha256: str
    path: Path
    members: dict[str, WheelMember]
    verified: dict[str, str] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)  # members that do not inflate as they claim
    record: Path | None = None  # where `verified` is kept between builds
    added: bool = False  # something verified in this run, not yet recorded
    _handle: BinaryIO | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, member: WheelMember) -> bytes | None:
        try:
            with self._lock:  # one file position, several zip workers
                if self._handle is None:
                    return None
                data = _read_at(self._handle, member.offset, member.length)
        except (OSError, ValueError):
            return None
        return data if len(data) == member.length else None

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _read_at(handle: BinaryIO, offset: int, length: int) -> bytes:
    handle.seek(offset)
    return handle.read(length)


def open_wheel(path: Path, sha256: str, record: Path | None = None) -> OpenWheel | None:
    """The wheel at `path` when its bytes hash to `sha256` and its table of members can be
    read; None otherwise (then its distribution's files are deflated here)."""
    try:
        handle = path.open("rb")
    except OSError:
        return None
    try:
        digest = hashlib.sha256()
        while block := handle.read(_INFLATE_BLOCK):
            digest.update(block)
        if digest.hexdigest() != sha256:
            handle.close()
            return None
        members = _members(handle)
    except (OSError, zipfile.BadZipFile, ValueError, struct.error, EOFError):
        handle.close()
        return None
    wheel = OpenWheel(sha256=sha256, path=path, members=members, record=record,
                      _handle=handle)
    if record is not None:
        wheel.verified = _read_record(record, sha256, members)
    return wheel


def _members(handle: BinaryIO) -> dict[str, WheelMember]:
    """Every deflated, unencrypted member whose local header agrees with the central
    directory (name and method); other members are left out (deflated here)."""
    found: dict[str, WheelMember] = {}
    size = handle.seek(0, os.SEEK_END)
    # The table read from the open file that was just hashed, never from the path again.
    with zipfile.ZipFile(handle) as archive:  # leaves `handle` open (it was passed in)
        infos = archive.infolist()
    seen: set[str] = set()
    duplicated: set[str] = set()
    for info in infos:  # a name twice: which one an unzipper takes is in doubt
        (duplicated if info.filename in seen else seen).add(info.filename)
    for info in infos:
        if (info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & _ENCRYPTED
                or info.filename in duplicated or info.filename.endswith("/")):
            continue
        head = _read_at(handle, info.header_offset, _LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size:
            continue
        magic, _v, _flags, method, _t, _d, _crc, _c, _u, name_len, extra_len = \
            _LOCAL_HEADER.unpack(head)
        name = _read_at(handle, info.header_offset + _LOCAL_HEADER.size, name_len)
        codec = "utf-8" if info.flag_bits & _UTF8 else "cp437"
        if magic != _LOCAL_MAGIC or method != zipfile.ZIP_DEFLATED or \
                name.decode(codec, "replace") != info.orig_filename:
            continue
        offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if offset + info.compress_size > size:
            continue  # truncated
        found[info.filename] = WheelMember(offset=offset, length=info.compress_size,
                                           size=info.file_size, crc=info.CRC)
    return found


def inflates_to_file(stream: bytes, size: int, path: Path) -> bool:
    """True when raw deflate `stream` inflates to exactly the bytes of the file at `path`
    (`size` of them) and ends where they end. Compared block by block (no hashing, which
    the zip's probe already did for the file); never holds more than one block of output
    and stops as soon as the output passes `size` (a zip bomb) or differs."""
    inflater = zlib.decompressobj(-15)
    produced = 0
    pending = stream
    try:
        with path.open("rb") as handle:
            while True:
                out = inflater.decompress(pending, _INFLATE_BLOCK)
                produced += len(out)
                if produced > size or handle.read(len(out)) != out:
                    return False
                pending = inflater.unconsumed_tail
                if inflater.eof or (not out and not pending):
                    break
            if handle.read(1):
                return False  # the file is longer than what the stream holds
    except (zlib.error, OSError):
        return False
    return (inflater.eof and not inflater.unused_data and not inflater.unconsumed_tail
            and produced == size)


def member_digest(stream: bytes, member: WheelMember) -> str | None:
    """SHA-256 of what raw deflate `stream` holds when it inflates to exactly the size and
    CRC-32 its headers claim and ends where it ends; None otherwise. Never holds more
    than one block of output and stops as soon as the output passes the claimed size."""
    inflater = zlib.decompressobj(-15)
    digest = hashlib.sha256()
    crc = produced = 0
    pending = stream
    try:
        while True:
            out = inflater.decompress(pending, _INFLATE_BLOCK)
            produced += len(out)
            if produced > member.size:
                return None  # a zip bomb, or a lie about the size
            digest.update(out)
            crc = zlib.crc32(out, crc)
            pending = inflater.unconsumed_tail
            if inflater.eof or (not out and not pending):
                break
    except zlib.error:
        return None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail \
            or produced != member.size or crc != member.crc:
        return None
    return digest.hexdigest()


def verify_members(wheel: OpenWheel, *, smallest: int = 0) -> None:
    """Learn what each member of at least `smallest` bytes holds, by inflating it, before
    any layer file is compared with it: `stream_for` then compares SHA-256 digests, as
    with an earlier build's record. A member that does not inflate as its headers claim
    is never copied."""
    for name, member in wheel.members.items():
        with wheel._lock:
            if member.size < smallest or name in wheel.verified or name in wheel.bad:
                continue
        data = wheel.read(member)
        found = member_digest(data, member) if data is not None else None
        with wheel._lock:
            if found is None:
                wheel.bad.add(name)
            else:
                wheel.verified[name] = found
                wheel.added = True


@dataclass(frozen=True, kw_only=True)
class StreamRef:
    """The wheel member a layer file may be copied from, with the distribution named."""

    wheel: OpenWheel
    name: str
    member: WheelMember
    dist: str  # "name==version", for the record of what was reused

    def stream_for(self, path: Path, size: int, crc: int, sha256: str) -> bytes | None:
        """archive/zipwriter.StreamSource: the module's `stream_for` for this member."""
        return stream_for(self, path, size, crc, sha256)


def stream_for(ref: StreamRef, path: Path, size: int, crc: int, sha256: str) -> bytes | None:
    """The member's raw deflate stream when it holds exactly the content of the file at
    `path` (`size` bytes, CRC-32 `crc`, SHA-256 `sha256`): checked now by inflating it
    against the file, or by an earlier build's signed record of the member's digest.
    None otherwise: the file is then deflated as any other."""
    member = ref.member
    if member.size != size or member.crc != crc:
        return None
    wheel = ref.wheel
    with wheel._lock:
        known = wheel.verified.get(ref.name)
        bad = ref.name in wheel.bad
    if bad:
        return None
    data = wheel.read(member)
    if data is None:
        return None
    if known is not None:
        return data if hmac.compare_digest(known, sha256) else None
    if not inflates_to_file(data, size, path):
        with wheel._lock:
            wheel.bad.add(ref.name)  # another file may share the member: not again
        return None
    with wheel._lock:
        wheel.verified[ref.name] = sha256  # the member holds exactly these bytes
        wheel.added = True
    return data


def _record_bytes(sha256: str, members: dict[str, WheelMember],
                  verified: dict[str, str]) -> bytes:
    rows = {name: [members[name].offset, members[name].length, members[name].size,
                   members[name].crc, digest]
            for name, digest in sorted(verified.items()) if name in members}
    return json.dumps({"format": _VERIFIED_FORMAT, "wheel": sha256, "members": rows},
                      sort_keys=True).encode()


def _read_record(record: Path, sha256: str, members: dict[str, WheelMember]) -> dict[str, str]:
    """The members an earlier build verified; empty unless the record is signed with the
    cache's secret and describes these very members (same places, sizes and CRCs)."""
    try:
        mac_hex, _, body = record.read_bytes().partition(b"\n")
        data = json.loads(body)
    except (OSError, ValueError):
        return {}
    expected = sign(record.parent.parent.parent, body)
    if expected is None or not hmac.compare_digest(bytes.fromhex(mac_hex.decode(
            "ascii", "replace")) if _is_hex(mac_hex) else b"", expected):
        return {}
    if not isinstance(data, dict) or data.get("format") != _VERIFIED_FORMAT or \
            data.get("wheel") != sha256 or not isinstance(data.get("members"), dict):
        return {}
    verified = {}
    for name, row in data["members"].items():
        member = members.get(name)
        if member is not None and row[:4] == [member.offset, member.length, member.size,
                                              member.crc] and isinstance(row[4], str):
            verified[name] = row[4]
    return verified


def _is_hex(text: bytes) -> bool:
    return len(text) == 64 and all(c in b"0123456789abcdef" for c in text)


def keep_record(wheel: OpenWheel) -> None:
    """Record what this run verified of `wheel`, signed; nothing when there is no new
    verification or no secret. Never fails a build."""
    if not wheel.added or wheel.record is None:
        return
    body = _record_bytes(wheel.sha256, wheel.members, wheel.verified)
    mac = sign(wheel.record.parent.parent.parent, body)
    if mac is None:
        return
    temporary: Path | None = None
    try:
        # A wheel from a --find-links folder has its record in the cache all the same.
        wheels_folder(wheel.record.parent)  # private like the rest of the cache
        with interrupt.deferred():  # created and named as one step
            descriptor, name = tempfile.mkstemp(dir=wheel.record.parent, prefix=".tmp-")
            temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(mac.hex().encode() + b"\n" + body)
        os.replace(temporary, wheel.record)
        temporary = None
        wheel.added = False
    except OSError:
        pass
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
