"""How foreign interpreters are started, and how they are found (no emulation run here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from lambdalayer.interpreters import find as interpreters
from lambdalayer.interpreters.launch import Launch, elf_machine, find_loader


def _fake_qemu(directory: Path, version: str) -> str:
    """A stand-in qemu-aarch64 that only answers --version (argv is not run here)."""
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / "qemu-aarch64"
    program.write_text(f"#!/bin/sh\necho 'qemu-aarch64 version {version} (Debian)'\n")
    program.chmod(0o755)
    return str(program)


def test_qemu_passes_the_layer_library_path_to_the_guest_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QEMU_CPU", raising=False)
    qemu = _fake_qemu(tmp_path, "7.2.22")
    launch = Launch(kind="qemu", program=qemu, root="/roots/trixie", machine="aarch64")
    argv = launch.argv("/roots/trixie/usr/bin/python3.13", ["-I", "-c", "pass"],
                       ["/tmp/x/opt/lib"])
    assert argv == [qemu, "-cpu", "neoverse-n1", "-L", "/roots/trixie",
                    "-E", "LD_LIBRARY_PATH=/tmp/x/opt/lib",
                    "/roots/trixie/usr/bin/python3.13", "-I", "-c", "pass"]
    assert launch.describe() == "qemu-aarch64"


def test_qemu_cpu_is_left_to_the_user_and_to_old_qemu(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Graviton2's core needs qemu 7.0; cheap pointer authentication (CPython 3.13 starts
    # 2.3x faster than with qemu's default) needs 6.0; a QEMU_CPU the user set is theirs.
    monkeypatch.delenv("QEMU_CPU", raising=False)

    def cpu(launch: Launch) -> str | None:
        argv = launch.argv("py", [], [])
        return argv[argv.index("-cpu") + 1] if "-cpu" in argv else None

    old = Launch(kind="qemu", program=_fake_qemu(tmp_path / "old", "5.2.0"), root="/r",
                 machine="aarch64")
    assert cpu(old) is None
    six = Launch(kind="qemu", program=_fake_qemu(tmp_path / "six", "6.0.0"), root="/r",
                 machine="aarch64")
    seven = Launch(kind="qemu", program=_fake_qemu(tmp_path / "seven", "7.0.0"), root="/r",
                   machine="aarch64")
    assert (cpu(six), cpu(seven)) == ("max,pauth-impdef=on", "neoverse-n1")
    new = Launch(kind="qemu", program=_fake_qemu(tmp_path / "new", "9.2.1"), root="/r",
                 machine="aarch64")
    assert cpu(new) == "neoverse-n1"
    monkeypatch.setenv("QEMU_CPU", "cortex-a72")
    # Said on the command line: the proof's environment keeps no host variable.
    argv = new.argv("py", [], [])
    assert argv[argv.index("-cpu") + 1] == "cortex-a72"
    assert old.argv("py", [], [])[1:3] == ["-cpu", "cortex-a72"]


def test_rootfs_loader_puts_the_layer_libraries_before_the_root_filesystem(
        tmp_path: Path) -> None:
    (tmp_path / "usr" / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "usr" / "lib64").mkdir()
    (tmp_path / "usr" / "lib64" / "ld-linux-x86-64.so.2").write_bytes(b"")
    loader = find_loader(tmp_path, "x86_64")
    assert loader == tmp_path / "usr" / "lib64" / "ld-linux-x86-64.so.2"
    launch = Launch(kind="rootfs-loader", program=str(loader), root=str(tmp_path),
                    machine="x86_64")
    argv = launch.argv("py", [], ["/layer/lib"])
    assert argv[:3] == [str(loader), "--inhibit-cache", "--library-path"]
    assert argv[3].split(":") == ["/layer/lib", str(tmp_path / "usr/lib/x86_64-linux-gnu"),
                                  str(tmp_path / "usr/lib")]


def test_elf_machine_reads_the_header(tmp_path: Path) -> None:
    assert elf_machine(Path(sys.executable).resolve()) in {"x86_64", "aarch64"}
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert elf_machine(tmp_path / "script") is None


def test_root_filesystems_are_found_by_their_machine(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    host = interpreters.host_machine()
    other = "aarch64" if host == "x86_64" else "x86_64"
    root = tmp_path / "roots" / "fake"
    (root / "usr" / "bin").mkdir(parents=True)
    # A copy of the host's own CPython stands for an interpreter of the host's machine.
    shutil.copy(Path(sys.executable).resolve(), root / "usr" / "bin" / "python3.99")
    monkeypatch.setenv("LAMBDALAYER_INTERPRETERS", str(tmp_path / "roots"))
    assert interpreters.root_filesystems() == [root]
    interpreters.find_for.cache_clear()
    try:
        # No loader in the fake root: it cannot be started, so it is not offered.
        assert interpreters.find_for("3.99", host) is None
        assert interpreters.find_for("3.99", other) is None
        monkeypatch.setenv("PATH", str(tmp_path))  # no qemu-user
        assert "install qemu-user" in interpreters.missing_reason("3.99", other)
    finally:
        interpreters.find_for.cache_clear()


# An entry as the kernel shows it for Debian's qemu-user-binfmt (aarch64).
_AARCH64_ENTRY = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def _elf(path: Path, machine: int, elf_type: int = 3) -> Path:
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + bytes([elf_type, 0, machine, 0])
                     + bytes(100))
    return path


def test_binfmt_entry_matches_like_the_kernel(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.interpreters.launch import binfmt_entry, can_emulate

    table = tmp_path / "binfmt_misc"
    table.mkdir()
    (table / "status").write_text("enabled\n")
    (table / "register").write_text("")
    (table / "qemu-aarch64").write_text(_AARCH64_ENTRY)
    (table / "qemu-riscv64").write_text(_AARCH64_ENTRY.replace("enabled", "disabled")
                                        .replace("b700", "f300"))
    monkeypatch.setenv("LAMBDALAYER_BINFMT_MISC", str(table))
    monkeypatch.setenv("PATH", str(tmp_path))  # no qemu-user on PATH
    arm_pie, arm_exec = _elf(tmp_path / "a", 183), _elf(tmp_path / "b", 183, elf_type=2)
    found = binfmt_entry(arm_pie)
    assert found is not None and found.interpreter.endswith("aarch64-binfmt-P")
    assert binfmt_entry(arm_exec) is not None  # the mask lets ET_EXEC through as well
    assert binfmt_entry(_elf(tmp_path / "c", 62)) is None  # x86_64: no entry
    assert binfmt_entry(_elf(tmp_path / "d", 243)) is None  # riscv64: entry disabled
    assert can_emulate("aarch64") and not can_emulate("x86_64")
    (table / "status").write_text("disabled\n")
    assert binfmt_entry(arm_pie) is None and not can_emulate("aarch64")


def test_binfmt_launch_runs_the_interpreter_itself_and_tells_qemu_by_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QEMU_CPU", raising=False)
    launch = Launch(kind="binfmt", program=_fake_qemu(tmp_path, "8.2.2"), root="/roots/t",
                    machine="aarch64")
    assert launch.argv("/roots/t/usr/bin/python3.13", ["-I"], ["/l"]) == [
        "/roots/t/usr/bin/python3.13", "-I"]
    assert launch.environment(["/l", "/m"]) == {
        "QEMU_LD_PREFIX": "/roots/t", "QEMU_SET_ENV": "LD_LIBRARY_PATH=/l:/m",
        "QEMU_CPU": "neoverse-n1"}
    assert launch.describe() == "binfmt qemu-aarch64"
    # A registration whose qemu lives elsewhere (a container's, the F flag): no version to
    # check, so no -cpu choice.
    elsewhere = Launch(kind="binfmt", program="/gone/qemu-aarch64-static", root="/r",
                       machine="aarch64")
    assert "QEMU_CPU" not in elsewhere.environment([])
    assert Launch(kind="qemu", program="q", root="/r").environment(["/l"]) == {}
