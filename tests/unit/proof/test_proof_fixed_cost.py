"""What makes the proof's fixed cost small, by behaviour (bench/proof_bench.py times it):
the box and interpreters found while the build resolves (proof/warmup.py), one probe of the
box per command, one walk of the tree per layer, and a runner script that imports only
what every run needs (no json: it writes the same JSON itself)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.interpreters import find
from lambdalayer.proof import prove, runner, sandbox, script
from lambdalayer.targets.target import Target


def test_warmup_asks_what_pick_interpreter_will_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.proof import warmup

    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(find, "find_for",
                        lambda version, machine, configured=None: asked.append(
                            (version, machine)))
    monkeypatch.setattr(sandbox, "find_sandbox", lambda **_: None)
    monkeypatch.setattr(find, "host_machine", lambda: "x86_64")
    targets = [Target.parse("python3.12", "x86_64"), Target.parse("python3.12", "arm64"),
               Target.parse("python3.13", "x86_64")]
    warmup.start(targets)
    warmup.wait()
    assert sorted(asked) == [("3.12", "aarch64"), ("3.12", "x86_64"),
                             ("3.13", "aarch64"), ("3.13", "x86_64")]
    warmup.wait()  # nothing left to join


def test_the_box_is_probed_once_however_many_threads_ask(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[str] = []

    def slow_try(kind: sandbox.Kind) -> str:
        tries.append(kind)
        time.sleep(0.05)
        return f"{kind} cannot make the box here (test)"

    monkeypatch.setattr(sandbox, "_try", slow_try)
    monkeypatch.setenv(sandbox.SANDBOX_VARIABLE, "auto")
    sandbox._find.cache_clear()
    try:
        threads = [threading.Thread(target=sandbox.find_sandbox) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sandbox._find.cache_clear()
    assert tries == ["bwrap", "box"]  # one probe of each kind, not one per thread


def test_the_layer_is_walked_for_native_code_once_per_layer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "python"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("")
    walks: list[Path] = []
    real = runner.has_native_code

    def spy(root: Path) -> bool:
        walks.append(root)
        return real(root)

    monkeypatch.setattr(runner, "has_native_code", spy)
    monkeypatch.setattr(prove, "has_native_code", spy)
    monkeypatch.setattr(runner, "pick_interpreter", lambda *_: None)  # no run needed
    targets = [Target.parse(r, "x86_64") for r in ("python3.11", "python3.12", "python3.13")]
    modules = {t.runtime.name: {"pkg": ["pkg"]} for t in targets}
    prove.prove_layer(tmp_path, targets, modules)
    assert walks == [tmp_path]


def test_the_runner_imports_nothing_it_can_do_without(tmp_path: Path) -> None:
    layer = tmp_path / "python"
    layer.mkdir()
    watched = ("typing", "traceback", "contextlib", "json", "re", "hashlib", "importlib")
    (layer / "looks.py").write_text(
        f"import sys\nprint('LOADED', sorted(m for m in {watched!r} if m in sys.modules), "
        "file=sys.stderr)\n")
    (layer / "broken.py").write_text("raise ValueError('broken on purpose')\n")
    config = {"paths": [str(layer)], "imports": ["looks", "broken"],
              "bytecode": str(tmp_path / "bytecode")}
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", script.source(),
                           script.config_argument(config)], capture_output=True, text=True,
                          check=True, timeout=60)
    assert "LOADED []" in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    failed = next(r for r in records if r.get("module") == "broken" and "ok" in r)
    assert failed["ok"] is False and "ValueError: broken on purpose" in failed["traceback"]
    assert records[-1] == {"kind": "end"}


def _script() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "in_target"}
    exec(Path(runner.__file__).with_name("in_target.py").read_text("utf-8"), namespace)
    return namespace


def test_the_runner_writes_its_records_as_json_would() -> None:
    dumps = _script()["_dumps"]
    values = ["plain", 'quote " and \\ backslash', "tab\tnew\nline\x00\x1f\x7f", "é ü 漢",
              "\U0001f600 emoji", "\udcff lone surrogate", 0, -12, 10**30, 1.5, 1e-300,
              float("nan"), float("inf"), float("-inf"), True, False, None, [1, [2, "x"]],
              (1, 2), {"a": {"b": [None]}, "n": 1},
              {1: "int key", False: "f", None: "n", 2.5: "float"}, object, Path("/opt/python")]
    for value in values:
        assert dumps(value) == json.dumps(value, default=repr), value


def test_the_config_reaches_the_runner_as_it_was_given() -> None:
    read = _script()["_config"]
    config = {"paths": ["/var/task", "/opt/python"], "imports": ["six"], "handler": None,
              "event": {"k": [1, 2.5, True, None, "é", 10**30]}, "invoke": False,
              "timeout": 120.0, "bytecode": None, "layer": ["/opt"]}
    assert read(script.config_argument(config)) == config
    assert read(json.dumps(config)) == config  # JSON text, as a person would write it


def _stub_run(tmp_path: Path, entry_code: str, digest_of: str) -> str:
    """Run STUB with the real script's source beside it and a cache entry holding the
    code of `entry_code` under a header naming the SHA-256 of `digest_of`."""
    import hashlib
    import importlib.util
    import marshal

    source = script.source()
    digest = hashlib.sha256(digest_of.encode("utf-8")).digest()
    entry = tmp_path / "entry.pyc"
    entry.write_bytes(importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + digest[:8]
                      + marshal.dumps(compile(entry_code, "<string>", "exec")))
    config = script.config_argument({"paths": [], "imports": []})
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", script.STUB, config,
                           source, str(entry), hashlib.sha256(source.encode()).hexdigest()],
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def test_the_stub_runs_the_kept_code_only_when_it_names_this_source(tmp_path: Path) -> None:
    marker = "print('FROM THE CACHE')"
    assert _stub_run(tmp_path, marker, script.source()) == "FROM THE CACHE\n"
    # An entry compiled from other text (another release's script): the source is compiled.
    other = _stub_run(tmp_path, marker, "another source")
    assert "FROM THE CACHE" not in other and json.loads(other.splitlines()[-1]) == {
        "kind": "end"}


def test_the_script_is_kept_by_the_helper_and_then_started_from_the_cache(
        tmp_path: Path) -> None:
    from tests.conftest import require

    python = find.find_interpreter("3.12")
    require(python is not None, "CPython 3.12 (pyenv install 3.12)")
    assert python is not None
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "mine.py").write_text("VALUE = 1\n")
    target = Target.parse("python3.12", "x86_64")
    first = runner.run_proof(tmp_path, [target], imports=["mine"], bytecode_scope="s")
    bytecode = runner.bytecode_cache(python, "s")
    assert first.status == "passed" and bytecode is not None
    assert Path(script.entry(bytecode, python.version)).is_file()  # written by the helper
    assert script.arguments({}, bytecode, python.version)[4] == script.STUB
    again = runner.run_proof(tmp_path, [target], imports=["mine"], bytecode_scope="s")
    assert again.status == "passed"
