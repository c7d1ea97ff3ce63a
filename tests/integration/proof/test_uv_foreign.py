"""The proof on a uv-managed CPython of another architecture: arm64 on x86_64, under qemu.

uv cannot download CPython here (no GitHub), so a python-build-standalone-shaped
arm64 CPython 3.11 is made from the bookworm root filesystem CI provisions
(tests/integration/proof/standalone.py) and named in a uv downloads list
(UV_PYTHON_DOWNLOADS_JSON_URL): `uv python install` then installs it for real,
and lambdalayer runs it with Debian's libc6-arm64-cross glibc as qemu's prefix.
No root filesystem is in LAMBDALAYER_INTERPRETERS while lambdalayer runs.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import run_cli
from tests.integration.proof.standalone import Standalone, build

pytestmark = pytest.mark.network

_CROSS_GLIBC = Path("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")


def _bookworm_arm64_root() -> Path | None:
    from lambdalayer.interpreters.launch import elf_machine

    listed = os.environ.get("LAMBDALAYER_TEST_INTERPRETERS", "")
    for directory in [Path(p) for p in listed.split(os.pathsep) if p]:
        for root in [directory, *(directory.iterdir() if directory.is_dir() else [])]:
            exe = root / "usr" / "bin" / "python3.11"
            if exe.is_file() and elf_machine(exe) == "aarch64":
                return root
    return None


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Standalone:
    """An arm64 CPython 3.11 install_only archive and the uv downloads list naming it."""
    require(platform.machine() == "x86_64", "emulating arm64 is tested from an x86_64 host")
    require(shutil.which("qemu-aarch64") is not None, "qemu-user (qemu-aarch64) not installed")
    require(shutil.which("patchelf") is not None, "patchelf not installed")
    require(_CROSS_GLIBC.exists(), "libc6-arm64-cross (aarch64 glibc for qemu) not installed")
    root = _bookworm_arm64_root()
    require(root is not None, "an arm64 CPython 3.11 root filesystem in "
            "$LAMBDALAYER_TEST_INTERPRETERS (`lambdalayer interpreters add --from-debian`)")
    assert root is not None
    return build(root, "3.11", "aarch64", tmp_path_factory.mktemp("standalone"))


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("UV_CACHE_DIR") or str(tmp_path_factory.mktemp("uv-cache"))


def _env(install_dir: Path, standalone: Standalone, uv_cache: str,
         **extra: str) -> dict[str, str]:
    return {"UV_PYTHON_INSTALL_DIR": str(install_dir),
            "UV_PYTHON_BIN_DIR": str(install_dir / "bin"),  # never the user's ~/.local/bin
            "UV_PYTHON_DOWNLOADS_JSON_URL": str(standalone.downloads_json),
            "UV_CACHE_DIR": uv_cache, "LAMBDALAYER_INTERPRETERS": "", "QEMU_LD_PREFIX": "",
            **extra}


@pytest.fixture(scope="session")
def installed(standalone: Standalone, uv_cache: str,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A uv install dir holding the arm64 CPython, installed by uv itself."""
    from lambdalayer.common.uvtool import uv_binary

    install_dir = tmp_path_factory.mktemp("uv-pythons")
    subprocess.run([uv_binary(), "python", "install", "--no-bin", standalone.key],
                   env={**os.environ, **_env(install_dir, standalone, uv_cache)},
                   check=True, capture_output=True)
    return install_dir


def test_interpreters_add_installs_it_with_uv(standalone: Standalone, uv_cache: str,
                                              tmp_path: Path) -> None:
    install_dir = tmp_path / "uv-pythons"
    env = _env(install_dir, standalone, uv_cache)
    run = run_cli("interpreters", "add", "--runtime", "python3.11", "--arch", "arm64", env=env)
    assert run.returncode == 0, run.stderr
    exe = install_dir / standalone.key / "bin" / "python3.11"
    assert (f"python3.11/arm64: {exe} (uv, CPython {standalone.version}, runs qemu-aarch64)"
            in run.stdout + run.stderr)
    assert not (install_dir / "bin").exists()  # no arm64 python3.11 put on PATH
    listing = run_cli("interpreters", "--runtime", "python3.11", "--arch", "arm64", env=env)
    assert f"qemu-aarch64  CPython {standalone.version}  {exe}" in listing.stdout


def test_interpreters_lists_the_uv_cpython_under_qemu(standalone: Standalone, installed: Path,
                                                      uv_cache: str) -> None:
    run = run_cli("interpreters", "--runtime", "python3.11", "--arch", "arm64", "--json",
                  env=_env(installed, standalone, uv_cache))
    assert run.returncode == 0, run.stderr
    [row] = run.json()["interpreters"]
    assert row["found"], row
    assert (row["source"], row["kind"], row["how"]) == ("uv", "qemu", "qemu-aarch64")
    assert row["version"] == standalone.version
    assert row["interpreter"] == str(installed / standalone.key / "bin" / "python3.11")


def test_build_proves_arm64_on_the_uv_cpython(standalone: Standalone, installed: Path,
                                              uv_cache: str, tmp_path: Path) -> None:
    run = run_cli("build", "oj", "-p", "orjson", "--runtime", "python3.11", "--arch", "arm64",
                  "--out", str(tmp_path), "--json", env=_env(installed, standalone, uv_cache))
    assert run.returncode == 0, run.stderr
    [target] = run.json()["artifacts"][0]["import_test"]["targets"]
    assert (target["status"], target["how"]) == ("passed", "qemu-aarch64"), target
    assert target["interpreter"].startswith(str(installed))
    assert target["python_version"] == standalone.version
    assert (f"python3.11/arm64: imported under qemu-aarch64, CPython {standalone.version}"
            in run.stderr)


def test_without_the_cross_glibc_the_reason_names_the_package(
        standalone: Standalone, installed: Path, uv_cache: str, tmp_path: Path) -> None:
    # An empty prefix stands for a host without libc6-arm64-cross.
    no_glibc = tmp_path / "no-glibc"
    no_glibc.mkdir()
    env = _env(installed, standalone, uv_cache, QEMU_LD_PREFIX=str(no_glibc))
    listing = run_cli("interpreters", "--runtime", "python3.11", "--arch", "arm64", "--json",
                      env=env)
    assert listing.returncode == 0, listing.stderr
    [row] = listing.json()["interpreters"]
    assert not row["found"]
    assert "apt-get install libc6-arm64-cross" in row["reason"], row
    assert str(installed) in row["reason"] and "\n" not in row["reason"]
    run = run_cli("build", "oj", "-p", "orjson", "--runtime", "python3.11", "--arch", "arm64",
                  "--out", str(tmp_path / "dist"), "--json", env=env)
    assert run.returncode == 0, run.stderr
    proof = run.json()["artifacts"][0]["import_test"]
    assert proof["status"] == "skipped"
    assert "libc6-arm64-cross" in proof["reason"]
    assert "Traceback" not in run.stderr
