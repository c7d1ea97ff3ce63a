"""Pure readers for native files: what a file is, by its bytes, never by its name.

No policy lives here (that is `rules.py`): these functions say "ELF, 64-bit,
aarch64, needs GLIBC_2.27 from libc.so.6" and nothing about whether that is good.
`classify` reads a few bytes of every file; only ELF files are parsed further,
with pyelftools, reading just the dynamic section and the version-needs table.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lambdalayer.common.budget import PER_FILE, Budget, OverBudget

# Enough for every magic number below; PE needs a second read at e_lfanew.
HEAD_SIZE = 64


class Kind(enum.Enum):
    ELF = "elf"
    MACHO = "mach-o"
    PE = "pe"
    OTHER = "other"


class ElfError(ValueError):
    """The file starts like an ELF file but cannot be parsed (truncated, corrupt, hostile)."""


class ElfOverBudget(ElfError):
    """Parsing stopped at the per-file or per-run budget (common/budget.py)."""


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


def classify(path: Path | str) -> Classified:
    """Classify one file by content. OSError propagates (the caller decides what it means)."""
    # os.open/os.read: no buffered file object for the ~4,000 files of a big layer.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # no CRLF on Windows
    try:
        head = os.read(descriptor, HEAD_SIZE)
        if head[:2] != b"MZ" and head[:4] not in _MACHO_FAT:
            return classify_head(head)
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            return classify_head(head, handle)
    finally:
        os.close(descriptor)


_SHT_DYNAMIC = 6
_SHT_GNU_VERNEED = 0x6FFFFFFE
_DT_NULL, _DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 0, 1, 14, 15, 29
_E_MACHINE = {62: "x86_64", 183: "aarch64", 3: "i686", 40: "armv7l", 21: "ppc64le",
              22: "s390x", 243: "riscv64"}
_E_TYPE = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_MAX_SECTIONS = 1 << 16
_MAX_TABLE = 64 << 20  # .dynamic / .dynstr / verneed far beyond any real library
# Hostile input bounds (a crafted 16 KB zip must not cost gigabytes): a library
# name or path list is never longer than PATH_MAX, and no real library needs
# more than a few hundred libraries or versions. These cap one string and one
# loop; the totals over a file and a run are the Budget's (common/budget.py).
_MAX_STRING = 4096
_MAX_ENTRIES = 1024


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    if offset < 0 or size < 0 or size > _MAX_TABLE:
        raise ValueError(f"table at {offset} of {size} bytes is out of range")
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("file is truncated")
    return data


def _string(table: bytes, offset: int, budget: Budget) -> str:
    """The NUL-terminated string at `offset`, at most _MAX_STRING bytes (ValueError past)."""
    end = table.find(b"\0", offset, offset + _MAX_STRING + 1)
    if end < 0:
        raise ValueError(f"string at offset {offset} is not terminated within "
                         f"{_MAX_STRING} bytes")
    budget.spend(entries=1, string_bytes=end - offset)
    return table[offset:end].decode("utf-8", "surrogateescape")


def _read_fast(handle: BinaryIO, budget: Budget) -> ElfInfo | None:
    """ElfInfo from the raw tables; None when the file needs the reference reader."""
    handle.seek(0)
    ident = handle.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) \
            or ident[5] not in (1, 2):
        raise ValueError("bad ELF identification")
    bits = 64 if ident[4] == 2 else 32
    order = "<" if ident[5] == 1 else ">"
    e_type, e_machine = struct.unpack_from(order + "HH", ident, 16)
    if bits == 64:
        (shoff,) = struct.unpack_from(order + "Q", ident, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", ident, 0x3A)
    else:
        (shoff,) = struct.unpack_from(order + "I", ident, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", ident, 0x2E)
    if not shoff or shnum == 0 or shnum >= 0xFF00 or shentsize < (64 if bits == 64 else 40):
        return None  # no section table, or extended numbering: pyelftools
    table = _read_at(handle, shoff, shentsize * shnum)
    # (sh_type, sh_offset, sh_size, sh_link, sh_info) for each section
    layout = order + ("IIQQQQII" if bits == 64 else "IIIIIIII")
    sections = []
    for index in range(shnum):
        fields = struct.unpack_from(layout, table, index * shentsize)
        sh_type, sh_offset, sh_size, sh_link, sh_info = (
            fields[1], fields[4], fields[5], fields[6], fields[7])
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))
    dynamic = [s for s in sections if s[0] == _SHT_DYNAMIC]
    if not dynamic:
        return None  # e.g. a stripped-section-less object: the loader uses PT_DYNAMIC
    strings: dict[int, bytes] = {}

    def string_table(link: int) -> bytes:
        if link not in strings:
            if link >= len(sections):
                raise ValueError(f"string table index {link} out of range")
            strings[link] = _read_at(handle, sections[link][1], sections[link][2])
        return strings[link]

    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname: str | None = None
    _, offset, size, link, _ = dynamic[0]
    entry = struct.Struct(order + ("qQ" if bits == 64 else "iI"))
    data = _read_at(handle, offset, size)
    dynstr = string_table(link)
    seen: set[tuple[int, int]] = set()  # (tag, offset): a repeated entry adds nothing
    for position in range(0, len(data) - entry.size + 1, entry.size):
        tag, value = entry.unpack_from(data, position)
        budget.spend(entries=1)
        if tag == _DT_NULL:
            break
        if (tag, value) in seen:
            continue
        seen.add((tag, value))
        if len(seen) > _MAX_ENTRIES:
            raise ValueError(f"more than {_MAX_ENTRIES} dynamic entries")
        if tag == _DT_NEEDED:
            needed.append(_string(dynstr, value, budget))
        elif tag == _DT_RPATH:
            rpath.extend(p for p in _string(dynstr, value, budget).split(":") if p)
        elif tag == _DT_RUNPATH:
            runpath.extend(p for p in _string(dynstr, value, budget).split(":") if p)
        elif tag == _DT_SONAME:
            soname = _string(dynstr, value, budget)
    versions: list[tuple[str, tuple[str, ...]]] = []
    for sh_type, offset, size, link, count in sections:
        if sh_type != _SHT_GNU_VERNEED:
            continue
        data = _read_at(handle, offset, size)
        names = string_table(link)
        position = 0
        for _ in range(min(count, _MAX_ENTRIES)):
            _version, aux_count, file_name, aux, following = struct.unpack_from(
                order + "HHIII", data, position)
            budget.spend(entries=1)
            wanted = []
            aux_position = position + aux
            for _ in range(min(aux_count, _MAX_ENTRIES)):
                _hash, _flags, _other, name, aux_next = struct.unpack_from(
                    order + "IHHII", data, aux_position)
                budget.spend(entries=1)
                wanted.append(_string(names, name, budget))
                if not aux_next:
                    break
                aux_position += aux_next
            versions.append((_string(names, file_name, budget), tuple(wanted)))
            if not following:
                break
            position += following
    return ElfInfo(
        bits=bits,
        machine=_E_MACHINE.get(e_machine, f"e_machine {e_machine}"),
        elf_type=_E_TYPE.get(e_type, f"ET_{e_type}"),
        soname=soname,
        needed=tuple(needed),
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        version_needs=tuple(versions),
    )


def read_elf(path: Path, budget: Budget | None = None) -> ElfInfo:
    """Parse the loader-relevant parts of an ELF file; ElfError when it cannot be parsed.

    `budget` is this file's (usually a child of the run's); a fresh per-file one when
    None. ElfOverBudget when the file costs more than it allows.
    """
    with path.open("rb") as handle:
        return read_elf_stream(handle, budget)


def read_elf_stream(handle: BinaryIO, budget: Budget | None = None) -> ElfInfo:
    """`read_elf` on an open binary stream.

    The common case (section headers present) is read with `struct` straight from
    the section table, .dynamic, .gnu.version_r and .dynstr: pyelftools builds
    Python objects per field and cost 5x more than reading the files at all, and
    the audit must stay within 1.5x of one read of the layer (bench/audit_bench.py). Anything
    unusual (no section headers, extended numbering) goes to pyelftools, which the
    tests also use as the reference for the fast path.
    """
    budget = budget if budget is not None else Budget(PER_FILE, scope="file")
    try:
        fast = _read_fast(handle, budget)
    except OverBudget as exc:
        raise ElfOverBudget(str(exc)) from exc
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError,
            OSError) as exc:
        raise ElfError(f"{type(exc).__name__}: {exc}".strip()) from exc
    if fast is not None:
        return fast
    handle.seek(0)
    return read_elf_pyelftools(handle, budget)


def _capped(text: str, budget: Budget) -> str:
    """The fast reader's string limit and budget, so both readers refuse the same files."""
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > _MAX_STRING:
        raise ValueError(f"a dynamic string is longer than {_MAX_STRING} bytes")
    budget.spend(entries=1, string_bytes=size)
    return text


