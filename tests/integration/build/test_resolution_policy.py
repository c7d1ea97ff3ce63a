"""Which release `build` installs, from an index made by the test (issue 11, classes 1-2)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.integration.build.localindex import make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so

pytestmark = pytest.mark.network  # isolated sdist builds fetch setuptools from PyPI

SPEED = "int speed(void) { return 1; }\n"


def build(index: str, tmp_path: Path, *args: str) -> CliRun:
    env = {"UV_DEFAULT_INDEX": index, "UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    return run_cli("build", *args, "--runtime", "python3.12", "--arch", "x86_64",
                   "--out", str(tmp_path / "dist"), "--json", env=env)


def test_stale_wheel_tag_is_judged_by_file_name_and_elf(tmp_path: Path) -> None:
    files = tmp_path / "index"
    native = compile_so(tmp_path / "cc", "_native.so", SPEED)
    make_wheel(files, "ll-fixture-stale", "1.0",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-linux_x86_64",
               files={"ll_fixture_stale/__init__.py": b"",
                      "ll_fixture_stale/_native.cpython-312-x86_64-linux-gnu.so":
                          native.read_bytes()})
    with serve_index(files) as index:
        run = build(index, tmp_path, "stale", "-p", "ll-fixture-stale")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert any("WHEEL file says cp312-cp312-linux_x86_64" in w for w in doc["warnings"])
    [artifact] = doc["artifacts"]
    assert {f["code"] for f in artifact["findings"]} == {"wheel-tag-stale"}
    with zipfile.ZipFile(artifact["path"]) as archive:
        names = archive.namelist()
    assert ("python/lib/python3.12/site-packages/ll_fixture_stale/"
            "_native.cpython-312-x86_64-linux-gnu.so") in names


def test_stale_wheel_tag_does_not_hide_a_wrong_machine(tmp_path: Path) -> None:
    from tests.unit.audit.fixtures import set_machine

    files = tmp_path / "index"
    native = compile_so(tmp_path / "cc", "_native.so", SPEED)
    set_machine(native, 183)  # EM_AARCH64: the ELF audit still decides
    make_wheel(files, "ll-fixture-stale", "1.0",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-linux_x86_64",
               files={"ll_fixture_stale/_native.cpython-312-x86_64-linux-gnu.so":
                          native.read_bytes()})
    with serve_index(files) as index:
        run = build(index, tmp_path, "stale", "-p", "ll-fixture-stale")
    assert_clean_failure(run, 4)
