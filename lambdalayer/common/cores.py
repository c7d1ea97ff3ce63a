"""Cores claimed by a step on a build's critical path, so that work with slack waits.

A first build's proof runs its lone import beside a helper compiling the layer's
bytecode (proof/runner.py): on a 2-core machine that is every core, and the zip
written beside the proof (pipeline/zips.py), which only has to be done when the proof
is, took a third of them from the import (numpy + pandas: the import 1.1 s alone, 1.7 s
beside the zip). The proof claims its cores while that import runs; the zip waits for
a spare core first and is then written while the helper compiles what the import
missed. The helper's core is given back as soon as the helper is done (a small layer's
helper ends long before its import), so the zip is written beside the import then.
Only waiting is coordinated here: nothing is ever refused.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_CHANGED = threading.Condition()
_CLAIMED = [0]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@contextmanager
def claimed(cores: int) -> Iterator[Callable[[], None]]:
    """`cores` cores are busy with critical work while the block runs. The block gets
    `give_back`: one core returned early (a part of the work ended), at most `cores`
    times in all; the rest are returned when the block ends."""
    held = [cores]

    def give_back(count: int = 1) -> None:
        with _CHANGED:
            count = min(count, held[0])
            held[0] -= count
            _CLAIMED[0] -= count
            _CHANGED.notify_all()

    with _CHANGED:
        _CLAIMED[0] += cores
    try:
        yield give_back
    finally:
        give_back(held[0])


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