def read_elf_pyelftools(handle: BinaryIO, budget: Budget | None = None) -> ElfInfo:
    """The reference reader: everything through pyelftools (slower, handles more)."""
    # Imported here so that classifying a tree with no ELF file never pays for it.
    from elftools.elf.dynamic import DynamicSection, DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    budget = budget if budget is not None else Budget(PER_FILE, scope="file")
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
                    budget.spend(entries=1)
                    names = tuple(_capped(str(a.name), budget) for a in auxiliaries)
                    versions.append((_capped(str(verneed.name), budget), names))
                    if len(versions) > _MAX_ENTRIES or len(names) > _MAX_ENTRIES:
                        raise ValueError(f"more than {_MAX_ENTRIES} version needs")
        if dynamic is None:
            # Stripped of section headers (sstrip): the loader only needs PT_DYNAMIC.
            for segment in elf.iter_segments():
                if isinstance(segment, DynamicSegment):
                    dynamic = segment
                    break
        if dynamic is not None:
            for count, tag in enumerate(dynamic.iter_tags()):
                budget.spend(entries=1)
                if count > _MAX_ENTRIES:
                    raise ValueError(f"more than {_MAX_ENTRIES} dynamic entries")
                name = tag.entry.d_tag
                if name == "DT_NULL":
                    break
                attribute = _STRING_TAGS.get(name)
                if attribute is None:
                    continue
                # pyelftools resolves these tags' dynstr offsets into attributes.
                value = _capped(str(getattr(tag, attribute)), budget)
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
            machine=_ELF_MACHINES.get(str(header.e_machine), str(header.e_machine)),  # EM_* name
            elf_type=str(header.e_type),
            soname=soname,
            needed=tuple(needed),
            rpath=tuple(rpath),
            runpath=tuple(runpath),
            version_needs=tuple(versions),
        )
    except OverBudget as exc:
        raise ElfOverBudget(str(exc)) from exc
    except Exception as exc:
        # Hostile or truncated input: pyelftools raises ELFError, construct's
        # StreamError, struct.error, IndexError, UnicodeDecodeError, ... The
        # contract is "a finding, never a crash", so every parse failure becomes
        # one exception type that the rules turn into a `corrupt-elf` finding.
        raise ElfError(f"{type(exc).__name__}: {exc}".strip()) from exc
