"""Several layers (one per architecture): each layer's proof runs while the next one is
laid out, and a refusal is still the first layer's first (pipeline/stages._stage_all).
Each layer's audit runs beside its proof, and its refusal wins over that proof's.

The stages themselves are replaced by stand-ins that record when they ran: what is
tested is the order and the overlap, which a real build shows only as time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lambdalayer.common.errors import AuditError, ProofFailed
from lambdalayer.pipeline import stages
from lambdalayer.pipeline.artifacts import StagedLayer
from lambdalayer.pipeline.auditing import Audited
from lambdalayer.proof.result import skipped


class _Plan:
    def __init__(self, name: str) -> None:
        self.name = name
        self.targets: list[Any] = []


def _layers(count: int, tmp_path: Path) -> list[StagedLayer]:
    return [StagedLayer(plan=_Plan(f"layer{n}"), root=tmp_path / f"layer-{n}")  # type: ignore[arg-type]
            for n in range(count)]


@dataclass
class StandIns:
    events: list[str]
    # "prepare NAME"/"prove NAME" -> error; "sleep NAME" -> s; "await NAME" -> an event
    # the proof of NAME waits for before it ends (up to HANG s, then it notes the miss).
    behaviour: dict[str, Any]


# Only a hang waits this long: a proof awaiting an event that can no longer come.
HANG = 30.0


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> StandIns:
    log: list[str] = []
    noted = threading.Condition()

    def note(text: str) -> None:
        with noted:
            log.append(text)
            noted.notify_all()

    behaviour: dict[str, Any] = {}

    def prepare(settings: Any, item: StagedLayer, *args: Any) -> None:
        note(f"prepare {item.plan.name}")
        failure = behaviour.get(f"prepare {item.plan.name}")
        if failure is not None:
            raise failure

    def prove(proving: Any, plan: _Plan, *args: Any, alone: bool = False,
              overlap: Any = None) -> Any:
        note(f"prove {plan.name} begins" + (" alone" if alone else ""))
        if overlap is not None and not behaviour.get(f"no box {plan.name}"):
            overlap.started.set()  # as runner._run_target does once the box is launched
        awaited = behaviour.get(f"await {plan.name}")
        if awaited is None:
            time.sleep(behaviour.get(f"sleep {plan.name}", 0.4))
        else:
            with noted:
                if not noted.wait_for(lambda: awaited in log, timeout=HANG):
                    note(f"prove {plan.name} waited in vain for {awaited}")
        note(f"prove {plan.name} ends")
        failure = behaviour.get(f"prove {plan.name}")
        if failure is not None:
            raise failure
        return skipped("stand-in")

    def audit(auditing: Any, plan: _Plan, root: Path) -> Audited:
        name = plan.name
        awaited = behaviour.get(f"audit {name} awaits")
        if awaited is not None:
            with noted:
                if not noted.wait_for(lambda: awaited in log, timeout=HANG):
                    note(f"audit {name} waited in vain for {awaited}")
        note(f"audit {name}")
        failure = behaviour.get(f"audit {name}")
        if failure is not None:
            raise failure
        return Audited(findings=[], allow=frozenset())

    def finish(settings: Any, item: StagedLayer, proof: Any, clock: Any) -> None:
        item.proof = proof

    monkeypatch.setattr(stages, "_prepare", prepare)
    monkeypatch.setattr(stages, "prove", prove)
    monkeypatch.setattr(stages, "audit", audit)
    monkeypatch.setattr(stages, "_finish", finish)
    return StandIns(events=log, behaviour=behaviour)


def _run(layers: list[StagedLayer], *, compiled: dict[str, Any] | None = None
         ) -> list[tuple[Any, ...]]:
    """Each layer as the zip stage gets it: (plan, proof), in the list's order.
    `compiled` a dict (--compile): each layer audited before its proof, in _prepare."""
    settings = SimpleNamespace(proving=None, auditing=None)
    stages._stage_all(settings, layers, stages._Clock(), compiled, None, None)  # type: ignore[arg-type]
    return [(item.plan, item.proof) for item in layers if item.proof is not None]


def test_the_next_layer_is_laid_out_while_a_proof_runs(stand_ins: StandIns,
                                                       tmp_path: Path) -> None:
    events = stand_ins.events
    # layer0's proof ends only once layer1's began: one proof after the other never gets
    # there (it waits in vain), side by side always does, on a fast or a loaded machine.
    stand_ins.behaviour["await layer0"] = "prove layer1 begins"
    layers = _layers(2, tmp_path)
    staged = _run(layers)
    assert [s[0].name for s in staged] == ["layer0", "layer1"]
    assert all(item.proof is not None for item in layers)
    assert not [e for e in events if "in vain" in e], events
    # layer1 was prepared before layer0's proof ended, and the proofs overlapped.
    assert events.index("prepare layer1") < events.index("prove layer0 ends")
    assert events.index("prove layer1 begins") < events.index("prove layer0 ends")


def test_an_earlier_layers_refusal_comes_before_a_later_layers(stand_ins: StandIns,
                                                               tmp_path: Path) -> None:
    behaviour = stand_ins.behaviour
    behaviour["prove layer0"] = ProofFailed("layer0 does not import")
    behaviour["prepare layer1"] = AuditError("layer1 is refused by the audit")
    with pytest.raises(ProofFailed, match="layer0 does not import"):
        _run(_layers(2, tmp_path))
    # Also when the later layer's own proof fails first (it is the shorter one).
    behaviour.pop("prepare layer1")
    behaviour["sleep layer1"] = 0.0
    behaviour["prove layer1"] = ProofFailed("layer1 does not import")
    with pytest.raises(ProofFailed, match="layer0 does not import"):
        _run(_layers(2, tmp_path))


def test_a_later_layers_refusal_stands_when_the_earlier_proofs_pass(
        stand_ins: StandIns, tmp_path: Path) -> None:
    behaviour = stand_ins.behaviour
    behaviour["prepare layer2"] = AuditError("layer2 is refused by the audit")
    with pytest.raises(AuditError, match="layer2"):
        _run(_layers(3, tmp_path))
    behaviour.pop("prepare layer2")
    behaviour["prove layer1"] = ProofFailed("layer1 does not import")
    with pytest.raises(ProofFailed, match="layer1"):
        _run(_layers(3, tmp_path))


def test_one_layer_is_proven_in_the_main_thread(stand_ins: StandIns, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """...and told it is alone: its proof may compile on the spare core."""
    threads: list[str] = []
    original = stages.prove

    def prove(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(stages, "prove", prove)
    _run(_layers(1, tmp_path))
    assert threads == ["MainThread"]
    events = stand_ins.events
    assert events[:2] == ["prepare layer0", "prove layer0 begins alone"]
    assert events.index("prove layer0 begins alone") < events.index("prove layer0 ends")


class _Target:
    def __init__(self, machine: str) -> None:
        self.machine = machine


def test_the_layer_proven_under_emulation_starts_first(stand_ins: StandIns,
                                                       tmp_path: Path) -> None:
    """x86_64 first in the request, but on this host the other machine's proof is the
    long one (qemu): it is laid out and started first; the results keep the request's
    order, and the refusal reported is the first-started layer's."""
    from lambdalayer.interpreters.find import host_machine

    other = "aarch64" if host_machine() == "x86_64" else "x86_64"
    layers = _layers(2, tmp_path)
    layers[0].plan.targets = [_Target(host_machine())]
    layers[1].plan.targets = [_Target(other)]
    staged = _run(layers)
    assert [s[0].name for s in staged] == ["layer0", "layer1"]
    events = stand_ins.events
    assert events.index("prepare layer1") < events.index("prepare layer0")
    assert events.index("prove layer1 begins") < events.index("prepare layer0")
    stand_ins.behaviour["prove layer0"] = ProofFailed("layer0 does not import")
    stand_ins.behaviour["prove layer1"] = ProofFailed("layer1 does not import")
    with pytest.raises(ProofFailed, match="layer1"):
        _run(layers)


