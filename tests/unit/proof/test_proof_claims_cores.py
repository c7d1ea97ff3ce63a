"""A lone first proof run, with its compile helper beside it, claims two cores while the
layer is imported, so the zip written beside the proof waits (common/cores.py); a run
without the helper (its bytecode already kept) claims none."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.common import cores
from lambdalayer.interpreters import find
from lambdalayer.proof import runner
from lambdalayer.targets.target import Target
from tests.conftest import require


def _compiles_only(process: Any) -> bool:
    """Whether this boxed run is a compile helper's (its config has "precompile"), not
    an import: the config follows the code given to -c (proof/script.arguments)."""
    import base64
    import marshal

    args = list(process.args)
    config = marshal.loads(base64.b64decode(args[args.index("-c") + 2]))
    return bool(config.get("precompile"))


def test_the_import_beside_its_helper_claims_two_cores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(find.find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "mine.py").write_text("VALUE = 1\n")
    claims: list[int] = []
    real = runner.finish_boxed

    def noted(process: Any, **kwargs: Any) -> Any:
        if not _compiles_only(process):
            claims.append(cores._CLAIMED[0])
        return real(process, **kwargs)

    monkeypatch.setattr(runner, "finish_boxed", noted)
    target = Target.parse("python3.12", "x86_64")
    for _ in range(2):
        proof = runner.run_proof(tmp_path, [target], imports=["mine"], bytecode_scope="s",
                                 precompile=True)
        assert proof.status == "passed"
    assert claims == [2, 0]  # the first run's helper filled the cache for the second
    assert cores._CLAIMED[0] == 0


def test_the_helpers_core_is_given_back_when_it_is_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper compiled the small layer while the import still runs (it sleeps): its
    core is spare again before the import ends, so the zip beside it goes on."""
    require(find.find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "slow.py").write_text("import time\ntime.sleep(1.5)\n")
    seen: list[tuple[int, bool]] = []
    importing = threading.Event()
    real = runner.finish_boxed

    def noted(process: Any, **kwargs: Any) -> Any:
        if _compiles_only(process):
            return real(process, **kwargs)
        importing.set()
        try:
            return real(process, **kwargs)
        finally:
            importing.clear()

    def sample(stop: threading.Event) -> None:
        while not stop.wait(0.02):
            seen.append((cores._CLAIMED[0], importing.is_set()))

    monkeypatch.setattr(runner, "finish_boxed", noted)
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(stop,))
    sampler.start()
    try:
        proof = runner.run_proof(tmp_path, [Target.parse("python3.12", "x86_64")],
                                 imports=["slow"], bytecode_scope="s", precompile=True)
    finally:
        stop.set()
        sampler.join()
    assert proof.status == "passed"
    during = [claimed for claimed, running in seen if running]
    assert during[0] == 2 and during[-1] == 1, during  # both, then the import's alone
    assert cores._CLAIMED[0] == 0
