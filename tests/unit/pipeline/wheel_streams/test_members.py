"""A wheel's deflate stream goes into the zip only when it holds exactly the file's bytes.

Each attack is a crafted wheel whose member claims (or nearly claims) the layer file's
content; the zip must then hold our own deflate of the file, never the wheel's stream,
whether the member is inflated when the zip is written or as soon as its wheel is
fetched (verify_members, `early`).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from lambdalayer.archive.zipwriter import write_zip
from lambdalayer.pipeline.wheel_streams.members import (
    StreamRef,
    WheelMember,
    inflates_to_file,
    keep_record,
    member_digest,
    open_wheel,
    verify_members,
)

CONTENT = b"".join(b"def f%d():\n    return %d\n" % (i, i * i) for i in range(3000))


def _deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def _wheel(path: Path, members: dict[str, bytes], level: int = 9) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=level) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _forge(path: Path, name: str, stream: bytes) -> None:
    """Replace member `name`'s raw stream by `stream` of the same length, headers kept
    (so its CRC and size still claim the original content)."""
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    head = struct.unpack("<IHHHHHIIIHH", blob[info.header_offset:info.header_offset + 30])
    start = info.header_offset + 30 + head[9] + head[10]
    assert len(stream) == info.compress_size
    blob[start:start + len(stream)] = stream
    path.write_bytes(bytes(blob))


def _raw(zip_path: Path, name: str) -> bytes:
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(name)
    blob = zip_path.read_bytes()
    head = struct.unpack("<IHHHHHIIIHH", blob[info.header_offset:info.header_offset + 30])
    start = info.header_offset + 30 + head[9] + head[10]
    return blob[start:start + info.compress_size]


def _zip_with(tmp: Path, wheel_path: Path, content: bytes = CONTENT,
              record: Path | None = None, early: bool = False) -> Path:
    tree = tmp / "tree" / "pkg"
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "mod.py").write_bytes(content)
    sha = hashlib.sha256(wheel_path.read_bytes()).hexdigest()
    wheel = open_wheel(wheel_path, sha, record)
    assert wheel is not None
    if early:  # every member judged now: the zip only compares digests
        verify_members(wheel)
        assert set(wheel.verified) | wheel.bad == set(wheel.members)
    streams = {}
    if "pkg/mod.py" in wheel.members:
        streams["pkg/mod.py"] = StreamRef(wheel=wheel, name="pkg/mod.py",
                                          member=wheel.members["pkg/mod.py"], dist="pkg==1")
    out = tmp / "layer.zip"
    write_zip([("pkg/mod.py", tree / "mod.py")], out, streams=streams)
    keep_record(wheel)
    wheel.close()
    with zipfile.ZipFile(out) as archive:
        assert archive.read("pkg/mod.py") == content  # whatever happened, the right bytes
    return out


@pytest.mark.parametrize("early", [False, True])
def test_an_unchanged_file_is_the_wheels_own_stream(tmp_path: Path, early: bool) -> None:
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT}, level=9)
    out = _zip_with(tmp_path, wheel, early=early)
    assert _raw(out, "pkg/mod.py") == _raw(wheel, "pkg/mod.py")
    assert _raw(out, "pkg/mod.py") != _deflate(CONTENT, 6)  # the test can tell them apart


@pytest.mark.parametrize("early", [False, True])
def test_a_stream_inflating_to_other_bytes_is_never_copied(tmp_path: Path, early: bool) -> None:
    """Same size and CRC claimed (both headers), another content inside: deflated by us."""
    other = bytearray(CONTENT)
    other[100:104] = b"evil"
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": bytes(other)})
    _claim_crc(wheel, zlib.crc32(bytes(other)), zlib.crc32(CONTENT))
    out = _zip_with(tmp_path, wheel, early=early)
    assert _raw(out, "pkg/mod.py") == _deflate(CONTENT, 6)


def _same_crc(data: bytes, wanted: int, at: int) -> bytes:
    """`data` with the four bytes at `at` changed so that its CRC-32 is `wanted` (CRC-32 is
    affine over GF(2): solve for the 32 bits)."""
    zero = bytes(len(data))
    base = zlib.crc32(zero)
    columns = []
    for bit in range(32):
        probe = bytearray(zero)
        probe[at + bit // 8] |= 1 << (bit % 8)
        columns.append(zlib.crc32(bytes(probe)) ^ base)
    target = wanted ^ zlib.crc32(data)
    # Gaussian elimination: rows are (column value, set of bits combined).
    rows = [(columns[i], 1 << i) for i in range(32)]
    solution_rows = []
    for pivot in range(31, -1, -1):
        index = next(i for i, (value, _) in enumerate(rows) if value >> pivot & 1)
        chosen = rows.pop(index)
        rows = [(v ^ chosen[0], c ^ chosen[1]) if v >> pivot & 1 else (v, c) for v, c in rows]
        solution_rows = [(v ^ chosen[0], c ^ chosen[1]) if v >> pivot & 1 else (v, c)
                         for v, c in solution_rows]
        solution_rows.append(chosen)
    mask = 0
    for value, combo in solution_rows:
        if target & value & -value:  # each row now has a single bit set
            mask ^= combo
    patched = bytearray(data)
    for bit in range(32):
        if mask >> bit & 1:
            patched[at + bit // 8] ^= 1 << (bit % 8)
    assert zlib.crc32(bytes(patched)) == wanted
    return bytes(patched)


@pytest.mark.parametrize("early", [False, True])
def test_a_crc_collision_is_caught_by_the_digest(tmp_path: Path, early: bool) -> None:
    """Another content with the same size and CRC-32 as the file: only the SHA-256 of the
    inflated stream tells them apart."""
    other = bytearray(CONTENT)
    other[100:104] = b"evil"
    colliding = _same_crc(bytes(other), zlib.crc32(CONTENT), 200)
    assert colliding != CONTENT and len(colliding) == len(CONTENT)
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": colliding})
    out = _zip_with(tmp_path, wheel, early=early)
    assert _raw(out, "pkg/mod.py") == _deflate(CONTENT, 6)


def _claim_crc(path: Path, actual: int, claimed: int) -> None:
    """Write `claimed` wherever the headers hold the CRC `actual`."""
    blob = path.read_bytes()
    before, after = struct.pack("<I", actual), struct.pack("<I", claimed)
    assert blob.count(before) == 2  # local header and central directory
    path.write_bytes(blob.replace(before, after))


@pytest.mark.parametrize("early", [False, True])
def test_a_member_with_another_crc_is_not_copied(tmp_path: Path, early: bool) -> None:
    changed = CONTENT.replace(b"return 4\n", b"return 5\n")
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": changed})
    out = _zip_with(tmp_path, wheel, early=early)
    assert _raw(out, "pkg/mod.py") == _deflate(CONTENT, 6)


@pytest.mark.parametrize("early", [False, True])
def test_a_truncated_stream_is_not_copied(tmp_path: Path, early: bool) -> None:
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT})
    stream = _raw(wheel, "pkg/mod.py")
    _forge(wheel, "pkg/mod.py", stream[: len(stream) // 2] + b"\0" * (len(stream)
                                                                      - len(stream) // 2))
    out = _zip_with(tmp_path, wheel, early=early)
    assert _raw(out, "pkg/mod.py") == _deflate(CONTENT, 6)


def test_a_bomb_is_stopped_at_the_claimed_size(tmp_path: Path) -> None:
    (tmp_path / "zeros").write_bytes(b"\0" * 1000)
    (tmp_path / "content").write_bytes(CONTENT)
    bomb = _deflate(b"\0" * (64 << 20), 9)  # 64 MiB of zeros in ~64 KB
    assert not inflates_to_file(bomb, 1000, tmp_path / "zeros")
    stream = _deflate(CONTENT, 1)
    assert inflates_to_file(stream, len(CONTENT), tmp_path / "content")
    assert not inflates_to_file(stream + b"trailing", len(CONTENT), tmp_path / "content")
    assert not inflates_to_file(stream, len(CONTENT) + 1, tmp_path / "content")
    (tmp_path / "longer").write_bytes(CONTENT + b"x")
    assert not inflates_to_file(stream, len(CONTENT), tmp_path / "longer")


def test_an_early_digest_is_only_of_a_stream_that_holds_what_its_headers_claim() -> None:
    stream = _deflate(CONTENT, 1)

    def member(size: int = len(CONTENT), crc: int = zlib.crc32(CONTENT)) -> WheelMember:
        return WheelMember(offset=0, length=len(stream), size=size, crc=crc)

    assert member_digest(stream, member()) == hashlib.sha256(CONTENT).hexdigest()
    assert member_digest(stream + b"trailing", member()) is None
    assert member_digest(stream[:-8], member()) is None  # truncated
    assert member_digest(stream, member(size=len(CONTENT) + 1)) is None
    assert member_digest(stream, member(crc=zlib.crc32(CONTENT) ^ 1)) is None
    bomb = _deflate(b"\0" * (64 << 20), 9)  # stopped at the claimed 1000 bytes
    assert member_digest(bomb, WheelMember(offset=0, length=len(bomb), size=1000,
                                           crc=zlib.crc32(b"\0" * 1000))) is None
    assert member_digest(b"\xff" * 40, member()) is None  # not deflate at all


def test_early_verification_skips_small_members_and_is_recorded(tmp_path: Path) -> None:
    small = b"x = 1\n"
    path = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT,
                                                        "pkg/small.py": small})
    wheel = open_wheel(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert wheel is not None
    verify_members(wheel, smallest=len(small) + 1)
    assert wheel.verified == {"pkg/mod.py": hashlib.sha256(CONTENT).hexdigest()}
    assert wheel.added  # kept in the signed record with what the zip verifies later
    wheel.close()


def test_a_wheel_whose_bytes_do_not_hash_to_its_digest_is_not_opened(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT})
    assert open_wheel(wheel, "0" * 64) is None


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_stored_and_duplicated_members_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/stored.py", CONTENT)  # stored: nothing to copy
        archive.writestr(zipfile.ZipInfo("pkg/twice.py"), CONTENT, zipfile.ZIP_DEFLATED)
        archive.writestr(zipfile.ZipInfo("pkg/twice.py"), b"other", zipfile.ZIP_DEFLATED)
    wheel = open_wheel(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert wheel is not None and wheel.members == {}
    wheel.close()


def test_the_verification_is_recorded_signed_and_a_forged_record_is_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(root))
    from lambdalayer.common.cache import ensure_root

    ensure_root(root)
    wheel_path = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT})
    sha = hashlib.sha256(wheel_path.read_bytes()).hexdigest()
    record = root / "wheels" / sha[:2] / f"{sha}.verified"
    record.parent.mkdir(parents=True)
    _zip_with(tmp_path / "one", wheel_path, record=record)
    assert record.is_file()
    reopened = open_wheel(wheel_path, sha, record)
    assert reopened is not None and set(reopened.verified) == {"pkg/mod.py"}
    reopened.close()
    # The same record under another MAC (not made with the cache's secret) counts for nothing.
    _mac, _, body = record.read_bytes().partition(b"\n")
    record.write_bytes(b"0" * 64 + b"\n" + body)
    forged = open_wheel(wheel_path, sha, record)
    assert forged is not None and forged.verified == {}
    forged.close()


def test_level_zero_stores_even_with_streams(tmp_path: Path) -> None:
    wheel_path = _wheel(tmp_path / "pkg-1-py3-none-any.whl", {"pkg/mod.py": CONTENT})
    wheel = open_wheel(wheel_path, hashlib.sha256(wheel_path.read_bytes()).hexdigest())
    assert wheel is not None
    (tmp_path / "mod.py").write_bytes(CONTENT)
    ref = StreamRef(wheel=wheel, name="pkg/mod.py", member=wheel.members["pkg/mod.py"],
                    dist="pkg==1")
    write_zip([("pkg/mod.py", tmp_path / "mod.py")], tmp_path / "z.zip", level=0,
              streams={"pkg/mod.py": ref})
    wheel.close()
    with zipfile.ZipFile(tmp_path / "z.zip") as archive:
        assert archive.getinfo("pkg/mod.py").compress_type == zipfile.ZIP_STORED
    assert os.path.getsize(tmp_path / "z.zip") > len(CONTENT)
