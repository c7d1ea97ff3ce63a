"""The pure readers: classification by content and ELF parsing."""

from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalayer.audit.elf import (
    ElfError,
    ElfOverBudget,
    Kind,
    classify,
    classify_head,
    read_elf,
    read_elf_pyelftools,
    read_elf_stream,
)
from lambdalayer.common.budget import PER_RUN, Budget, Limits
from tests.hostile import elf_with_shared_version_chain
from tests.unit.audit.fixtures import (
    EM_AARCH64,
    NEEDS_GLIBC_2_27,
    NEEDS_GLIBCXX_3_4_30,
    compile_so,
    set_machine,
    stub_library,
)


def test_compiled_shared_object_is_parsed(tmp_path: Path) -> None:
    libfoo = stub_library(tmp_path, "libfoo.so.1")
    so = compile_so(tmp_path, "mod.so", NEEDS_GLIBC_2_27,
                    args=(str(libfoo), "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"))
    assert classify(so).kind is Kind.ELF
    info = read_elf(so)
    assert (info.bits, info.elf_type) == (64, "ET_DYN")
    assert "libfoo.so.1" in info.needed and "libc.so.6" in info.needed
    assert info.runpath == ("$ORIGIN/../lib",) and info.rpath == ()
    assert ("libc.so.6", "GLIBC_2.27") in info.versions_from("GLIBC_")


def test_fast_reader_agrees_with_pyelftools(tmp_path: Path) -> None:
    libfoo = stub_library(tmp_path, "libfoo.so.1")
    variants = [
        compile_so(tmp_path, "a.so", NEEDS_GLIBC_2_27, soname="liba.so.1",
                   args=(str(libfoo), "-Wl,-rpath,$ORIGIN:/opt/lib", "-Wl,--disable-new-dtags")),
        compile_so(tmp_path, "b.so", NEEDS_GLIBCXX_3_4_30, args=("-lstdc++", "-lm")),
        libfoo,
    ]
    for path in variants:
        with path.open("rb") as handle:
            assert read_elf(path) == read_elf_pyelftools(handle), path
    assert read_elf(variants[0]).rpath == ("$ORIGIN", "/opt/lib")
    assert read_elf(variants[0]).soname == "liba.so.1"


def test_patched_machine_is_reported(tmp_path: Path) -> None:
    so = compile_so(tmp_path, "mod.so")
    set_machine(so, EM_AARCH64)
    assert read_elf(so).machine == "aarch64"


def test_macho_thin_fat_pe_and_lookalikes() -> None:
    thin = b"\xcf\xfa\xed\xfe" + struct.pack("<i", 0x0100000C) + bytes(56)
    assert classify_head(thin).machines == ("arm64",)
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + struct.pack(">iiIII", 0x01000007, 3,
                                                                     0, 0, 0) \
        + struct.pack(">iiIII", 0x0100000C, 0, 0, 0, 0)
    fat_kind = classify_head(fat + bytes(64))
    assert fat_kind.kind is Kind.MACHO and fat_kind.fat
    assert fat_kind.machines == ("x86_64", "arm64")
    java_class = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(56)  # version 52: not Mach-O
    assert classify_head(java_class).kind is Kind.OTHER
    pe = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"PE\0\0"
                   + struct.pack("<H", 0x8664) + bytes(32))
    assert classify_head(bytes(pe)).kind is Kind.PE
    assert classify_head(b"MZ is how this text file starts" + bytes(40)).kind is Kind.OTHER
    assert classify_head(b"").kind is Kind.OTHER


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_after_elf_magic_raise_only_elf_error(tail: bytes) -> None:
    with contextlib.suppress(ElfError):
        read_elf_stream(io.BytesIO(b"\x7fELF" + tail))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_real_elf_raises_only_elf_error(tmp_path_factory, data) -> None:  # type: ignore[no-untyped-def]
    base = _small_so(tmp_path_factory)
    blob = bytearray(base)
    for _ in range(data.draw(st.integers(1, 12))):
        offset = data.draw(st.integers(0, len(blob) - 1))
        blob[offset] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(16, len(blob)))
    with contextlib.suppress(ElfError):
        read_elf_stream(io.BytesIO(bytes(blob[:cut])))
    with contextlib.suppress(ElfError):
        read_elf_pyelftools(io.BytesIO(bytes(blob[:cut])))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_classify_never_raises(head: bytes) -> None:
    classify_head(head, io.BytesIO(head))


_CACHE: dict[str, bytes] = {}


def _small_so(factory) -> bytes:  # type: ignore[no-untyped-def]
    if "so" not in _CACHE:
        _CACHE["so"] = compile_so(factory.mktemp("elf"), "m.so", NEEDS_GLIBC_2_27).read_bytes()
    return _CACHE["so"]


def test_both_readers_refuse_an_overlong_dynamic_string(tmp_path: Path) -> None:
    # A 5000-byte soname: past the cap on every string a reader keeps (4096 bytes), which
    # bounds what a hostile file can make the audit hold and print.
    so = compile_so(tmp_path, "long.so", soname="lib" + "x" * 5000 + ".so")
    with contextlib.suppress(ElfError):
        read_elf(so)
        raise AssertionError("the fast reader kept a 5000-byte string")
    with so.open("rb") as handle, contextlib.suppress(ElfError):
        read_elf_pyelftools(handle)
        raise AssertionError("pyelftools' reader kept a 5000-byte string")


@pytest.mark.parametrize("reader", [read_elf_stream, read_elf_pyelftools])
def test_both_readers_stop_a_shared_version_chain_at_the_file_budget(reader) -> None:  # type: ignore[no-untyped-def]
    """Each loop is capped at 1,024; only the file's total stops 1,024 x 256 strings."""
    with pytest.raises(ElfOverBudget, match="per file"):
        reader(io.BytesIO(elf_with_shared_version_chain()))
    with pytest.raises(ElfOverBudget, match="table entries per file"):
        reader(io.BytesIO(elf_with_shared_version_chain(auxiliaries=1024, string_size=8)))


def test_files_draw_on_the_run_budget(tmp_path: Path) -> None:
    """Ten files each within their own budget exhaust a run's: per run, not per loop."""
    chain = elf_with_shared_version_chain(needs=40, auxiliaries=40, string_size=8)
    assert len(read_elf_stream(io.BytesIO(chain)).version_needs) == 40  # fine on its own
    run = Budget(Limits(entries=10_000, string_bytes=PER_RUN.string_bytes, seconds=60),
                 scope="run")
    outcomes = []
    for _ in range(10):
        try:
            read_elf_stream(io.BytesIO(chain), run.child())
            outcomes.append("read")
        except ElfOverBudget as exc:
            outcomes.append(str(exc))
    assert outcomes[:2] == ["read"] * 2
    assert outcomes[-1] == "more than 10,000 table entries per run"


def test_a_real_library_is_far_within_the_file_budget(tmp_path: Path) -> None:
    budget = Budget(PER_RUN, scope="run")
    file_budget = budget.child()
    read_elf(compile_so(tmp_path, "m.so", NEEDS_GLIBC_2_27), file_budget)
    assert 0 < file_budget.entries < file_budget.limits.entries // 50
