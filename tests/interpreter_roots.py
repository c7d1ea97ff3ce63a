"""The foreign proving interpreters CI provisions (.ci/run) into $LAMBDALAYER_TEST_INTERPRETERS.

Tests point the CLI at them with LAMBDALAYER_INTERPRETERS; without them those tests
skip here and fail in CI (tests.conftest.require).
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from tests.conftest import require

ROOTS = os.environ.get("LAMBDALAYER_TEST_INTERPRETERS", "")


def has_root(version: str, machine: str) -> bool:
    """A root filesystem with CPython `version` for ELF `machine` among ROOTS."""
    from lambdalayer.interpreters.launch import elf_machine

    for directory in [Path(p) for p in ROOTS.split(os.pathsep) if p]:
        for root in [directory, *(directory.iterdir() if directory.is_dir() else [])]:
            exe = root / "usr" / "bin" / f"python{version}"
            if exe.is_file() and elf_machine(exe) == machine:
                return True
    return False


def require_arm64_roots() -> None:
    """qemu-user and the arm64 CPython 3.11 and 3.13 roots, on an x86_64 host."""
    require(platform.machine() == "x86_64", "emulating arm64 is tested from an x86_64 host")
    require(shutil.which("qemu-aarch64") is not None, "qemu-user (qemu-aarch64) not installed")
    require(has_root("3.11", "aarch64") and has_root("3.13", "aarch64"),
            "arm64 CPython 3.11 and 3.13 root filesystems in $LAMBDALAYER_TEST_INTERPRETERS "
            "(`lambdalayer interpreters add --from-debian`)")