@pytest.mark.parametrize("count", [1, 2])
def test_the_audit_runs_beside_its_layers_proof(stand_ins: StandIns, tmp_path: Path,
                                                count: int) -> None:
    """Each layer's proof begins before its audit ends (the audit waits for it: one after
    the other never gets there); with --compile the audit comes first, as the bytecode
    is added to the tree after it and before the proof."""
    for n in range(count):
        stand_ins.behaviour[f"audit layer{n} awaits"] = f"prove layer{n} begins" + (
            " alone" if count == 1 else "")
    _run(_layers(count, tmp_path))
    events = stand_ins.events
    assert not [e for e in events if "in vain" in e], events
    for n in range(count):
        assert events.index(f"audit layer{n}") < events.index(f"prove layer{n} ends")
    stand_ins.events.clear()
    stand_ins.behaviour.clear()
    _run(_layers(count, tmp_path), compiled={})
    assert not [e for e in events if e.startswith("audit")], events  # done in _prepare


@pytest.mark.parametrize("count", [1, 2])
def test_an_audit_refusal_wins_over_its_proof_which_is_awaited(
        stand_ins: StandIns, tmp_path: Path, count: int) -> None:
    """The last layer's audit refuses while its proof runs, and that proof fails too:
    the audit's refusal is the error, raised once the proof ended (no box outlives the
    build); an earlier layer's proof that passed changes nothing."""
    last = f"layer{count - 1}"
    stand_ins.behaviour[f"audit {last}"] = AuditError(f"{last} is refused by the audit")
    stand_ins.behaviour[f"prove {last}"] = ProofFailed(f"{last} does not import")
    with pytest.raises(AuditError, match=f"{last} is refused"):
        _run(_layers(count, tmp_path))
    events = stand_ins.events
    assert events.index(f"audit {last}") < events.index(f"prove {last} ends")
    assert f"prove {last} ends" in events  # raised once it ended


def test_an_earlier_proofs_refusal_comes_before_a_later_audits(stand_ins: StandIns,
                                                               tmp_path: Path) -> None:
    stand_ins.behaviour["prove layer0"] = ProofFailed("layer0 does not import")
    stand_ins.behaviour["audit layer1"] = AuditError("layer1 is refused by the audit")
    with pytest.raises(ProofFailed, match="layer0 does not import"):
        _run(_layers(2, tmp_path))


@pytest.mark.parametrize("count", [1, 2])
def test_the_audit_waits_for_the_proofs_box_or_its_end(stand_ins: StandIns, tmp_path: Path,
                                                       count: int) -> None:
    """The audit starts once its proof's box did (here: as the proof begins); a proof
    that starts none (nothing to import, no interpreter) lets it run once it ended."""
    _run(_layers(count, tmp_path))
    events = stand_ins.events
    for n in range(count):
        assert events.index(f"prove layer{n} begins" + " alone" * (count == 1)) < \
            events.index(f"audit layer{n}")
    events.clear()
    for n in range(count):
        stand_ins.behaviour[f"no box layer{n}"] = True
    _run(_layers(count, tmp_path))
    for n in range(count):
        assert events.index(f"prove layer{n} ends") < events.index(f"audit layer{n}")
