"""`lambdalayer test` runs third-party code: it sees no secrets, and a hostile zip
cannot hang it."""

from __future__ import annotations

import platform
import stat
import zipfile
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

PROBE = '''
import os
VISIBLE = sorted(n for n in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN",
                             "LL_PRIVATE") if n in os.environ)
if VISIBLE:
    raise RuntimeError("the layer saw " + ",".join(VISIBLE))
if os.path.expanduser("~") == os.environ.get("LL_REAL_HOME"):
    raise RuntimeError("the layer saw the real home directory (~/.aws)")
'''


@pytest.fixture(autouse=True)
def _interpreter() -> None:
    require(platform.system() == "Linux" and find_interpreter("3.12") is not None,
            "a Linux host with CPython 3.12 (pyenv install 3.12)")


def _layer(tmp_path: Path) -> Path:
    layer = tmp_path / "layer"
    (layer / "python" / "envprobe").mkdir(parents=True)
    (layer / "python" / "envprobe" / "__init__.py").write_text(PROBE)
    return layer


SECRETS = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "AWS_SESSION_TOKEN": "FwoGZXIvYXdz",
           "GITHUB_TOKEN": "ghp_0123456789", "LL_PRIVATE": "x"}


def test_layer_code_gets_no_credentials_or_tokens(tmp_path: Path) -> None:
    env = {**SECRETS, "LL_REAL_HOME": str(Path.home())}
    run = run_cli("test", str(_layer(tmp_path)), "--runtime", "python3.12", "--json", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["status"] == "passed"


def test_pass_env_hands_over_exactly_the_named_variable(tmp_path: Path) -> None:
    run = run_cli("test", str(_layer(tmp_path)), "--runtime", "python3.12",
                  "--pass-env", "GITHUB_TOKEN", "--json", env=SECRETS)
    assert run.returncode == 6, run.stdout + run.stderr
    assert "the layer saw GITHUB_TOKEN" in run.stdout


def _link(archive: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, target)


def test_symlink_loops_in_a_zip_do_not_hang_test(tmp_path: Path) -> None:
    zip_path = tmp_path / "loops.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("python/ok.py", "VALUE = 1\n")
        for name in ("a", "b", "c"):
            _link(archive, f"python/{name}", ".")
    run = run_cli("test", str(zip_path), "--runtime", "python3.12", "--import", "ok",
                  "--json", timeout=60)
    assert run.returncode in (0, 6), run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    checked = run_cli("check", str(zip_path), "--runtime", "python3.12", "--arch", "x86_64",
                      "--json", timeout=60)
    assert "Traceback" not in checked.stderr
