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
    print(type(stop).__name__, round(time.monotonic() - started, 2), flush=True)
"""


@pytest.mark.parametrize(("name", "raised"), [("SIGTERM", "Terminated"),
                                              ("SIGINT", "KeyboardInterrupt")])
def test_signal_landing_in_del_is_delivered_again(name: str, raised: str) -> None:
    run = subprocess.run([sys.executable, "-c", _SIGNAL_IN_DEL.replace("{name}", name)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert "Exception ignored" not in run.stderr, run.stderr
    assert run.stdout.split()[0] == raised, run.stdout + run.stderr
    assert float(run.stdout.split()[1]) < 1.0  # a moment later, not at the grace time
