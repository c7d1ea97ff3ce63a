"""A reader that closes our output (`lambdalayer build ... | head -3`) stops the output,
not the work: docs/exit-codes.md.

Python ignores SIGPIPE, so a write to a closed pipe raises BrokenPipeError wherever
it happens: in a progress line halfway through a build, which would then unwind and
leave no zip. `guard()` wraps stdout and stderr so the first such write points the
stream's file descriptor at /dev/null (later writes and the final flush then succeed
silently) and the command carries on to its own end and its own exit status.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported on the way to an answered rebuild
if TYPE_CHECKING:
    from typing import Any, TextIO

_broken = False


class _QuietWhenClosed:
    """A text stream that drops what it writes once its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            _silence(self._stream)
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            _silence(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _silence(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so what is still buffered and all
    later writes (ours, the interpreter's final flush) go nowhere without an error."""
    global _broken
    _broken = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
        stream.flush()
    except (OSError, ValueError):
        pass


def guard() -> None:
    """Wrap sys.stdout and sys.stderr (once; main() calls it before any output)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _QuietWhenClosed):
            setattr(sys, name, _QuietWhenClosed(stream))


def broken() -> bool:
    """Whether a reader closed our output during this command."""
    return _broken


def silence_after_broken_pipe() -> None:
    """For a BrokenPipeError that escaped the wrappers (a write to the raw stream)."""
    for stream in (sys.__stdout__, sys.__stderr__):
        if stream is not None:
            try:
                stream.write("")
                stream.flush()
            except BrokenPipeError:
                _silence(stream)
            except (OSError, ValueError):
                pass
