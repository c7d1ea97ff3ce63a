"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

CI systems cancel a job with SIGTERM (GitHub Actions, GitLab, `docker stop`)
and a closed terminal sends SIGHUP. `install()` (called by the CLI's main)
turns either into `Terminated`, a KeyboardInterrupt raised in the main thread,
so every `finally` and context manager that removes temporary files runs, as
it does for Ctrl-C. Before raising, the handler ends the child processes we
started (uv, interpreters, strip), so worker threads waiting on them return
and the process is not kept alive; `stopping()` then tells code about to
start new work not to.

`deferred()` marks a short step that must not be cut in half (replacing a zip
and its manifest together, one UpdateFunctionConfiguration, creating a temporary
file and remembering its name): a signal that arrives inside it, Ctrl-C
included, is raised when the step ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

HANDLED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                if s is not None)

_stopping = threading.Event()
_deferring = 0
_pending: int | None = None
_received: int | None = None
_tracked: set[subprocess.Popen[str]] = set()
_tracked_lock = threading.Lock()


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM or SIGHUP; the exit status is 128 + `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def stopping() -> bool:
    """True once a termination signal arrived: start no new subprocess or upload."""
    return _stopping.is_set()


def received() -> int | None:
    """The termination signal that arrived, if any (the exit status is 128 + it)."""
    return _received


def check() -> None:
    """Raise Terminated if a termination signal arrived (for code about to start work)."""
    if _received is not None and not _deferring:
        raise Terminated(_received)


def track(process: subprocess.Popen[str]) -> None:
    """Remember a child process so a termination signal ends it too."""
    with _tracked_lock:
        _tracked.add(process)


def untrack(process: subprocess.Popen[str]) -> None:
    with _tracked_lock:
        _tracked.discard(process)


def end_children() -> None:
    """Kill the child processes this process started (tracked ones, and on Linux all)."""
    with _tracked_lock:
        processes = list(_tracked)
    for process in processes:
        with contextlib.suppress(OSError):
            if process.poll() is None:
                process.kill()
    for pid in _linux_children():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _linux_children() -> list[int]:
    """Our direct children from /proc (subprocess.run in worker threads is not tracked)."""
    me = os.getpid()
    tasks = Path(f"/proc/{me}/task")
    found: list[int] = []
    try:
        threads = list(tasks.iterdir())
    except OSError:
        return found
    for thread in threads:
        try:
            found.extend(int(pid) for pid in (thread / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


# A terminating signal ends the process within this many seconds whatever the code was
# doing: the exception it raises can land where Python ignores exceptions (a weakref
# callback, a __del__) and be lost; the unwinding and cleanup normally take far less.
GRACE_SECONDS = 20.0


def _force_exit(signum: int) -> None:
    os._exit(128 + signum)  # the exit status says which signal; the cleanup had its time


def _start_watchdog(signum: int) -> None:
    global _watching
    if _watching:
        return
    _watching = True
    watchdog = threading.Timer(GRACE_SECONDS, _force_exit, (signum,))
    watchdog.daemon = True
    watchdog.start()


_watching = False


def interrupted() -> bool:
    """True once Ctrl-C (SIGINT) arrived."""
    return _watching and _received is None


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _pending, _received
    if _stopping.is_set():
        return  # already unwinding: let the cleanup finish
    _received = signum
    _stopping.set()
    _start_watchdog(signum)
    end_children()
    if _deferring:
        _pending = signum
        return
    raise Terminated(signum)


def _handle_interrupt(signum: int, _frame: FrameType | None) -> None:
    """Ctrl-C stays a plain KeyboardInterrupt, except inside `deferred()`, where it waits
    for the step to end like SIGTERM does (a temporary file created but not yet named)."""
    global _pending
    _start_watchdog(signum)
    if _deferring:
        _pending = signum
        return
    end_children()  # `kill -INT` reaches only us; a terminal's Ctrl-C reaches them too
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGTERM, SIGHUP and SIGINT in the main thread (a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, _handle)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored (nohup)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signal.SIGINT, _handle_interrupt)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block whole: a termination signal that arrives inside is raised after it."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            if sys.exc_info()[0] is None:
                raise Terminated(signum)
