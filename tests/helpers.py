"""Helpers for driving the real CLI in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            umask: int | None = None, timeout: float = 600) -> CliRun:
    """Run `python -m lambdalayer ARGS` in a fresh process, as a user would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    completed = subprocess.run(
        [sys.executable, "-m", "lambdalayer", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout, preexec_fn=preexec, check=False,
    )
    return CliRun(completed.returncode, completed.stdout, completed.stderr)


def assert_clean_failure(run: CliRun, exit_code: int) -> None:
    """A user error: the documented exit code, a message, and no traceback."""
    assert run.returncode == exit_code, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    assert "error:" in run.stderr


def without_interpreters(scratch: Path) -> dict[str, str]:
    """Environment in which lambdalayer finds no local CPython for any runtime (empty PATH,
    pyenv root and uv install dir): tests of the "cannot run here" paths run on every host
    instead of skipping where the interpreter happens to exist."""
    empty = scratch / "no-interpreters"
    empty.mkdir(parents=True, exist_ok=True)
    return {"PATH": str(empty), "PYENV_ROOT": str(empty), "UV_PYTHON_INSTALL_DIR": str(empty),
            "UV_PYTHON_PREFERENCE": "only-managed"}
