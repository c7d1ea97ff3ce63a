"""The release workflow's build-and-install step (.github/workflows/release.yml), run on
every test run: sdist and wheel built from this tree, `twine check`, the wheel installed
in a fresh venv, and its `lambdalayer --version` (docs/development.md#releasing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.network, pytest.mark.slow]  # the build backend comes from PyPI


def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/hatch-vcs/", timeout=10):
            return True
    except OSError:
        return False


def test_sdist_and_wheel_build_check_and_install(tmp_path: Path) -> None:
    require(_index_reachable(), "PyPI is not reachable: hatchling and hatch-vcs come from it")
    out = tmp_path / "dist"
    # uv is one of lambdalayer's own dependencies: `uv build` needs nothing more.
    from uv import find_uv_bin

    built = subprocess.run([find_uv_bin(), "build", "--out-dir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [wheel] = out.glob("lambdalayer_cli-*-py3-none-any.whl")
    [sdist] = out.glob("lambdalayer_cli-*.tar.gz")
    version = wheel.name.split("-")[1]

    twine = shutil.which("twine", path=str(Path(sys.executable).parent))
    require(twine is not None, "twine is not installed (pip install -e '.[test]')")
    assert twine is not None
    checked = subprocess.run([twine, "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    shown = subprocess.run([str(fresh / "bin" / "lambdalayer"), "--version"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"lambdalayer, version {version}"
    # The recipes ride inside the wheel, so the README's first build finds its recipe.
    recipes = subprocess.run([str(fresh / "bin" / "lambdalayer"), "recipes"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert recipes.returncode == 0, recipes.stderr
    assert "pg8000" in recipes.stdout + recipes.stderr
