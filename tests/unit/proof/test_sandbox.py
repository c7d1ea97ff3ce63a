"""Choosing the proof's box, what it shows the interpreter, and what it says when there
is none."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.common.errors import SandboxUnavailable
from lambdalayer.proof import sandbox
from lambdalayer.proof.sandbox import (
    SANDBOX_VARIABLE,
    Sandbox,
    View,
    find_sandbox,
)

linux = pytest.mark.skipif(platform.system() != "Linux", reason="namespaces are Linux's")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(SANDBOX_VARIABLE, raising=False)
    sandbox._find.cache_clear()
    yield
    sandbox._find.cache_clear()


@linux
def test_without_bwrap_or_unshare_the_proof_line_says_why(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_sandbox()
    assert found.kind == "none"
    assert found.describe() == (
        "NOT sandboxed (no bwrap (bubblewrap) on PATH; no unshare on PATH; install "
        "bubblewrap (apt-get install bubblewrap)); only its environment is scrubbed")


@linux
def test_a_required_box_that_cannot_be_made_is_a_refusal(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_sandbox().kind == "none"  # not required: a warning, said by the caller
    with pytest.raises(SandboxUnavailable) as refused:
        find_sandbox(required=True)
    assert refused.value.exit_code == 8
    assert "no bwrap (bubblewrap) on PATH" in str(refused.value)


@linux
@pytest.mark.parametrize("named", ["bwrap", "box"])
def test_a_named_box_that_cannot_be_made_never_runs_open(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, named: str) -> None:
    """LAMBDALAYER_SANDBOX=bwrap with bwrap failing ran the proof unsandboxed before."""
    failing = tmp_path / ("bwrap" if named == "bwrap" else "unshare")
    failing.write_text("#!/bin/sh\necho 'setting up uid map: Permission denied' >&2\nexit 1\n")
    failing.chmod(0o755)
    (tmp_path / "true").symlink_to("/bin/true")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(SANDBOX_VARIABLE, named)
    with pytest.raises(SandboxUnavailable) as refused:
        find_sandbox()
    assert "uid map" in str(refused.value) and "AppArmor" in str(refused.value)


def test_an_unknown_choice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_VARIABLE, "chroot")
    with pytest.raises(SandboxUnavailable, match="bwrap, box, none"):
        find_sandbox()


def test_none_is_a_choice_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_VARIABLE, "none")
    assert find_sandbox().kind == "none"
    assert find_sandbox().wrap(["python"], View(layer=()))[-1] == "python"


def _pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def test_bwrap_shows_only_what_the_interpreter_needs() -> None:
    box = Sandbox(kind="bwrap", program="/usr/bin/bwrap")
    view = View(layer=((Path("/build/tree"), "/opt"),),
                readable=(Path("/home/ci/.pyenv/versions/3.12.7"), Path("/usr/lib/x")),
                writable=(Path("/home/ci/.cache/lambdalayer/proof-bytecode/ab"),))
    proof = box.wrap(["python", "-I"], view)
    bwrap = proof[proof.index("/usr/bin/bwrap"):]
    assert bwrap[-3:] == ["--", "python", "-I"]
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in bwrap
    assert "--share-net" not in bwrap
    shown = _pairs(bwrap, "--ro-bind")
    assert ("/build/tree", "/opt") in shown
    assert ("/home/ci/.pyenv/versions/3.12.7", "/home/ci/.pyenv/versions/3.12.7") in shown
    assert ("/", "/") not in shown and not any(s.startswith("/home/ci/.cache") for s, _ in
                                               shown)
    assert not any(d in ("/home", "/root", "/run", "/var/run") for _, d in shown)
    assert _pairs(bwrap, "--bind") == [(str(view.writable[0]), str(view.writable[0]))]
    tmpfs = bwrap.index("--tmpfs")
    assert bwrap[tmpfs - 4:tmpfs + 2] == ["--size", str(512 * 1024 * 1024), "--perms", "1777",
                                          "--tmpfs", "/tmp"]
    assert "--chdir" in bwrap and bwrap[bwrap.index("--chdir") + 1] == "/var/task"
    handler = box.wrap(["python"], View(layer=(), network=True))
    assert "--share-net" in handler
    assert "network kept for the invoked handler" in box.describe(network=True)
    assert "network" in box.describe() and "kept" not in box.describe()


def test_the_box_fallback_builds_the_same_view() -> None:
    box = Sandbox(kind="box", program="/usr/bin/unshare")
    argv = box.wrap(["python"], View(layer=((Path("/t"), "/opt"),), scratch="/s/root"))
    unshare = argv[argv.index("/usr/bin/unshare"):]
    for flag in ("--user", "--mount", "--pid", "--fork", "--net", "--kill-child"):
        assert flag in unshare
    import json

    spec = json.loads(unshare[unshare.index("--") + 5])
    assert ["ro", "/t", "/opt"] in spec["mounts"] and spec["root"] == "/s/root"
    assert ["proc", "", "/proc"] in spec["mounts"]
