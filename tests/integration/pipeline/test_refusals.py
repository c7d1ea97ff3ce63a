"""Refusals fit a screen and give advice from data (common/alternatives.toml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli
from tests.integration.pipeline.test_resolution_policy import build
from tests.package_index import make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so, stub_library

pytestmark = pytest.mark.network


def test_opencv_like_refusal_is_grouped_with_headless_advice(tmp_path: Path) -> None:
    libgl = stub_library(tmp_path / "cc", "libGL.so.1")
    files = {"cv2/__init__.py": b""}
    for i in range(12):
        so = compile_so(tmp_path / "cc", f"m{i}.so", args=(str(libgl),))
        files[f"cv2/m{i}.cpython-312-x86_64-linux-gnu.so"] = so.read_bytes()
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "opencv-python", "4.10.0.84",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-manylinux_2_17_x86_64", files=files)
    with serve_index(index_dir) as index:
        run = build(index, tmp_path, "cv", "-p", "opencv-python")
    assert_clean_failure(run, 4)
    lines = run.stderr.strip().splitlines()
    assert len(lines) <= 20, run.stderr
    assert "missing-library libGL.so.1: not on Amazon Linux 2023; 12 files in opencv-python" \
        in run.stderr
    assert "opencv-python-headless" in run.stderr
    assert "manylinux wheel" not in run.stderr  # it is one already
    doc = run.json()
    assert len(doc["error"]["findings"]) == 12
    assert {f["code"] for f in doc["error"]["findings"]} == {"missing-library"}


def test_pure_package_that_loads_a_system_library_at_import(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "weasyprint", "63.0", file_tag="py3-none-any",
               wheel_tag="py3-none-any", files={"weasyprint/__init__.py": b""})
    with serve_index(index_dir) as index:
        run = build(index, tmp_path, "pdf", "-p", "weasyprint")
    assert_clean_failure(run, 4)
    assert "needs-system-library libpango-1.0.so.0" in run.stderr
    assert "container-image function" in run.stderr


def test_opencv_refusal_names_the_libraries_once_and_advises_once(tmp_path: Path) -> None:
    """opencv-python's GUI libraries (libGL and X11) are all missing on Lambda: one line
    names them, one line advises the headless wheel; research ids stay in --json."""
    libraries = ["libGL.so.1", "libX11.so.6", "libXext.so.6", "libSM.so.6", "libICE.so.6"]
    stubs = [str(stub_library(tmp_path / "cc", name)) for name in libraries]
    files = {"cv2/__init__.py": b""}
    for i in range(6):
        so = compile_so(tmp_path / "cc", f"m{i}.so", args=tuple(stubs))
        files[f"cv2/m{i}.cpython-312-x86_64-linux-gnu.so"] = so.read_bytes()
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "opencv-python", "4.10.0.84",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-manylinux_2_17_x86_64", files=files)
    with serve_index(index_dir) as index:
        run = build(index, tmp_path, "cv", "-p", "opencv-python")
    assert_clean_failure(run, 4)
    refusal = run.stderr[run.stderr.index("error:"):].strip().splitlines()
    assert len(refusal) <= 10, run.stderr
    assert sum("opencv-python-headless" in line for line in refusal) == 1, run.stderr
    assert ("missing-library " + ", ".join(sorted(libraries)) + ": not on Amazon Linux 2023"
            in run.stderr), run.stderr
    assert "seen absent" not in run.stderr and "S3" not in run.stderr
    assert any(f.get("evidence", "").startswith("seen absent")
               for f in run.json()["error"]["findings"])


def test_an_audit_refusal_wins_over_the_proof_running_beside_it(tmp_path: Path) -> None:
    """The proof starts before the audit ends (pipeline/stages._stage_all). A layer the
    audit refuses, whose import also fails (slowly): the audit's refusal is the error
    (exit 4), and the proof was awaited: no process and no scratch folder outlives the
    build."""
    libgl = stub_library(tmp_path / "cc", "libGL.so.1")
    so = compile_so(tmp_path / "cc", "m.so", args=(str(libgl),))
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "ll-refused", "1.0", file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-manylinux_2_17_x86_64",
               files={"ll_refused/__init__.py": b"import time\ntime.sleep(1)\n"
                                                b"raise ImportError('ll-refused fails')\n",
                      "ll_refused/m.cpython-312-x86_64-linux-gnu.so": so.read_bytes()})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with serve_index(index_dir) as index:
        run = run_cli("build", "refused", "-p", "ll-refused", "--runtime", "python3.12",
                      "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                      env={"UV_DEFAULT_INDEX": index, "UV_CACHE_DIR": str(tmp_path / "uv"),
                           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache"),
                           "TMPDIR": str(scratch)})
    assert_clean_failure(run, 4)
    assert "missing-library libGL.so.1" in run.stderr
    assert "does not import" not in run.stderr
    assert "proving refused" in run.stderr  # it ran beside the audit, and ended
    assert not (tmp_path / "dist").exists()  # untouched: the zip begins after the audit
    assert [p.name for p in scratch.iterdir()] == []
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).stdout == b""
