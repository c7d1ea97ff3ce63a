"""The proof's script lists the layer's ELF files the interpreter mapped (in_target._mapped),
read from /proc/self/maps: what the loader really loaded, dlopen included."""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path

import pytest

from lambdalayer.proof import in_target
from tests.unit.audit.fixtures import compile_so, place

pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").exists(),
                                reason="/proc/self/maps is Linux's")


def test_mapped_lists_the_layers_elf_files_relative_to_its_root(tmp_path: Path) -> None:
    layer = tmp_path / "opt"
    library = place(layer, "python/pkg/vendor/libhelper.so.1",
                    compile_so(tmp_path / "cc", "libhelper.so.1"))
    outside = compile_so(tmp_path / "cc", "liboutside.so")
    data = place(layer, "python/pkg/table.bin", b"not an ELF file" * 300)
    ctypes.CDLL(str(library))
    ctypes.CDLL(str(outside))
    with data.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ):
        found = in_target._mapped([str(layer.resolve())])
    assert found == ["python/pkg/vendor/libhelper.so.1"]


def test_a_root_reached_through_a_link_is_matched_by_its_real_path(tmp_path: Path) -> None:
    real = tmp_path.resolve() / "real"
    library = place(real, "python/_ext.so", compile_so(tmp_path / "cc", "libext.so"))
    link = tmp_path / "opt"
    link.symlink_to(real, target_is_directory=True)
    ctypes.CDLL(str(link / "python" / "_ext.so"))  # the kernel names the real file
    assert library.exists()
    assert in_target._mapped([str(link)]) == []
    assert in_target._mapped([str(link), str(real)]) == ["python/_ext.so"]
