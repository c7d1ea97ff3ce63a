"""Pure readers for native files: what a file is, by its bytes, never by its name.

No policy lives here (that is `rules.py`): these functions say "ELF, 64-bit,
aarch64, needs GLIBC_2.27 from libc.so.6" and nothing about whether that is good.
`classify` reads a few bytes of every file; only ELF files are parsed further,
with pyelftools, reading just the dynamic section and the version-needs table.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Enough for every magic number below; PE needs a second read at e_lfanew.
HEAD_SIZE = 64


class Kind(enum.Enum):
    ELF = "elf"
    MACHO = "mach-o"
    PE = "pe"
    OTHER = "other"


class ElfError(ValueError):
    """The file starts like an ELF file but cannot be parsed (truncated, corrupt, hostile)."""


# e_machine values (pyelftools' names) -> the wheel-tag / uname spelling.
_ELF_MACHINES = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "aarch64",
    "EM_386": "i686",
    "EM_ARM": "armv7l",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
}

_STRING_TAGS = {"DT_NEEDED": "needed", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath",
                "DT_SONAME": "soname"}

# Mach-O cputype values (mach/machine.h); 0x01000000 is CPU_ARCH_ABI64.
_MACHO_CPUS = {7: "i386", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64",
               0x0200000C: "arm64_32", 18: "ppc", 0x01000012: "ppc64"}
_MACHO_THIN = {b"\xfe\xed\xfa\xce": ">", b"\xfe\xed\xfa\xcf": ">",
               b"\xce\xfa\xed\xfe": "<", b"\xcf\xfa\xed\xfe": "<"}
_MACHO_FAT = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")
# A Java class file also starts with CAFEBABE; there the next word is the class
# version (>= 45), while a fat Mach-O holds a handful of architectures.
_MAX_FAT_ARCHS = 20

# IMAGE_FILE_MACHINE_* values of the PE COFF header.
_PE_MACHINES = {0x8664: "x86_64", 0x14C: "i386", 0xAA64: "arm64", 0x1C4: "armv7"}


@dataclass(frozen=True, kw_only=True)
class Classified:
    """What a file is. `machines` lists the architectures a Mach-O/PE file is built for."""

    kind: Kind
    machines: tuple[str, ...] = ()
    fat: bool = False


OTHER = Classified(kind=Kind.OTHER)


@dataclass(frozen=True, kw_only=True)
class ElfInfo:
    """The parts of an ELF file the dynamic loader cares about."""

    bits: int  # 32 or 64 (EI_CLASS)
    machine: str  # "x86_64", "aarch64", ... or pyelftools' EM_* name when unknown
    elf_type: str  # "ET_DYN", "ET_EXEC", "ET_REL", ...
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    # Version needs grouped by the library that must provide them:
    # (("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.14")), ("libstdc++.so.6", (...)))
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]

    def versions_from(self, prefix: str) -> list[tuple[str, str]]:
        """(library, version) for every needed version named like `prefix` + digits."""
        return [(lib, v) for lib, versions in self.version_needs for v in versions
                if v.startswith(prefix) and v[len(prefix):][:1].isdigit()]


def classify_head(head: bytes, handle: BinaryIO | None = None) -> Classified:
    """Classify a file from its first bytes; `handle` lets PE detection read the COFF header."""
    if head[:4] == b"\x7fELF":
        return Classified(kind=Kind.ELF)
    magic = head[:4]
    if magic in _MACHO_THIN and len(head) >= 8:
        (cpu,) = struct.unpack(_MACHO_THIN[magic] + "i", head[4:8])
        return Classified(kind=Kind.MACHO, machines=(_MACHO_CPUS.get(cpu, f"cpu {cpu}"),))
    if magic in _MACHO_FAT and len(head) >= 8:
        (count,) = struct.unpack(">I", head[4:8])
        if 0 < count <= _MAX_FAT_ARCHS:
            return Classified(kind=Kind.MACHO, machines=_fat_machines(head, handle, count),
                              fat=True)
    if head[:2] == b"MZ" and len(head) >= 0x40:
        return _classify_pe(head, handle)
    return OTHER


def _fat_machines(head: bytes, handle: BinaryIO | None, count: int) -> tuple[str, ...]:
    entry = 20 if head[:4] == _MACHO_FAT[0] else 32  # fat_arch vs fat_arch_64
    data = head
    if handle is not None and len(head) < 8 + count * entry:
        handle.seek(0)
        data = handle.read(8 + count * entry)
    machines = []
    for index in range(count):
        start = 8 + index * entry
        if len(data) < start + 4:
            break
        (cpu,) = struct.unpack(">i", data[start:start + 4])
        machines.append(_MACHO_CPUS.get(cpu, f"cpu {cpu}"))
    return tuple(machines)


def _classify_pe(head: bytes, handle: BinaryIO | None) -> Classified:
    # "MZ" alone is weak (a text file may start with it): require the PE signature.
    (offset,) = struct.unpack("<I", head[0x3C:0x40])
    if offset + 6 <= len(head):
        data = head[offset:offset + 6]
    elif handle is not None and offset < 1 << 20:
        handle.seek(offset)
        data = handle.read(6)
    else:
        return OTHER
    if len(data) < 6 or data[:4] != b"PE\0\0":
        return OTHER
    (machine,) = struct.unpack("<H", data[4:6])
    return Classified(kind=Kind.PE, machines=(_PE_MACHINES.get(machine, hex(machine)),))


def classify(path: Path) -> Classified:
    """Classify one file by content. OSError propagates (the caller decides what it means)."""
    with path.open("rb") as handle:
        return classify_head(handle.read(HEAD_SIZE), handle)


def read_elf(path: Path) -> ElfInfo:
    """Parse the loader-relevant parts of an ELF file; ElfError when it cannot be parsed."""
    with path.open("rb") as handle:
        return read_elf_stream(handle)


def read_elf_stream(handle: BinaryIO) -> ElfInfo:
    """`read_elf` on an open binary stream."""
    # Imported here so that classifying a tree with no ELF file never pays for it.
    from elftools.elf.dynamic import DynamicSection, DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    try:
        elf = ELFFile(handle)
        header = elf.header
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        soname: str | None = None
        versions: list[tuple[str, tuple[str, ...]]] = []
        dynamic: DynamicSection | DynamicSegment | None = None
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                dynamic = section
            elif isinstance(section, GNUVerNeedSection):
                for verneed, auxiliaries in section.iter_versions():
                    versions.append((str(verneed.name), tuple(str(a.name) for a in auxiliaries)))
        if dynamic is None:
            # Stripped of section headers (sstrip): the loader only needs PT_DYNAMIC.
            for segment in elf.iter_segments():
                if isinstance(segment, DynamicSegment):
                    dynamic = segment
                    break
        if dynamic is not None:
            for tag in dynamic.iter_tags():
                name = tag.entry.d_tag
                if name == "DT_NULL":
                    break
                attribute = _STRING_TAGS.get(name)
                if attribute is None:
                    continue
                # pyelftools resolves these tags' dynstr offsets into attributes.
                value = str(getattr(tag, attribute))
                if name == "DT_NEEDED":
                    needed.append(value)
                elif name == "DT_RPATH":
                    rpath.extend(p for p in value.split(":") if p)
                elif name == "DT_RUNPATH":
                    runpath.extend(p for p in value.split(":") if p)
                else:
                    soname = value
        return ElfInfo(
            bits=int(elf.elfclass),
            machine=_ELF_MACHINES.get(str(header.e_machine), str(header.e_machine)),
            elf_type=str(header.e_type),
            soname=soname,
            needed=tuple(needed),
            rpath=tuple(rpath),
            runpath=tuple(runpath),
            version_needs=tuple(versions),
        )
    except Exception as exc:
        # Hostile or truncated input: pyelftools raises ELFError, construct's
        # StreamError, struct.error, IndexError, UnicodeDecodeError, ... The
        # contract is "a finding, never a crash", so every parse failure becomes
        # one exception type that the rules turn into a `corrupt-elf` finding.
        raise ElfError(f"{type(exc).__name__}: {exc}".strip()) from exc
