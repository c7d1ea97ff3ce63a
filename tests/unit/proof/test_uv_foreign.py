"""Which uv-managed CPythons of another architecture the finder picks (by uv's install names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.interpreters import find as interpreters

# The first bytes of a 64-bit little-endian ELF executable for aarch64 / x86_64 (e_machine).
_ELF = {"aarch64": b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00",
        "x86_64": b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00"}


def _install(root: Path, key: str, machine: str, minor: str = "3.12") -> Path:
    exe = root / key / "bin" / f"python{minor}"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(_ELF[machine])
    return exe


def test_newest_plain_cpython_of_that_machine_first(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path))
    newest = _install(tmp_path, "cpython-3.12.10-linux-aarch64-gnu", "aarch64")
    older = _install(tmp_path, "cpython-3.12.9-linux-aarch64-gnu", "aarch64")
    # Not what Lambda runs, or not this machine / minor version:
    _install(tmp_path, "cpython-3.12.11+freethreaded-linux-aarch64-gnu", "aarch64")
    _install(tmp_path, "cpython-3.12.11+debug-linux-aarch64-gnu", "aarch64")
    _install(tmp_path, "cpython-3.13.0rc1-linux-aarch64-gnu", "aarch64", "3.13")
    _install(tmp_path, "cpython-3.12.11-linux-aarch64-musl", "aarch64")
    _install(tmp_path, "cpython-3.12.12-linux-x86_64-gnu", "x86_64")
    _install(tmp_path, "pypy-3.12.11-linux-aarch64-gnu", "aarch64")
    _install(tmp_path, "cpython-3.12.13-linux-aarch64-gnu", "x86_64")  # a wrong binary
    (tmp_path / "cpython-3.12-linux-aarch64-gnu").symlink_to(newest.parent.parent)

    found = interpreters._uv_foreign_executables("3.12", "aarch64")
    assert found == [("3.12.10", newest), ("3.12.9", older)]
    assert interpreters._uv_foreign_executables("3.12", "x86_64") == [
        ("3.12.12", tmp_path / "cpython-3.12.12-linux-x86_64-gnu" / "bin" / "python3.12")]
    assert interpreters._uv_foreign_executables("3.11", "aarch64") == []


def test_without_a_cross_glibc_it_is_not_offered_and_the_reason_names_the_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = interpreters.host_machine()
    other = "aarch64" if host == "x86_64" else "x86_64"
    key = f"cpython-3.98.1-linux-{other}-gnu"
    exe = _install(tmp_path / "uv", key, other, "3.98")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    monkeypatch.setenv("QEMU_LD_PREFIX", str(tmp_path / "empty"))
    monkeypatch.setenv("LAMBDALAYER_INTERPRETERS", "")
    monkeypatch.setattr(interpreters, "can_emulate", lambda machine: True)
    assert interpreters.foreign_interpreter(exe, "3.98.1", other, None, "uv") is None
    reason = interpreters.missing_reason("3.98", other)
    package = interpreters.CROSS_GLIBC_PACKAGES[other]
    assert f"uv's CPython 3.98.1 for {other} ({exe})" in reason
    assert f"apt-get install {package}" in reason and "QEMU_LD_PREFIX" in reason
