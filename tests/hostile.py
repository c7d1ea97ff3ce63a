"""Crafted hostile inputs, built byte by byte (small on disk, expensive if parsed naively)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path


def elf_with_huge_strings(*, strtab_size: int = 16 << 20, needed: int = 40) -> bytes:
    """A 64-bit x86_64 ELF shared object whose .dynstr is one `strtab_size`-byte string and
    whose .dynamic has `needed` DT_NEEDED entries all pointing at offset 0 of it."""
    header_size, shentsize = 64, 64
    dynstr = b"A" * (strtab_size - 1) + b"\0"
    dynamic = b"".join(struct.pack("<qQ", 1, 0) for _ in range(needed)) + struct.pack(
        "<qQ", 0, 0)
    dynstr_offset = header_size
    dynamic_offset = dynstr_offset + len(dynstr)
    shoff = dynamic_offset + len(dynamic)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, header_size, 0, 0,
                                 shentsize, 3, 0)

    def section(sh_type: int, offset: int, size: int, link: int, entsize: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", 0, sh_type, 0, 0, offset, size, link, 0, 1, entsize)

    sections = (bytes(shentsize) + section(3, dynstr_offset, len(dynstr), 0, 0)
                + section(6, dynamic_offset, len(dynamic), 1, 16))
    return header + dynstr + dynamic + sections


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def elf_with_shared_version_chain(*, needs: int = 1024, auxiliaries: int = 256,
                                  string_size: int = 4096) -> bytes:
    """A 64-bit x86_64 ELF shared object whose .gnu.version_r holds `needs` version-need
    entries that all point at one chain of `auxiliaries` auxiliary entries, each naming
    the same `string_size`-byte string: a few KB zipped, needs x auxiliaries strings when
    every loop is capped only on its own."""
    header_size, shentsize = 64, 64
    dynstr = b"\0" + b"G" * (string_size - 1) + b"\0"  # offset 0: "", offset 1: the string
    dynamic = struct.pack("<qQ", 0, 0)
    chain_start = needs * 16
    verneed = b"".join(
        # vn_version, vn_cnt, vn_file, vn_aux (relative to this entry), vn_next
        struct.pack("<HHIII", 1, auxiliaries, 1, chain_start - index * 16, 16)
        for index in range(needs))
    verneed += b"".join(
        # vna_hash, vna_flags, vna_other, vna_name, vna_next
        struct.pack("<IHHII", 0, 0, 2, 1, 16 if index < auxiliaries - 1 else 0)
        for index in range(auxiliaries))
    dynstr_offset = header_size
    dynamic_offset = dynstr_offset + len(dynstr)
    verneed_offset = dynamic_offset + len(dynamic)
    shoff = verneed_offset + len(verneed)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, header_size, 0, 0,
                                 shentsize, 4, 0)

    def section(sh_type: int, offset: int, size: int, link: int, info: int,
                entsize: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", 0, sh_type, 0, 0, offset, size, link, info, 1,
                           entsize)

    sections = (bytes(shentsize) + section(3, dynstr_offset, len(dynstr), 0, 0, 0)
                + section(6, dynamic_offset, len(dynamic), 1, 0, 16)
                + section(0x6FFFFFFE, verneed_offset, len(verneed), 1, needs, 0))
    return header + dynstr + dynamic + verneed + sections


def zip_with_huge_record(path: Path, *, rows: int = 16_000_000) -> Path:
    """A layer zip whose one dist-info RECORD lists `rows` rows naming the same one-letter
    path (4 bytes a row: 64 MB of RECORD in a zip of a few hundred KB at the default)."""
    info = "python/evil-1.0.dist-info"
    return zip_of(path, {
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": b"a,,\n" * rows,
        "python/a": b"",
    })
