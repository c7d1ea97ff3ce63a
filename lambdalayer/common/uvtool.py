"""Running uv: always the binary shipped by the `uv` package, never a PATH lookup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from lambdalayer.common import interrupt
from lambdalayer.common.errors import LambdaLayerError


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


@dataclass(frozen=True, kw_only=True)
class StartedUv:
    """A uv process already running, and the arguments and variables it was started with."""

    args: tuple[str, ...]
    process: subprocess.Popen[str]
    env: tuple[tuple[str, str], ...] = ()  # the `env` given to start_uv, sorted
    since: float = 0.0  # time.time() just before it started

    def started_as(self, args: list[str], env: Mapping[str, str] | None = None) -> bool:
        return self.args == tuple(args) and self.env == tuple(sorted((env or {}).items()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        interrupt.untrack(self.process)


# How uv may put files into the layer tree: never `symlink` (into uv's cache), which a
# user's UV_LINK_MODE or uv.toml may ask for; a zip holds no symlinks, so those files would
# be missing on Lambda. Hard links and clones are safe: nothing edits the tree in place.
_LAYER_LINK_MODES = ("copy", "clone", "hardlink")


def layer_link_mode() -> str:
    """UV_LINK_MODE when it puts real files in the tree, else uv's default for this host."""
    chosen = os.environ.get("UV_LINK_MODE", "").strip().lower()
    if chosen in _LAYER_LINK_MODES:
        return chosen
    return "clone" if sys.platform == "darwin" else "hardlink"


def start_uv(args: list[str], *, python: str | None = None,
             env: Mapping[str, str] | None = None) -> StartedUv:
    """Start `uv ARGS` with `python` (default: the running interpreter) as uv's Python,
    which builds any sdist; output is captured. `env` is set last (over our defaults):
    credentials go there, never into `args` (docs/trust.md)."""
    full_env = dict(os.environ)
    # Plain, parseable messages; no spinner in captured output.
    full_env.update({"NO_COLOR": "1", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"})
    # One quick retry, not uv's three (8-13 s against a closed port before it says so):
    # an index that fails twice is said as such (resolve/index_failure.py). A user's own
    # UV_HTTP_RETRIES is kept.
    full_env.setdefault("UV_HTTP_RETRIES", "1")
    if python:
        full_env["UV_PYTHON"] = python
    full_env.setdefault("UV_PYTHON", sys.executable)
    full_env.update(env or {})
    interrupt.check()  # cancelled: start nothing new
    # Started and tracked as one step: a signal in between would leave uv running untracked,
    # writing into a work directory after its removal.
    since = time.time()
    with interrupt.deferred():
        # uv writes UTF-8 on every host; the locale's code page (Windows) would garble.
        process = subprocess.Popen([uv_binary(), *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                   errors="replace", env=full_env)
        interrupt.track(process)
    return StartedUv(args=tuple(args), process=process,
                     env=tuple(sorted((env or {}).items())), since=since)


def wait_uv(started: StartedUv, *, timeout: float = 1800) -> UvResult:
    try:
        stdout, stderr = started.process.communicate(timeout=timeout)
    except BaseException:  # a timeout, Ctrl-C or SIGTERM: never leave uv running
        started.stop()
        raise
    interrupt.untrack(started.process)
    return UvResult(returncode=started.process.returncode, stdout=stdout, stderr=stderr)


def run_uv(args: list[str], *, timeout: float = 1800, python: str | None = None,
           env: Mapping[str, str] | None = None) -> UvResult:
    """Run `uv ARGS` to completion (see start_uv)."""
    return wait_uv(start_uv(args, python=python, env=env), timeout=timeout)
