"""`lambdalayer build --compile` through the real CLI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli, without_interpreters

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _build(out: Path, *extra: str) -> dict[str, object]:
    run = run_cli("build", "pg8000", "--runtime", "python3.11", "--runtime", "python3.12",
                  "--json", "--out", str(out), *extra)
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    return artifact  # type: ignore[no-any-return]


def test_compiled_layer_is_reproducible_and_imports(tmp_path: Path) -> None:
    require(find_interpreter("3.11") is not None and find_interpreter("3.12") is not None,
            "CPython 3.11 and 3.12 are needed (pyenv install 3.11 3.12)")
    plain = _build(tmp_path / "plain")
    first = _build(tmp_path / "one", "--compile")
    second = _build(tmp_path / "two", "--compile")
    assert first["sha256"] == second["sha256"]  # same bytes from a different directory
    assert first["sha256"] != plain["sha256"]
    compiled = first["compiled"]
    assert isinstance(compiled, dict)
    assert [r["runtime"] for r in compiled["runtimes"]] == ["python3.11", "python3.12"]
    assert first["unzipped_size"] == plain["unzipped_size"] + compiled["size"]  # type: ignore[operator]
    with zipfile.ZipFile(tmp_path / "one" / "pg8000.zip") as archive:
        names = set(archive.namelist())
    assert {"python/pg8000/__pycache__/core.cpython-311.pyc",
            "python/pg8000/__pycache__/core.cpython-312.pyc"} <= names

    tested = run_cli("test", str(tmp_path / "one" / "pg8000.zip"), "--arch", "x86_64",
                     "--json")
    assert tested.returncode == 0, tested.stderr

    # --compile is a build input: switching it rebuilds instead of reporting up to date.
    again = _build(tmp_path / "plain", "--compile")
    assert again["up_to_date"] is False and again["sha256"] == first["sha256"]


def test_compile_refuses_without_the_interpreter(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    run = run_cli("build", "pg8000", "--runtime", "python3.14", "--compile", "--out",
                  str(out), env=without_interpreters(tmp_path))
    assert_clean_failure(run, 2)
    assert "python3.14" in run.stderr and "uv python install 3.14" in run.stderr
    assert not out.exists() or not list(out.iterdir())
