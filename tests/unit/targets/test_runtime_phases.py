"""Lambda's deprecation phases from runtimes.toml, and runtimes botocore knows that it lacks."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import sys
from pathlib import Path

import pytest

from lambdalayer.targets.lambda_model import (
    botocore_lambda_model,
    missing_python_runtimes,
    model_runtimes,
    note_once,
)
from lambdalayer.targets.runtimes import load_runtime_table, parse_runtime_table
from tests.helpers import run_cli

DAY = dt.date(2026, 12, 2)
TABLE = load_runtime_table()


@pytest.mark.parametrize(("runtime", "day", "phase"), [
    ("python3.10", dt.date(2026, 10, 30), "supported"),
    ("python3.10", dt.date(2026, 10, 31), "deprecated"),
    ("python3.10", DAY, "deprecated"),
    ("python3.10", dt.date(2027, 2, 1), "create blocked"),
    ("python3.10", dt.date(2027, 3, 3), "update blocked"),
    ("python3.9", DAY, "update blocked"),
    ("python3.11", DAY, "supported"),
    ("python3.14", DAY, "supported"),
])
def test_phase_as_of_a_day(runtime: str, day: dt.date, phase: str) -> None:
    assert TABLE.runtime(runtime).phase(day) == phase


def test_every_runtime_has_a_source_and_a_date_or_says_why_not() -> None:
    for runtime in TABLE.runtimes.values():
        assert runtime.source, runtime.name
        assert runtime.deprecated is not None or "No date set" in runtime.source, runtime.name


def test_default_targets_leave_out_deprecated_runtimes() -> None:
    assert [r.name for r in TABLE.current(DAY)] == [
        "python3.11", "python3.12", "python3.13", "python3.14", "python3.15"]


def test_the_warning_for_a_named_deprecated_runtime_gives_its_phase_and_what_comes() -> None:
    sentence = TABLE.runtime("python3.10").phase_sentence(DAY)
    assert "deprecated by Lambda on 2026-10-31" in sentence
    assert "creating functions on it is blocked from 2027-02-01" in sentence
    later = TABLE.runtime("python3.10").phase_sentence(dt.date(2027, 2, 10))
    assert "refused to create functions on python3.10 since 2027-02-01" in later


_HEAD = """[os.al2]
name = "Amazon Linux 2"
glibc = "2.26"
uv_manylinux = "2_17"
libstdcxx = "3.4.24"
cxxabi = "1.3.11"
[architectures]
x86_64 = "x86_64"
arm64 = "aarch64"
"""


@pytest.mark.parametrize(("entry", "error"), [
    ('deprecated = "2026-10-31"\nblock_create = "2026-01-01"\nsource = "s"',
     "dates must fall in the order"),
    ('deprecated = "2026-10-31"', "need a `source`"),
    ('deprecated = "31.10.2026"\nsource = "s"', "not a date"),
    ('deprecated = "2026-10-31"\nsource = "s"\nunverified = ["eol"]', "not a date field"),
])
def test_a_bad_lifecycle_entry_is_named(entry: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_runtime_table(f'{_HEAD}[runtimes."python3.10"]\nos = "al2"\n{entry}\n')


def _fake_botocore(root: Path, runtimes: list[str], *, gz: bool = True) -> Path:
    """A botocore data tree whose Lambda model lists `runtimes`; returns its data dir."""
    data = root / "botocore" / "data"
    model = data / "lambda" / "2015-03-31" / ("service-2.json.gz" if gz else "service-2.json")
    model.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps({"shapes": {"Runtime": {"type": "string", "enum": runtimes}}}).encode()
    model.write_bytes(gzip.compress(raw) if gz else raw)
    (root / "botocore" / "__init__.py").write_text("")
    return data


def test_runtimes_botocore_lists_beyond_the_table(tmp_path: Path) -> None:
    data = _fake_botocore(tmp_path, ["python3.8", "python3.15", "python3.16", "nodejs24.x"])
    model = botocore_lambda_model(data)
    assert model is not None
    assert missing_python_runtimes(model_runtimes(model), TABLE.runtimes) == ["python3.16"]
    # An old runtime the table dropped is not news.
    assert missing_python_runtimes(["python3.8", "python3.12"], TABLE.runtimes) == []


def test_a_build_says_it_once_per_model(tmp_path: Path) -> None:
    data = _fake_botocore(tmp_path, ["python3.15", "python3.16"], gz=False)
    record = tmp_path / "cache" / "record.json"
    first = note_once(TABLE.runtimes, data_dir=data, record=record)
    assert first is not None and "python3.16" in first
    assert note_once(TABLE.runtimes, data_dir=data, record=record) is None
    # botocore updated: read again, and say what is new.
    model = data / "lambda" / "2015-03-31" / "service-2.json"
    model.write_text(json.dumps({"shapes": {"Runtime": {"enum": ["python3.17"]}}}))
    os.utime(model, ns=(1, 1))
    again = note_once(TABLE.runtimes, data_dir=data, record=record)
    assert again is not None and "python3.17" in again


def test_an_unreadable_model_says_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    model = data / "lambda" / "2015-03-31" / "service-2.json.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"not gzip")
    assert note_once(TABLE.runtimes, data_dir=data, record=tmp_path / "r.json") is None
    assert botocore_lambda_model(tmp_path / "nothing") is None


def test_runtimes_command_shows_phases_and_a_runtime_botocore_adds(tmp_path: Path) -> None:
    _fake_botocore(tmp_path, ["python3.14", "python3.15", "python3.16"])
    run = run_cli("runtimes", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    doc = run.json()
    rows = {row["runtime"]: row for row in doc["runtimes"]}
    # Today's date, not a literal: on and after 2026-10-31 python3.10 is past support.
    if dt.date.fromisoformat(doc["today"]) >= dt.date(2026, 10, 31):
        assert rows["python3.10"]["phase"] != "supported"
        assert rows["python3.10"]["default_target"] is False
    assert rows["python3.10"]["deprecated"] == "2026-10-31"
    assert doc["not_in_table"] == ["python3.16"]
    plain = run_cli("runtimes", env={"PYTHONPATH": str(tmp_path)})
    assert plain.returncode == 0, plain.stderr
    assert "python3.16" in plain.stderr and "does not know it yet" in plain.stderr
    line = next(li for li in plain.stdout.splitlines() if li.startswith("python3.10 "))
    assert "deprecated 2026-10-31" in line
    # The architectures docs/commands/runtimes.md promises, in the log line and the table.
    assert "(glibc 2.26; x86_64, arm64)" in line
    assert rows["python3.12"]["architectures"] == ["x86_64", "arm64"]


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal needs a POSIX host")
def test_runtimes_table_on_a_terminal_has_an_architectures_column() -> None:
    import os
    import pty
    import subprocess

    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "lambdalayer", "runtimes"], stdout=follower,
                          stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"},
                          timeout=60)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0
    text = shown.decode("utf-8", "replace")
    assert "architectures" in text and "x86_64, arm64" in text
