"""Total budgets for parsing untrusted files: entries, string bytes and wall-clock time.

A cap per loop is not a cap: a crafted ELF whose version-need entries all share one
chain of auxiliary entries multiplies two capped loops into a million strings. So
every parser charges one budget for everything it reads from a file, and that budget
also charges the run's budget (all files of one audit), so twenty hostile files cost
at most the run's total. Over budget raises `OverBudget`; the parser turns it into a
finding about that file, never a MemoryError. docs/sandbox-and-limits.md lists the
numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class OverBudget(ValueError):
    """A parser reached its budget: the input is far past anything real (or hostile)."""


@dataclass(frozen=True)
class Limits:
    entries: int  # table entries visited (dynamic tags, version needs, auxiliaries, ...)
    string_bytes: int  # bytes of every string taken from the file, repeats included
    seconds: float  # wall-clock, from the budget's creation


# No real shared library comes near these: libstdc++ has ~40 dynamic entries and ~30
# version auxiliaries; the longest legal string (a path list) is a few KB.
PER_FILE = Limits(entries=16_384, string_bytes=1 << 20, seconds=5.0)
# One audit of a layer: ~4,000 files of a big layer cost ~1 ms each.
PER_RUN = Limits(entries=4_000_000, string_bytes=64 << 20, seconds=300.0)
# A dist-info RECORD (common/distinfo.read_record): the largest real ones list some 20,000
# files in 2-3 MB; a row is a few hundred bytes of memory once parsed, so the run's total
# (every RECORD of one layer, or of both in `diff`) stays near 250 MB at worst.
RECORD_PER_FILE = Limits(entries=250_000, string_bytes=32 << 20, seconds=10.0)
RECORD_PER_RUN = Limits(entries=1_000_000, string_bytes=128 << 20, seconds=120.0)


class Budget:
    """What is left of `limits`; `spend` also charges `parent` (the run's budget)."""

    def __init__(self, limits: Limits, *, scope: str, parent: Budget | None = None) -> None:
        self.limits = limits
        self.scope = scope  # "file" or "run", for the message
        self.parent = parent
        self.entries = 0
        self.string_bytes = 0
        self.deadline = time.monotonic() + limits.seconds

    def child(self, limits: Limits = PER_FILE) -> Budget:
        """A per-file budget that also draws on this one."""
        return Budget(limits, scope="file", parent=self)

    def spend(self, *, entries: int = 0, string_bytes: int = 0) -> None:
        """Charge this budget (and the parent's); OverBudget past any limit."""
        self.entries += entries
        self.string_bytes += string_bytes
        if self.entries > self.limits.entries:
            raise OverBudget(f"more than {self.limits.entries:,} table entries per {self.scope}")
        if self.string_bytes > self.limits.string_bytes:
            raise OverBudget(f"more than {self.limits.string_bytes:,} bytes of strings per "
                             f"{self.scope}")
        if time.monotonic() > self.deadline:
            raise OverBudget(f"more than {self.limits.seconds:g} s of parsing per {self.scope}")
        if self.parent is not None:
            self.parent.spend(entries=entries, string_bytes=string_bytes)
