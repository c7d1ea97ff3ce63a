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
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

HANDLED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                if s is not None)

_stopping = threading.Event()
_deferring = 0
_pending: int | None = None
_received: int | None = None
_tracked: set[subprocess.Popen[Any]] = set()
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


def track(process: subprocess.Popen[Any]) -> None:
    """Remember a child process so a termination signal ends it too."""
    with _tracked_lock:
        _tracked.add(process)


def untrack(process: subprocess.Popen[Any]) -> None:
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


def finishing() -> None:
    """The command is over (its status decided): signals from now on are ignored, so one
    landing in an exit handler neither prints a traceback nor changes the exit status."""
    global _exiting
    _exiting = True


_last_steps: list[Callable[[], object]] = []


def at_final_cleanup(step: Callable[[], object]) -> None:
    """Run `step` (which must not raise) when a signalled process exits, after its
    children ended: e.g. removing the work directories it made (common/workdirs)."""
    if step not in _last_steps:
        _last_steps.append(step)


def final_cleanup() -> None:
    """Last step before a signalled process exits: end every child (one started after the
    handler ran included), then run the `at_final_cleanup` steps. The `finally` blocks
    normally did the same; a signal that landed between two of their lines did not."""
    global _exiting
    _exiting = True  # a signal from now on (a redelivered one too) must not cut this short
    end_children()
    _wait_children_gone(deadline=2.0)
    for step in list(_last_steps):
        with contextlib.suppress(Exception):
            step()


def _wait_children_gone(*, deadline: float) -> None:
    """Wait (up to `deadline` s) until the children we killed stopped writing: a process
    killed mid-write finishes that write, and could recreate a directory we remove."""
    import time

    ends = time.monotonic() + deadline
    while time.monotonic() < ends and any(_running(pid) for pid in _linux_children()):
        time.sleep(0.02)


def _running(pid: int) -> bool:
    """True while `pid` is not yet a zombie (a killed child no one has reaped yet is)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[:1] != ["Z"]


def _force_exit(signum: int) -> None:
    with contextlib.suppress(Exception):
        final_cleanup()
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


def _handle(signum: int, frame: FrameType | None) -> None:
    global _pending, _received, _redelivering
    if _exiting or (_received is not None and not _redelivering):
        return  # already unwinding: let the cleanup finish
    _redelivering = False
    if _received is None:
        _received = signum
        _stopping.set()
        _start_watchdog(signum)
        end_children()
    if _deferring:
        _pending = signum
        return
    if _swallows_exceptions(frame):
        _redeliver(signum)
        return
    raise Terminated(signum)


def _handle_interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C stays a plain KeyboardInterrupt, except inside `deferred()`, where it waits
    for the step to end like SIGTERM does (a temporary file created but not yet named)."""
    global _pending, _redelivering
    if _exiting:
        return
    _redelivering = False
    _start_watchdog(signum)
    if _deferring:
        _pending = signum
        return
    end_children()  # `kill -INT` reaches only us; a terminal's Ctrl-C reaches them too
    if _swallows_exceptions(frame):
        _redeliver(signum)
        return
    raise KeyboardInterrupt


# Python prints and drops an exception raised in a weakref callback (the import system's
# module locks are released in one, `cb`) or in `__del__`: the signal would be lost and the
# build would go on. A signal that lands there is delivered again a moment later.
_SWALLOWING = frozenset({"__del__", "cb", "_remove", "_remove_dead_weakref"})
REDELIVER_AFTER = 0.02
_redelivering = False
_exiting = False


def _swallows_exceptions(frame: FrameType | None) -> bool:
    """True when an exception raised in `frame` would be printed and dropped by Python."""
    if frame is None:
        return False
    code = frame.f_code
    return code.co_name in _SWALLOWING or code.co_filename.startswith("<frozen importlib")


def _redeliver(signum: int) -> None:
    """Send `signum` to the main thread again in REDELIVER_AFTER seconds."""
    global _redelivering
    _redelivering = True
    main = threading.main_thread().ident

    def again() -> None:
        with contextlib.suppress(OSError, ValueError):
            if main is not None:
                signal.pthread_kill(main, signum)

    timer = threading.Timer(REDELIVER_AFTER, again)
    timer.daemon = True
    timer.start()


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
    """Run the block whole: a termination signal that arrives inside is raised after it.

    Only the main thread's blocks hold a signal back. Signals are raised in the main
    thread alone, so a worker's block is never cut by one; held back for it, the signal
    would be raised in the worker when its block ends, where it is lost. A worker whose
    files the main thread's cleanup removes is stopped and joined before that cleanup."""
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            end_children()  # those the block started after the signal arrived
            if sys.exc_info()[0] is None:
                raise Terminated(signum)
