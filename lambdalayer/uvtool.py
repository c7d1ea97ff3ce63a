"""Running uv: always the binary shipped by the `uv` package, never a PATH lookup."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

from lambdalayer.errors import LambdaLayerError


@cache
def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError as exc:  # pragma: no cover - uv is a hard dependency
        raise LambdaLayerError("The `uv` package is missing; reinstall lambdalayer.") from exc
    return str(find_uv_bin())


@dataclass(frozen=True, kw_only=True)
class UvResult:
    returncode: int
    stdout: str
    stderr: str


def run_uv(args: list[str], *, timeout: float = 1800) -> UvResult:
    """Run `uv ARGS` with the running interpreter as uv's Python, capturing output."""
    env = dict(os.environ)
    # Plain, parseable messages; no spinner in captured output.
    env.update({"NO_COLOR": "1", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"})
    env.setdefault("UV_PYTHON", sys.executable)
    completed = subprocess.run(
        [uv_binary(), *args], capture_output=True, text=True, env=env, timeout=timeout,
        check=False,
    )
    return UvResult(returncode=completed.returncode, stdout=completed.stdout,
                    stderr=completed.stderr)
