"""The stage loop (pipeline/stages.py) runs the stages in the order its docstring and
docs/architecture.md give, and hands each stage its own settings, never the request.

Each stage is replaced by a stand-in that notes its name when called: what is tested is
the order of those events, which a real build shows only in its timings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.pipeline import stages
from lambdalayer.pipeline.auditing import Audited
from lambdalayer.pipeline.plan import TargetPlan
from lambdalayer.pipeline.request import BuildRequest
from lambdalayer.pipeline.resolving import LayerPlan
from lambdalayer.proof.result import skipped
from lambdalayer.reports.sizing import SizeReport
from lambdalayer.resolve.requirements import RequirementInputs
from lambdalayer.shrink.apply import ShrinkResult

# The audit runs beside the proof: its stand-in ends only once the proof began (a proof
# started after the audit would never let it end, and the audit notes that it waited in vain).
# The zip is begun once the audit passed (a refusal leaves dist/ untouched).
ORDER = ["resolve", "install", "shrink", "own code", "size", "proof", "audit",
         "zip begun", "audit again", "artifacts"]
HANG = 10.0  # only an audit waiting for a proof that never starts waits this long


class _Zips:
    """LayerZips' stand-in: notes when a layer's zip is begun."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def start(self, name: str, root: Path, site_dirs: object) -> None:
        self.events.append("zip begun")

    def close(self) -> None:
        pass


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []

    def stage(name: str, result: Any = None) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            given = [*args, *kwargs.values()]
            assert not any(isinstance(a, BuildRequest) for a in given), \
                f"{name} was given the whole request"
            log.append(name)
            return result(*args) if callable(result) else result
        return run

    monkeypatch.setattr(stages, "resolve_all", stage("resolve", lambda settings, targets, *_: [
        LayerPlan(name="demo", targets=targets, shared=True)]))
    monkeypatch.setattr(stages, "install", stage("install", ({}, {})))
    monkeypatch.setattr(stages, "shrink", stage("shrink", ShrinkResult(
        site_dirs={}, reductions=(), warnings=())))
    monkeypatch.setattr(stages, "add_own_code", stage("own code", {}))
    monkeypatch.setattr(stages, "measure_layer", stage("size", SizeReport(
        total=0, packages=(), largest_files=())))
    def audit(*args: Any) -> Audited:
        deadline = time.monotonic() + HANG
        while "proof" not in log and time.monotonic() < deadline:
            time.sleep(0.01)
        log.append("audit" if "proof" in log else "audit waited in vain for the proof")
        return Audited(findings=[], allow=frozenset())

    monkeypatch.setattr(stages, "audit", audit)
    monkeypatch.setattr(stages, "zip_beside_proof", lambda proving: True)
    monkeypatch.setattr(stages, "LayerZips", lambda *args: _Zips(log))
    monkeypatch.setattr(stages, "prove", stage("proof", skipped("stand-in")))
    monkeypatch.setattr(stages, "confirm_closure", stage("audit again", []))
    monkeypatch.setattr(stages, "write_artifacts", stage("artifacts", []))
    return log


def test_the_loop_runs_the_stages_in_the_documented_order(events: list[str],
                                                          tmp_path: Path) -> None:
    request = BuildRequest(name="demo", inputs=RequirementInputs(specs=("six",)),
                           out_dir=tmp_path / "dist")
    plan = TargetPlan(pairs=(("python3.12", "x86_64"),), explicit_runtimes=True, warnings=())
    result = stages.run_pipeline(request, plan, {}, "hash", work=tmp_path / "work")
    assert events == ORDER
    assert [name for name, _seconds in result.timings] == list(stages.STAGES)


def test_the_docstring_lists_the_stages_in_that_order() -> None:
    """The table a reader learns the order from names the functions the loop calls."""
    doc = stages.__doc__ or ""
    named = ["resolving.resolve_all", "layout.install", "layout.shrink",
             "layout.add_own_code", "layout.measure_layer", "proving.prove", "auditing.audit",
             "auditing.confirm_closure", "artifacts.write_artifacts"]
    positions = [doc.index(name) for name in named]
    assert positions == sorted(positions)
    for name in named:
        module, function = name.split(".")
        assert hasattr(__import__(f"lambdalayer.pipeline.{module}", fromlist=[function]),
                       function), name
