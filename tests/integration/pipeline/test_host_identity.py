"""Same inputs, same bytes, whatever the host: two installs of lambdalayer at different
paths, running on different Python minors, build byte-identical layers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import find_python, require

pytestmark = [pytest.mark.network, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]

# Pinned layers and the CodeSha256 each had when built on Linux (see "about" there).
RECORDED = json.loads((REPO / "tests" / "data" / "host_identity.json").read_text("utf-8"))
LAYERS = [(layer["name"], layer["args"]) for layer in RECORDED["layers"]]
EXPECTED = {k: v for layer in RECORDED["layers"] for k, v in layer["code_sha256"].items()}


def _other_host_python(tmp: Path) -> Path:
    """A venv of another Python minor at another path, importing this checkout and the
    test venv's (pure-Python) dependencies through a .pth file: a second "host"."""
    other = "3.12" if sys.version_info[:2] != (3, 12) else "3.11"
    base = find_python(other)
    require(base is not None, f"CPython {other} is needed for a second host")
    assert base is not None
    venv = tmp / "elsewhere" / "deeper" / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True, check=True)
    (Path(site.stdout.strip()) / "lambdalayer-test.pth").write_text(
        f"{REPO}\n{sysconfig.get_path('purelib')}\n", encoding="utf-8")
    return python


def _build(python: Path | str, out: Path, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    shas = {}
    for name, args in LAYERS:
        completed = subprocess.run(
            [str(python), "-m", "lambdalayer", "build", name, *args, "--out", str(out),
             "--json"], cwd=cwd, env=env, capture_output=True, text=True, check=False,
            timeout=600)
        assert completed.returncode == 0, completed.stderr
        for artifact in json.loads(completed.stdout)["artifacts"]:
            shas[artifact["name"]] = artifact["code_sha256"]
    return shas


def test_two_hosts_build_identical_layers(tmp_path: Path) -> None:
    other = _other_host_python(tmp_path)
    env = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache"),
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(tmp_path / "uv"))}
    env.pop("UV_PYTHON", None)
    (tmp_path / "a").mkdir()
    here = _build(sys.executable, tmp_path / "a" / "dist", tmp_path / "a", env)
    there = _build(other, tmp_path / "b" / "dist", tmp_path, env)
    assert here == there
    assert here == EXPECTED, f"new values for tests/data/host_identity.json: {here}"
    # The console scripts are dropped and so are their RECORD rows.
    for zip_name in ("cd.zip", "cn.zip"):
        with zipfile.ZipFile(tmp_path / "a" / "dist" / zip_name) as archive:
            records = [archive.read(n).decode() for n in archive.namelist()
                       if n.endswith(".dist-info/RECORD")]
        assert records and not any("bin/" in r for r in records)


def test_moving_the_project_keeps_its_layers_up_to_date(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    env = {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    project = tmp_path / "checkout"
    project.mkdir()
    (project / "requirements.txt").write_text("chardet==5.2.0\n")
    args = ("build", "cd", "-r", "requirements.txt", "--runtime", "python3.12", "--out", "dist")
    first = run_cli(*args, cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    moved = tmp_path / "elsewhere" / "checkout"
    moved.parent.mkdir()
    project.rename(moved)
    mtime = (moved / "dist" / "cd.zip").stat().st_mtime_ns
    second = run_cli(*args, "--json", cwd=moved, env=env)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert (moved / "dist" / "cd.zip").stat().st_mtime_ns == mtime


def test_layers_match_the_values_recorded_on_linux(tmp_path: Path) -> None:
    """The cross-host check .github/workflows/hosts.yml runs on macOS and Windows."""
    env = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    assert _build(sys.executable, tmp_path / "dist", tmp_path, env) == EXPECTED
