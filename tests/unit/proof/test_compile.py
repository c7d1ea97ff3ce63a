"""`--compile`: bytecode per runtime, side by side, deterministic, valid on a read-only /opt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.interpreters.find import find_interpreter
from lambdalayer.proof.compile import compile_tree
from lambdalayer.targets.runtimes import Runtime, load_runtime_table
from tests.conftest import require

PY311 = load_runtime_table().runtime("python3.11")
PY312 = load_runtime_table().runtime("python3.12")


@pytest.fixture(autouse=True)
def _interpreters() -> None:
    require(find_interpreter("3.11") is not None and find_interpreter("3.12") is not None,
            "CPython 3.11 and 3.12 are needed (pyenv install 3.11 3.12)")


def _layer(root: Path) -> Path:
    package = root / "python" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = {'a', 'b', 'c', 'd'}\n")  # a frozenset const
    (package / "mod.py").write_text("def f():\n    return 'x' in {'x', 'y', 'z'}\n")
    (package / "py2only.py").write_text("print 'hello'\n")  # shipped by some old packages
    only = root / "python" / "lib" / "python3.12" / "site-packages" / "new312"
    only.mkdir(parents=True)
    (only / "__init__.py").write_text("type Alias = int\n")  # 3.12-only syntax
    return root


def _pycs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*.pyc"))}


def test_each_runtime_gets_its_own_unchecked_hash_pyc(tmp_path: Path) -> None:
    root = _layer(tmp_path / "a")
    report = compile_tree(root, [PY311, PY312])
    pycs = _pycs(root)
    assert set(pycs) == {
        "python/pkg/__pycache__/__init__.cpython-311.pyc",
        "python/pkg/__pycache__/__init__.cpython-312.pyc",
        "python/pkg/__pycache__/mod.cpython-311.pyc",
        "python/pkg/__pycache__/mod.cpython-312.pyc",
        # Only 3.12 imports from its own tree, and only 3.12 can compile it.
        "python/lib/python3.12/site-packages/new312/__pycache__/__init__.cpython-312.pyc",
    }
    for data in pycs.values():
        flags = int.from_bytes(data[4:8], "little")
        assert flags == 0b01  # PEP 552: hash-based, check_source off (unchecked)
    assert b"/opt/python/pkg/mod.py" in pycs["python/pkg/__pycache__/mod.cpython-311.pyc"]
    assert not any(str(tmp_path).encode() in data for data in pycs.values())
    assert report.size == sum(len(d) for d in pycs.values())
    assert report.files == 5
    by_runtime = {r.runtime: r for r in report.runtimes}
    assert [path for path, _ in by_runtime["python3.11"].failed] == ["python/pkg/py2only.py"]
    assert "Missing parentheses" in by_runtime["python3.11"].failed[0][1]


def test_bytecode_is_reproducible(tmp_path: Path) -> None:
    first = _layer(tmp_path / "a")
    second = _layer(tmp_path / "elsewhere" / "b")
    compile_tree(first, [PY311, PY312])
    compile_tree(second, [PY312, PY311])
    assert _pycs(first) == _pycs(second)


def test_pyc_is_used_from_a_read_only_tree(tmp_path: Path) -> None:
    """The interpreter loads the shipped pyc and never needs to write one."""
    root = _layer(tmp_path / "a")
    compile_tree(root, [PY312])
    source = root / "python" / "pkg" / "mod.py"
    source.write_text("def f():\n    return 'changed'\n")  # unchecked: the pyc still wins
    interpreter = find_interpreter("3.12")
    assert interpreter is not None
    python = interpreter.path
    out = subprocess.run(
        [python, "-I", "-S", "-B", "-c",
         f"import sys; sys.path.insert(0, {str(root / 'python')!r}); import pkg.mod; "
         "print(pkg.mod.f(), pkg.mod.__cached__)"],
        capture_output=True, text=True, check=True).stdout
    assert out.startswith("True ")


def test_missing_interpreter_is_named(tmp_path: Path) -> None:
    future = Runtime(name="python3.99", python=(3, 99), os=PY312.os, deprecated=None)
    with pytest.raises(UsageError) as caught:
        compile_tree(_layer(tmp_path / "a"), [PY312, future])
    message = str(caught.value)
    assert "python3.99" in message and "python3.12" not in message.split("(")[0]
    assert "uv python install 3.99" in message
    assert not list((tmp_path / "a").rglob("*.pyc"))  # refused before writing anything


def test_no_python_dir_is_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    assert compile_tree(tmp_path, [PY311]).files == 0
    shutil.rmtree(tmp_path / "lib")
