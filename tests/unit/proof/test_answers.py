"""The proof's answers are untrusted data: any bytes parse into records or a named
problem, never an exception; a run is read with caps and one deadline."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalayer.proof import answers
from lambdalayer.proof.answers import parse_records, run_boxed

GOOD = [
    {"kind": "start", "version": "3.12.7", "glibc": "2.36"},
    {"kind": "begin", "module": "six"},
    {"kind": "import", "module": "six", "ok": True, "seconds": 0.01, "origin": "/opt/six.py"},
    {"kind": "begin", "module": "bad"},
    {"kind": "import", "module": "bad", "ok": False, "seconds": 1, "error": "E: x",
     "traceback": "T"},
    {"kind": "mapped", "files": ["python/a.so"]},
    {"kind": "misses", "files": ["/opt/python/six.py"]},
    {"kind": "end"},
]


def _lines(records: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_a_well_formed_answer_is_read_whole() -> None:
    parsed = parse_records(_lines(GOOD))
    assert parsed.problem is None and parsed.ended and parsed.pending is None
    assert (parsed.version, parsed.glibc) == ("3.12.7", "2.36")
    assert [(i.module, i.ok, i.seconds) for i in parsed.imports] == [("six", True, 0.01),
                                                                     ("bad", False, 1.0)]
    assert parsed.imports[1].error == "E: x" and parsed.mapped == ("python/a.so",)
    assert parsed.misses == ("/opt/python/six.py",)


def test_a_begun_import_without_its_end_is_pending() -> None:
    parsed = parse_records(_lines(GOOD[:4]))
    assert parsed.pending == ("bad", None) and not parsed.ended


def test_a_handler_record_is_read() -> None:
    parsed = parse_records(_lines([{"kind": "begin", "module": "h", "handler": "h.f"},
                                   {"kind": "handler", "handler": "h.f", "ok": True,
                                    "seconds": 0.5, "invoked": True, "result": {"a": 1}}]))
    assert parsed.handler is not None and parsed.handler.result == {"a": 1}
    assert parsed.pending is None


BAD = {
    "not json": b"not json\n",
    "a list": b"[1, 2]\n",
    "a bomb": b"[" * 100_000 + b"\n",
    "module not text": _lines([{"kind": "import", "module": 1, "ok": True, "seconds": 0}]),
    "ok not a flag": _lines([{"kind": "import", "module": "m", "ok": 1, "seconds": 0}]),
    "seconds a flag": _lines([{"kind": "import", "module": "m", "ok": True, "seconds": True}]),
    "seconds text": _lines([{"kind": "import", "module": "m", "ok": True, "seconds": "1"}]),
    "files not a list": _lines([{"kind": "misses", "files": "x"}]),
    "files not text": _lines([{"kind": "mapped", "files": [1]}]),
    "unknown kind": _lines([{"kind": "verdict", "ok": True}]),
    "no kind": _lines([{"ok": True}]),
    "a long line": b'{"kind": "end", "x": "' + b"a" * answers.LINE_BYTES + b'"}\n',
    "stored not a number": _lines([{"kind": "stored", "bytes": "9"}]),
    "invoked not a flag": _lines([{"kind": "handler", "handler": "h", "ok": True,
                                   "seconds": 0, "invoked": "yes"}]),
}


def test_each_malformed_answer_is_named_and_stops_the_parse() -> None:
    for name, data in BAD.items():
        parsed = parse_records(_lines(GOOD[:2]) + data + _lines([{"kind": "end"}]))
        assert parsed.problem is not None, name
        assert "malformed (line 3" in parsed.problem, (name, parsed.problem)
        assert not parsed.ended, name  # nothing after the bad line counts


def test_a_line_just_under_the_cap_is_read() -> None:
    line = b'{"kind": "end", "x": "' + b"a" * (answers.LINE_BYTES - 40) + b'"}'
    assert len(line) <= answers.LINE_BYTES
    assert parse_records(line + b"\n").ended


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    parsed = parse_records(data)
    assert parsed.problem is None or "malformed" in parsed.problem


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["kind", "module", "ok", "seconds", "files",
                                                 "handler", "invoked", "bytes", "error"]),
                                st.one_of(st.none(), st.booleans(), st.integers(),
                                          st.floats(allow_nan=False), st.text(max_size=5),
                                          st.lists(st.text(max_size=3), max_size=2),
                                          st.sampled_from(["start", "begin", "import", "end",
                                                           "handler", "mapped", "misses",
                                                           "stored"]))),
                max_size=8))
def test_any_json_records_parse_without_raising(records: list[dict[str, object]]) -> None:
    parse_records(_lines(records))


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_run_that_floods_its_answer_is_refused(tmp_path: Path) -> None:
    answer = run_boxed(_python(
        "import sys\nfor _ in range(20):\n    sys.stdout.write('x' * (1 << 20))\n"),
        cwd=tmp_path, env={}, timeout=60)
    assert answer.crash is not None and "over 16 MiB" in answer.crash
    assert len(answer.stdout) <= answers.ANSWER_BYTES


def test_stderr_keeps_its_tail_only(tmp_path: Path) -> None:
    answer = run_boxed(_python(
        "import sys\nsys.stderr.write('a' * 200000 + 'THE END')\nsys.exit(3)\n"),
        cwd=tmp_path, env={}, timeout=60)
    assert len(answer.stderr_tail) <= answers.STDERR_TAIL
    assert answer.stderr_tail.endswith("THE END")
    assert answer.crash is not None and answer.crash.startswith(
        "the interpreter stopped (exit status 3)")


def test_one_deadline_for_the_whole_run_and_its_children(tmp_path: Path) -> None:
    """A run that forks a child holding the pipes and never ends is killed at the deadline,
    its process group too: the read does not wait for the child."""
    answer = run_boxed(_python(
        "import os, time\nchild = os.fork()\nif child == 0:\n    time.sleep(60)\n"
        "    open('child finished', 'w').close()\n    os._exit(0)\n"
        "open('child', 'w').write(str(child))\ntime.sleep(60)\n"),
        cwd=tmp_path, env={}, timeout=2)
    assert answer.crash == "timed out after 2 s"
    # Order, not seconds: the answer came back before the child's sleep was over...
    assert not (tmp_path / "child finished").exists()
    # ...and the child went with its group (gone, or a zombie until init reaps it; the
    # 30 s are only for a child that was never killed).
    stat = Path(f"/proc/{int((tmp_path / 'child').read_text())}/stat")
    ends = time.monotonic() + 30
    while _alive(stat):
        assert time.monotonic() < ends, "the run's child outlived its deadline"
        time.sleep(0.01)


def _alive(stat: Path) -> bool:
    try:
        return stat.read_text().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_signal_is_named(tmp_path: Path) -> None:
    answer = run_boxed(_python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"),
                       cwd=tmp_path, env={}, timeout=30)
    assert answer.crash is not None and "killed by signal 11" in answer.crash


def test_the_whole_answer_is_read_before_it_is_judged(tmp_path: Path) -> None:
    """A run that writes its answer and exits at once: every byte is there."""
    answer = run_boxed(_python(
        "import os\nline = b'{\"kind\": \"start\"}\\n'\n"
        "for _ in range(4):\n    os.write(1, line * 150000)\nos._exit(0)\n"),
        cwd=tmp_path, env={}, timeout=60)
    assert answer.crash is None
    assert len(answer.stdout) == 4 * 150000 * len(b'{"kind": "start"}\n')
