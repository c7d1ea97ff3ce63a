"""The proof's answers cross the box's wall as untrusted data.

The interpreter writes one JSON object per line on its stdout (in_target.py), and
the layer's code runs in that process: it can write anything there, print without
end, exit early, fork, or never exit. So the host reads both pipes with caps and one
deadline for the whole run (`run_boxed`), kills the box's process group when the
deadline passes, and parses the answer strictly (`parse_records`): a line that is
not a JSON object of the expected shape is a failed proof with a message, never a
traceback or a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from lambdalayer.common import interrupt
from lambdalayer.proof.target_run import HandlerResult, ImportResult

ANSWER_BYTES = 16 * 1024 * 1024  # the results stream, at most
LINE_BYTES = 1024 * 1024  # one record, at most
STDERR_TAIL = 64 * 1024  # the last bytes of stderr kept for the message
_TEXT_CHARS = 64 * 1024  # an error or traceback shown, at most


@dataclass(frozen=True, kw_only=True)
class BoxedAnswer:
    """What a boxed run said: its results stream (capped), the tail of its stderr, and
    `crash`, why it did not end normally (non-zero exit, signal, timeout, too much)."""

    stdout: bytes
    stderr_tail: str
    crash: str | None


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the first `keep` bytes (or, with `tail`, the
    last ones); what lies past them is read and dropped, so the writer never blocks."""

    def __init__(self, pipe: Any, keep: int, *, tail: bool = False) -> None:
        super().__init__(daemon=True)
        self.pipe, self.keep, self.tail = pipe, keep, tail
        self.data = bytearray()
        self.overflow = False

    def run(self) -> None:
        try:
            while chunk := self.pipe.read1(65536):
                if self.tail:
                    self.data += chunk
                    del self.data[:-self.keep]
                elif len(self.data) + len(chunk) > self.keep:
                    self.overflow = True
                else:
                    self.data += chunk
        except (OSError, ValueError):
            pass


def start_boxed(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]
                ) -> Popen[bytes]:
    """Start a boxed run in its own process group, tracked for the last cleanup."""
    with interrupt.deferred():
        process = Popen(list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        start_new_session=True)
        interrupt.track(process)
    out, err = _Drain(process.stdout, ANSWER_BYTES), _Drain(process.stderr, STDERR_TAIL,
                                                             tail=True)
    out.start()
    err.start()
    process.drains = (out, err)  # type: ignore[attr-defined]
    return process


def _kill(process: Popen[bytes]) -> None:
    """The whole process group (an unboxed run's children too), then the run itself."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.kill()


def finish_boxed(process: Popen[bytes], *, timeout: float) -> BoxedAnswer:
    """Wait for `process` at most `timeout` seconds in all, then kill it; its answer."""
    out, err = process.drains  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    crash: str | None = None
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        crash = f"timed out after {timeout:.0f} s"
    finally:
        _kill(process)  # nothing it started outlives it
        process.wait()
        interrupt.untrack(process)
    # The pipes close when the last process holding them is gone; a second at most.
    for drain in (out, err):
        drain.join(timeout=max(1.0, deadline - time.monotonic()) if crash is None else 1.0)
    tail = bytes(err.data).decode("utf-8", "replace")
    if crash is None and process.returncode:
        lines = "\n".join(tail.strip().splitlines()[-20:])
        how = (f"killed by signal {-process.returncode}" if process.returncode < 0
               else f"exit status {process.returncode}")
        crash = f"the interpreter stopped ({how})" + (f":\n{lines}" if lines else "")
    if crash is None and out.overflow:
        crash = f"its answer was over {ANSWER_BYTES // (1024 * 1024)} MiB, so it was refused"
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return BoxedAnswer(stdout=bytes(out.data), stderr_tail=tail, crash=crash)


def run_boxed(command: Sequence[str], *, cwd: Path, env: Mapping[str, str],
              timeout: float) -> BoxedAnswer:
    """`start_boxed` then `finish_boxed`."""
    return finish_boxed(start_boxed(command, cwd=cwd, env=env), timeout=timeout)


@dataclass(kw_only=True)
class ParsedAnswer:
    """The records of one run, checked; `problem` names the first malformed one."""

    records: list[dict[str, Any]] = field(default_factory=list)
    imports: list[ImportResult] = field(default_factory=list)
    handler: HandlerResult | None = None
    pending: tuple[str, str | None] | None = None  # (module, handler) begun, not ended
    version: str | None = None
    glibc: str | None = None
    mapped: tuple[str, ...] | None = None
    misses: tuple[str, ...] = ()
    covered: tuple[str, ...] = ()  # an early compile helper's: names of wheels compiled whole
    ended: bool = False
    problem: str | None = None


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return value[:_TEXT_CHARS]


def _number(record: Mapping[str, Any], key: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _flag(record: Mapping[str, Any], key: str) -> bool:
    value = record.get(key)
    if not isinstance(value, bool):
        raise ValueError(f"{key} is not true or false")
    return value


def _texts(record: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of text")
    return tuple(value)


def _take(parsed: ParsedAnswer, record: dict[str, Any]) -> None:
    """One record into `parsed`; ValueError when it is not of its kind's shape."""
    kind = record.get("kind")
    if kind == "start":
        parsed.version, parsed.glibc = _text(record, "version"), _text(record, "glibc")
    elif kind == "begin":
        parsed.pending = (_text(record, "module") or "", _text(record, "handler"))
    elif kind == "import":
        parsed.pending = None
        parsed.imports.append(ImportResult(
            module=_text(record, "module") or "", ok=_flag(record, "ok"),
            seconds=_number(record, "seconds"), origin=_text(record, "origin"),
            error=_text(record, "error"), traceback=_text(record, "traceback")))
    elif kind == "handler":
        parsed.pending = None
        parsed.handler = HandlerResult(
            handler=_text(record, "handler") or "", ok=_flag(record, "ok"),
            seconds=_number(record, "seconds"), invoked=_flag(record, "invoked"),
            result=record.get("result"), origin=_text(record, "origin"),
            error=_text(record, "error"), traceback=_text(record, "traceback"))
    elif kind == "mapped":
        parsed.mapped = None if record.get("files") is None else _texts(record, "files")
    elif kind == "misses":
        parsed.misses = _texts(record, "files")
    elif kind == "stored":
        _number(record, "bytes")
    elif kind == "covered":
        parsed.covered += _texts(record, "names")
    elif kind == "end":
        parsed.ended = True
    else:
        raise ValueError(f"unknown kind {str(kind)[:40]!r}")


def parse_records(data: bytes) -> ParsedAnswer:
    """Every line of `data` as a record of in_target.py's shapes; the first line that is
    not one ends the parse, named in `problem` (a failed proof, never an exception)."""
    parsed = ParsedAnswer()
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            if len(line) > LINE_BYTES:
                raise ValueError(f"over {LINE_BYTES} bytes")
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            _take(parsed, record)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            parsed.problem = (f"the proof's answer is malformed (line {number}: "
                              f"{str(exc)[:200]}), so the layer is not taken as proven")
            break
        parsed.records.append(record)
    return parsed
