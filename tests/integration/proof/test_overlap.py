"""A caller that works while the proof runs (pipeline/stages.py) gets the verdict before
the bytecode helper ends: what the import compiled is kept in the cache only when the
caller closes the run's `Overlap`, which also removes the staged folders the helper ran
in. Hand-made layer, this machine's CPython 3.12, no network.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from lambdalayer.proof.runner import Overlap, run_proof
from lambdalayer.targets.target import Target
from tests.conftest import require

pytestmark = pytest.mark.slow


def _kept(cache: Path) -> list[Path]:
    return list((cache / "proof-bytecode").rglob("*.pyc"))


@pytest.mark.parametrize("beside", [False, True])
def test_the_helper_ends_and_the_staged_folders_go_when_the_caller_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, beside: bool) -> None:
    """`beside`: a first proof on a spare core, its helper compiling the layer beside
    the import (asked to stop as the import ends, awaited on close too)."""
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    layer = tmp_path / "layer"
    (layer / "python" / "llmod").mkdir(parents=True)
    (layer / "python" / "llmod" / "__init__.py").write_text("VALUE = [n * 2 for n in range(9)]\n")
    cache, scratch = tmp_path / "cache", tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    target = Target.parse("python3.12", "x86_64")
    overlap = Overlap()
    report = run_proof(layer, [target], imports=["llmod"], bytecode_scope="llmod",
                       fallback_check=False, overlap=overlap, precompile=beside)
    assert [run.status for run in report.runs] == ["passed"]
    assert overlap.started.is_set()  # set as the import's box was launched
    # The verdict is in, and the helper's staged folders are still there for it.
    assert [p.name for p in scratch.iterdir() if "-test-" in p.name]
    overlap.close()
    assert _kept(cache)  # what the import compiled (and the runner script), kept
    assert list(scratch.iterdir()) == []
    assert not list(cache.rglob("*.tmp"))
    assert subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True).stdout == b""
    # Without an Overlap, as `lambdalayer test` runs it: all of it before the verdict.
    again = run_proof(layer, [target], imports=["llmod"], bytecode_scope="llmod",
                      fallback_check=False)
    assert [run.status for run in again.runs] == ["passed"]
    assert list(scratch.iterdir()) == []
