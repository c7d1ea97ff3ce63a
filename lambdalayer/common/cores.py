"""Cores claimed by a step on a build's critical path, so that work with slack waits.

A first build's proof runs its lone import beside a helper compiling the layer's
bytecode (proof/runner.py): on a 2-core machine that is every core, and the zip
written beside the proof (pipeline/zips.py), which only has to be done when the proof
is, took a third of them from the import (numpy + pandas: the import 1.1 s alone, 1.7 s
beside the zip). The proof claims its cores while that import runs; the zip waits for
a spare core first and is then written while the helper compiles what the import
missed. Only waiting is coordinated here: nothing is ever refused.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_CHANGED = threading.Condition()
_CLAIMED = [0]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@contextmanager
def claimed(cores: int) -> Iterator[None]:
    """`cores` cores are busy with critical work while the block runs."""
    with _CHANGED:
        _CLAIMED[0] += cores
    try:
        yield
    finally:
        with _CHANGED:
            _CLAIMED[0] -= cores
            _CHANGED.notify_all()


def spare() -> bool:
    """True when a core is left over by the claims."""
    with _CHANGED:
        return _CLAIMED[0] < _cores()


def wait_for_spare(stop: threading.Event | None = None, poll: float = 0.05) -> bool:
    """Return once a core is spare (True), or when `stop` is set first (False)."""
    with _CHANGED:
        while _CLAIMED[0] >= _cores():
            if stop is not None and stop.is_set():
                return False
            _CHANGED.wait(poll)
    return True
