"""The helper that compiles a layer's modules beside its first proof (in_target's
precompile mode) skips what it must not open: a FIFO named like a module (opening it
would block until a writer comes) and a link to a device; it compiles the rest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.interpreters import find
from lambdalayer.proof import runner, script
from lambdalayer.targets.target import Target
from tests.conftest import require


def _precompiled(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """in_target's precompile mode run with `config` on this Python, which must succeed."""
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c",
                           script.source(), json.dumps(config)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_the_helper_skips_fifos_and_devices_and_compiles_the_rest(tmp_path: Path) -> None:
    layer, cache = tmp_path / "site", tmp_path / "cache"
    layer.mkdir()
    cache.mkdir()
    (layer / "good.py").write_text("GOOD = 1\n")
    os.mkfifo(layer / "fifo.py")
    (layer / "zero.py").symlink_to("/dev/zero")
    config = {"precompile": [str(layer)], "bytecode": str(cache),
              "stop": str(tmp_path / "stop")}
    done = _precompiled(config)
    name = hashlib.sha256(b"GOOD = 1\n").hexdigest()
    assert [p.name.split(".")[0] for p in cache.rglob("*.pyc")] == [name]
    said = json.loads(done.stdout)
    assert said["kind"] == "stored" and said["bytes"] > 0


def test_a_helper_done_before_the_import_leaves_no_second_helper(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper beside a first import compiled the whole layer before the import ended
    (the import sleeps): the import's misses are in the cache already, so no second
    helper is started for them, except for a test folder's, which it passes over."""
    require(find.find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    package = tmp_path / "python" / "slow"
    (package / "tests").mkdir(parents=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(1.5)\nVALUE = 1\n")
    (package / "tests" / "__init__.py").write_text("")
    (package / "tests" / "probe.py").write_text("PROBE = 2\n")
    started: list[list[str] | None] = []
    real = runner._start_precompile

    def noted(*args: Any, **kwargs: Any) -> Any:
        started.append(args[3] if len(args) > 3 else kwargs.get("files"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_start_precompile", noted)
    target = Target.parse("python3.12", "x86_64")
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path / "cache-1"))
    proof = runner.run_proof(tmp_path, [target], imports=["slow"], bytecode_scope="s",
                             precompile=True)
    assert proof.status == "passed"
    assert started == [None]  # the whole-layer helper only
    started.clear()
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path / "cache-2"))
    proof = runner.run_proof(tmp_path, [target], imports=["slow", "slow.tests.probe"],
                             bytecode_scope="s", precompile=True)
    assert proof.status == "passed"
    assert len(started) == 2 and started[1] is not None
    assert [Path(f).name for f in started[1]] == ["__init__.py", "probe.py"]


def test_the_helper_passes_over_what_the_early_helper_compiled_whole(tmp_path: Path) -> None:
    """Named in `skip` (what the helper compiling while uv downloads did whole: the
    names at the top of its wheels), a top-level entry is not compiled again; the
    same name deeper down is."""
    layer, cache = tmp_path / "site", tmp_path / "cache"
    (layer / "done").mkdir(parents=True)
    (layer / "left" / "done").mkdir(parents=True)
    cache.mkdir()
    sources = {"done/__init__.py": b"DONE = 1\n", "done.py": b"ALSO_DONE = 1\n",
               "left/__init__.py": b"LEFT = 1\n", "left/done/__init__.py": b"DEEP = 1\n"}
    for name, data in sources.items():
        (layer / name).write_bytes(data)
    config = {"precompile": [str(layer)], "bytecode": str(cache),
              "stop": str(tmp_path / "stop"), "skip": ["done", "done.py"]}
    _precompiled(config)
    kept = {p.name.split(".")[0] for p in cache.rglob("*.pyc")}
    assert kept == {hashlib.sha256(sources[n]).hexdigest()
                    for n in ("left/__init__.py", "left/done/__init__.py")}


@pytest.mark.parametrize(("compiled", "expected"), [
    (frozenset({"whole", "whole-1.0.dist-info", "part", "part-1.0.dist-info"}), []),
    (frozenset({"whole", "whole-1.0.dist-info"}),
     [frozenset({"whole", "whole-1.0.dist-info"})]),
    (None, [frozenset()]),  # the early helper did not say in time: the whole layer
])
def test_the_helper_beside_the_import_starts_for_what_the_early_helper_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: frozenset[str] | None,
        expected: list[frozenset[str]]) -> None:
    """On a bytecode folder the early helper began filling (runner.EARLY_FILLS), the
    helper beside the import starts only for the names at the top of the layer the
    early one did not compile whole, and not at all when it compiled every one."""
    require(find.find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    site = tmp_path / "python"
    for name in ("whole", "part"):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(f"NAME = {name!r}\n")
        (site / f"{name}-1.0.dist-info").mkdir()
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path / "cache"))
    target = Target.parse("python3.12", "x86_64")
    interpreter = find.find_for("3.12", "x86_64")
    assert interpreter is not None
    folder = runner.bytecode_cache(interpreter, "s")
    assert folder is not None
    skipped: list[frozenset[str]] = []
    real = runner._start_precompile

    def noted(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("files") is None and (len(args) < 4 or args[3] is None):
            skipped.append(kwargs.get("skip", frozenset()))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_start_precompile", noted)
    monkeypatch.setitem(runner.EARLY_FILLS, folder, lambda seconds: compiled)
    (Path(folder) / "aa").mkdir()  # the early helper's first entry: not an empty folder
    proof = runner.run_proof(tmp_path, [target], imports=["whole", "part"], bytecode_scope="s",
                             precompile=True)
    assert proof.status == "passed"
    assert skipped == expected


def test_the_kept_code_is_what_cpython_compiles_from_the_source(tmp_path: Path) -> None:
    """The helper's script has `from __future__ import annotations`; what it keeps must
    not inherit that (the layer's annotations would become strings): the code run from
    the cache is the code CPython compiles from the source."""
    import marshal

    layer, cache = tmp_path / "site", tmp_path / "cache"
    layer.mkdir()
    cache.mkdir()
    source = b"def f(x: int) -> None:\n    pass\n\nANNOTATION = f.__annotations__['x']\n"
    (layer / "annotated.py").write_bytes(source)
    config = {"precompile": [str(layer)], "bytecode": str(cache),
              "stop": str(tmp_path / "stop")}
    _precompiled(config)
    [kept] = cache.rglob("*.pyc")
    namespace: dict[str, Any] = {}
    exec(marshal.loads(kept.read_bytes()[16:]), namespace)
    assert namespace["ANNOTATION"] is int
