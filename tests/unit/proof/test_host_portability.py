"""`test`/`--compile` on hosts other than this Linux (macOS, Windows): emulated."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from lambdalayer.interpreters import find as interpreters
from lambdalayer.proof import runner
from lambdalayer.targets.target import Target
from tests.conftest import find_python, require


def _layer(tmp_path: Path) -> Path:
    (tmp_path / "layer" / "python" / "hello").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "hello" / "__init__.py").write_text("WORLD = 1\n")
    return tmp_path / "layer"


def test_not_linux_is_said_before_any_interpreter_is_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def searched(*args: object) -> None:
        raise AssertionError("looked for an interpreter on a host that cannot run Lambda's")

    monkeypatch.setattr(runner, "pick_interpreter", searched)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    report = runner.run_proof(_layer(tmp_path), [Target.parse("python3.12", "arm64")],
                             fallback_check=False)
    [run] = report.runs
    assert run.status == "not-run"
    assert run.reason is not None and "runs Darwin, not Linux" in run.reason


@pytest.mark.skipif(os.name == "nt", reason="stand-ins are shell scripts / a Linux host")
def test_a_directory_is_copied_where_symlinks_need_a_privilege(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(find_python("3.12") is not None, "CPython 3.12 is needed")

    def no_symlinks(self: Path, target: object, target_is_directory: bool = False) -> None:
        raise OSError(1314, "A required privilege is not held by the client")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    report = runner.run_proof(_layer(tmp_path), [Target.parse("python3.12", "x86_64")],
                             fallback_check=False)
    [run] = report.runs
    assert run.status == "passed", run.reason
    assert [i.module for i in run.imports] == ["hello"]


@pytest.mark.skipif(os.name == "nt", reason="stand-ins are shell scripts / a Linux host")
def test_py_launcher_and_pyenv_win_are_searched_on_windows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "py"
    launcher.write_text('#!/bin/sh\n[ "$1" = "-3.12" ] && echo "C:\\\\Python312\\\\python.exe"\n')
    launcher.chmod(0o755)
    for name in ("3.12.1", "3.12.10", "3.11.9", "3.12.4t"):
        (tmp_path / "pyenv-win" / "versions" / name).mkdir(parents=True)
        (tmp_path / "pyenv-win" / "versions" / name / "python.exe").write_text("")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv-win"))
    versions = tmp_path / "pyenv-win" / "versions"
    assert interpreters._windows_candidates("3.12", system="nt") == [
        "C:\\Python312\\python.exe", str(versions / "3.12.10" / "python.exe"),
        str(versions / "3.12.1" / "python.exe")]
    assert interpreters._windows_candidates("3.12", system="posix") == []


def test_marks_fall_back_to_ascii_where_the_console_cannot_print_them(tmp_path: Path) -> None:
    _layer(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "lambdalayer", "check", str(tmp_path / "layer"), "--runtime",
         "python3.12", "--arch", "x86_64"], capture_output=True, check=False,
        env={**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"})
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout.decode("cp1252")  # check's result: stdout
    assert "OK no errors" in out and "Traceback" not in completed.stderr.decode("cp1252")
