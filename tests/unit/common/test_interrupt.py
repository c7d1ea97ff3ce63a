"""A signal always ends the command, wherever the main thread was when it landed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A signal whose handler runs inside `__del__`: Python prints and drops any exception raised
# there ("Exception ignored in"), as in the import system's module-lock callback where a
# real build once lost its SIGTERM and ran on for its 20 s grace time.
_SIGNAL_IN_DEL = """
import os, signal, sys, time
from lambdalayer.common import interrupt
interrupt.install()

class Collected:
    def __del__(self):
        os.kill(os.getpid(), signal.{name})
        for _ in range(100_000):  # the handler runs between two of these bytecodes
            pass

try:
    Collected()
    started = time.monotonic()
    while time.monotonic() - started < 5:
        time.sleep(0.01)
    print("signal lost", flush=True)
except KeyboardInterrupt as stop:  # Terminated is one too
    print(type(stop).__name__, flush=True)
"""


@pytest.mark.parametrize(("name", "raised"), [("SIGTERM", "Terminated"),
                                              ("SIGINT", "KeyboardInterrupt")])
def test_signal_landing_in_del_is_delivered_again(name: str, raised: str) -> None:
    run = subprocess.run([sys.executable, "-c", _SIGNAL_IN_DEL.replace("{name}", name)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert "Exception ignored" not in run.stderr, run.stderr
    # Raised while the loop still ran (5 s), not lost and not left to the 20 s grace time.
    assert run.stdout.split() == [raised], run.stdout + run.stderr


def _script(body: str) -> subprocess.CompletedProcess[str]:
    prelude = ("import os, signal, subprocess, sys, time\n"
               "from lambdalayer.common import interrupt\n"
               "interrupt.install()\n")
    return subprocess.run([sys.executable, "-c", prelude + body], capture_output=True,
                          text=True, timeout=60)


def test_a_second_sigterm_does_not_cut_the_cleanup_short() -> None:
    run = _script(
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "except interrupt.Terminated:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # a CI runner's second TERM\n"
        "    time.sleep(0.2)\n"
        "    print('cleanup finished')\n")
    assert run.stdout == "cleanup finished\n", run.stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_after_the_command_finished_changes_nothing(name: str) -> None:
    run = _script(
        "interrupt.finishing()\n"
        f"os.kill(os.getpid(), signal.{name})\n"
        "time.sleep(0.2)\n"
        "print('exit status stands')\n")
    assert (run.returncode, run.stdout) == (0, "exit status stands\n"), run.stderr
    assert "Traceback" not in run.stderr


def test_ctrl_c_inside_a_deferred_step_waits_for_its_end() -> None:
    run = _script(
        "try:\n"
        "    with interrupt.deferred():\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(0.1)\n"
        "        print('step whole', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after it')\n")
    assert run.stdout == "step whole\ninterrupted after it\n", run.stderr


def test_waiting_for_children_ends_when_they_are_gone_and_not_before() -> None:
    # In a process of its own: the test session's own children (servers) would count.
    run = _script(
        "running = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "started = time.monotonic()\n"
        "interrupt._wait_children_gone(deadline=0.5)  # a live child: the whole deadline\n"
        "print(round(time.monotonic() - started, 1))\n"
        "running.kill()\n"
        "interrupt._wait_children_gone(deadline=600)  # killed, not reaped: returns\n"
        "print('returned')\n")
    # The second wait returns only because the child is gone: its deadline is past the
    # run's own 60 s timeout, which fails a wait that does not see it.
    waited_live, returned = run.stdout.split()
    assert float(waited_live) >= 0.5 and returned == "returned", run.stderr


def test_no_frame_is_a_place_that_raises() -> None:
    from lambdalayer.common import interrupt

    assert interrupt._swallows_exceptions(None) is False


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_worker_threads_deferred_step_does_not_hold_the_signal_back(name: str) -> None:
    """A zip written in a worker thread while the main thread waits on the proof: a signal
    then ends the main thread at once, and is not raised later in the worker, where it
    would be lost (the build would run on to its 20 s grace time)."""
    run = _script(
        "import threading\n"
        "inside = threading.Event()\n"
        "def worker():\n"
        "    with interrupt.deferred():\n"
        "        inside.set()\n"
        "        time.sleep(1.5)\n"
        "        print('worker step ending', flush=True)\n"
        "    print('worker step whole', flush=True)\n"
        "thread = threading.Thread(target=worker)\n"
        "thread.start()\n"
        "inside.wait()\n"
        "try:\n"
        f"    os.kill(os.getpid(), signal.{name})\n"
        "    time.sleep(5)\n"
        "    print('signal lost', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('main stopped', flush=True)\n"
        "thread.join()\n")
    # Order, not seconds: the main thread stopped while the worker's step still ran,
    # and that step was never cut.
    assert run.stdout.splitlines() == ["main stopped", "worker step ending",
                                       "worker step whole"], run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "Exception" not in run.stderr
