"""numba builds for Lambda with a note naming the threading layers it cannot use there
(OpenMP: libgomp, TBB: libtbb; neither on Amazon Linux 2023), and `import numba` passes
the proof: numba falls back to its own workqueue layer (audit/optional_parts.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import find_python, require
from tests.helpers import run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_numba_builds_with_a_note_and_imports(tmp_path: Path) -> None:
    run = run_cli("build", "nb", "-p", "numba", "--runtime", "python3.12", "--arch", "x86_64",
                  "--out", str(tmp_path / "dist"), "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    (artifact,) = run.json()["artifacts"]
    notes = {f["path"].rsplit("/", 1)[-1].split(".")[0]: f for f in artifact["findings"]}
    assert set(notes) == {"omppool", "tbbpool"}, artifact["findings"]
    assert all(f["severity"] == "info" and f["load"] == "optional" for f in notes.values())
    assert "OpenMP threading layer" in notes["omppool"]["message"]
    assert "libgomp" in notes["omppool"]["message"]
    assert "TBB threading layer" in notes["tbbpool"]["message"]
    assert "libtbb.so.12" in notes["tbbpool"]["message"]
    require(find_python("3.12") is not None, "no CPython 3.12 here to import numba with")
    proof = artifact["import_test"]
    assert proof["status"] == "passed", proof
    mapped = proof["targets"][0]["mapped"]
    assert any("/numba/_dispatcher." in path for path in mapped)  # `import numba` ran
    assert not any("pool." in path for path in mapped)  # and loaded no threading layer
