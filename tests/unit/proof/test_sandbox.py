"""Choosing the proof's sandbox, and what it says when there is none."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.proof import sandbox
from lambdalayer.proof.sandbox import SANDBOX_VARIABLE, Sandbox, find_sandbox


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sandbox._find.cache_clear()
    yield
    sandbox._find.cache_clear()


@pytest.mark.skipif(platform.system() != "Linux", reason="namespaces are Linux's")
def test_without_bwrap_or_unshare_the_proof_line_says_why(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(SANDBOX_VARIABLE, raising=False)
    found = find_sandbox()
    assert found.kind == "none"
    assert found.describe() == (
        "NOT sandboxed (no bwrap (bubblewrap) on PATH; no unshare on PATH; install "
        "bubblewrap); only its environment is scrubbed")


def test_none_is_a_choice_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_VARIABLE, "none")
    assert find_sandbox().kind == "none"
    assert find_sandbox().wrap(["python"], writable=Path("/s"), cwd=Path("/s")) == ["python"]


def test_bwrap_isolates_everything_but_keeps_the_network_for_a_handler() -> None:
    box = Sandbox(kind="bwrap", program="/usr/bin/bwrap")
    proof = box.wrap(["python", "-I"], writable=Path("/s"), cwd=Path("/s/task"))
    assert proof[0] == "/usr/bin/bwrap" and proof[-3:] == ["--", "python", "-I"]
    for flag in ("--unshare-user", "--unshare-pid", "--unshare-net", "--die-with-parent"):
        assert flag in proof
    assert proof[proof.index("--ro-bind"):proof.index("--ro-bind") + 3] == ["--ro-bind", "/",
                                                                           "/"]
    assert proof[proof.index("--proc"):proof.index("--proc") + 2] == ["--proc", "/proc"]
    handler = box.wrap(["python"], writable=Path("/s"), cwd=Path("/s"), network=True)
    assert "--unshare-net" not in handler and "--unshare-pid" in handler
    assert "network kept for the invoked handler" in box.describe(network=True)
    assert "network" in box.describe() and "kept" not in box.describe()
