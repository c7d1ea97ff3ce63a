"""SIGTERM and SIGHUP (a cancelled CI job, a closed terminal) end `build` like Ctrl-C.

Real `lambdalayer build` processes of numpy + pandas (~100 MB unzipped) from the
real index, signalled at several stages; each has its own TMPDIR so a leftover
work directory shows, and the previous zip and manifest in dist/ must survive
byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]

ARGS = ["np", "-p", "numpy", "-p", "pandas", "--runtime", "python3.12", "--arch", "x86_64"]


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())}


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line names `text` (a uv left running would)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signals") / "dist"
    run = run_cli("build", *ARGS, "--out", str(out))
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.parametrize(("signum", "stage", "delay"), [
    (signal.SIGTERM, "resolving", 0.3),
    (signal.SIGHUP, "auditing", 0.0),
    (signal.SIGTERM, "writing", 0.5),
    (signal.SIGINT, "resolving", 0.3),  # Ctrl-C
])
def test_signal_mid_build_cleans_up(built: Path, tmp_path: Path, signum: int, stage: str,
                                    delay: float) -> None:
    before = snapshot(built)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir),
           # A cold member cache: zipping takes long enough to be interrupted.
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdalayer", "build", *ARGS, "--out", str(built), "--force"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith(f"… {stage}"):
            break
    else:
        pytest.fail(f"never reached {stage!r}: {''.join(seen)}")
    time.sleep(delay)
    process.send_signal(signum)
    _stdout, rest = process.communicate(timeout=60)
    stderr = "".join(seen) + rest
    assert process.returncode == 128 + signum, stderr
    said = ("Interrupted (Ctrl-C)" if signum == signal.SIGINT
            else f"Terminated ({signal.Signals(signum).name})")
    [line] = [ln for ln in stderr.splitlines() if ln.startswith(said)]
    # One line saying what is left: finished zips kept, temporary files removed.
    assert "kept: the zips and manifests finished before it" in line, stderr
    assert "removed: temporary files and the unfinished layer" in line, stderr
    assert "Aborted." not in stderr
    assert "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == []  # the work directory (~100 MB) is gone
    assert snapshot(built) == before  # no partial zip, the old pair intact
    assert processes_mentioning(str(tmpdir)) == []  # uv did not outlive us
