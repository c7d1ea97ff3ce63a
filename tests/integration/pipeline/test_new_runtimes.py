"""A runtime Lambda offers builds the day it is in the table (docs/runtimes.md): python3.15."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import find_python
from tests.helpers import run_cli


@pytest.mark.network
def test_python315_builds_and_says_honestly_whether_it_was_imported(tmp_path: Path) -> None:
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.15",
                  "--out", str(tmp_path / "dist"))
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "dist" / "x.json").read_text())
    assert manifest["runtimes"] == ["python3.15"]
    output = run.stdout + run.stderr
    assert "Unknown runtime" not in output and "does not know it yet" not in output
    if find_python("3.15") is None:
        assert "not proven: no CPython 3.15" in output
