"""`build` imports the layer by default: a failure writes no zip (exit 6) and says what to add."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.network


def _project(root: Path, files: dict[str, str]) -> Path:
    files = {"pyproject.toml": '[project]\nname = "mainpkg"\nversion = "1.0"\n'
                               '[build-system]\nrequires = ["hatchling"]\n'
                               'build-backend = "hatchling.build"\n'
                               '[tool.hatch.build.targets.wheel]\n'
                               'packages = ["src/mainpkg", "src/mainpkg_cli"]\n', **files}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


@pytest.fixture(autouse=True)
def _host_python() -> None:
    from lambdalayer.interpreters.find import find_interpreter

    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv)")


def test_an_undeclared_import_stops_the_build(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", {
        "src/mainpkg/__init__.py": "import numpy\n",
        "src/mainpkg_cli/__init__.py": "",
    })
    out = tmp_path / "dist"
    run = run_cli("build", "broken", "-p", str(project), "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(out))
    assert run.returncode == 6, run.stderr
    assert "ModuleNotFoundError: No module named 'numpy'" in run.stderr
    assert "mainpkg imports numpy, which is not in the layer: add it: -p numpy" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (out / "broken.zip").exists()
    # --no-proof skips the proof: the audit alone gates, and the zip is written.
    skipped = run_cli("build", "broken", "-p", str(project), "--runtime", "python3.12",
                      "--arch", "x86_64", "--out", str(out), "--no-proof", "--json")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.json()["artifacts"][0]["import_test"]["status"] == "skipped"
    assert (out / "broken.zip").exists()


def test_a_secondary_module_needing_an_extra_is_a_warning(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", {
        "src/mainpkg/__init__.py": "VALUE = 1\n",
        "src/mainpkg_cli/__init__.py": "import yaml  # the [cli] extra\n",
    })
    run = run_cli("build", "ok", "-p", str(project), "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(tmp_path / "dist"), "--json")
    assert run.returncode == 0, run.stderr
    document = run.json()
    assert document["artifacts"][0]["import_test"]["status"] == "passed"
    [warning] = [w for w in document["warnings"] if "mainpkg_cli" in w]
    assert "No module named 'yaml'" in warning and "optional extra" in warning


def test_config_proof_false_turns_the_proof_off(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", {
        "src/mainpkg/__init__.py": "import numpy\n",
        "src/mainpkg_cli/__init__.py": "",
    })
    (tmp_path / "lambdalayer.toml").write_text(
        f'[layers.broken]\npackages = ["{project}"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\nproof = false\n', "utf-8")
    run = run_cli("build", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.json()["artifacts"][0]["import_test"]["status"] == "skipped"


def test_no_proof_flag_skips_the_proof(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", {"src/mainpkg/__init__.py": "import numpy\n",
                                           "src/mainpkg_cli/__init__.py": ""})
    run = run_cli("build", "broken", "-p", str(project), "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(tmp_path / "dist"), "--no-proof", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["artifacts"][0]["import_test"]["status"] == "skipped"


def test_no_proof_and_a_test_report_do_not_go_together(tmp_path: Path) -> None:
    run = run_cli("build", "x", "-p", "six", "--no-proof", "--test-report",
                  "--out", str(tmp_path))
    assert_clean_failure(run, 2)
    assert "--test-report" in run.stderr
