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
from tests.package_index import make_wheel

# The numpy + pandas builds; the sweep below builds a local wheel (no network).
_REAL_INDEX = [pytest.mark.network, pytest.mark.slow]

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


@_REAL_INDEX[0]
@_REAL_INDEX[1]
@pytest.mark.parametrize(("signum", "stage", "delay"), [
    (signal.SIGTERM, "resolving", 0.3),
    (signal.SIGHUP, "auditing", 0.0),
    # The zip is written while the layer is proven (pipeline/zips.py): both are
    # under way 0.3 s in.
    (signal.SIGTERM, "proving", 0.3),
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
    # The wheels fetched for their deflate streams: none left half-downloaded.
    assert _leftovers(tmp_path / "cache") == []
    assert snapshot(built) == before  # no partial zip, the old pair intact
    assert processes_mentioning(str(tmpdir)) == []  # uv did not outlive us


def _leftovers(*folders: Path) -> list[str]:
    """Temporary files, partial zips and work directories left in `folders`."""
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else []:
            name = path.name
            if (".partial" in name or name.endswith(".tmp") or name.startswith(".tmp-")
                    or name.startswith("lambdalayer-")):
                found.append(str(path))
    return found


def test_signal_sweep_leaves_no_temporary_file(tmp_path: Path) -> None:
    """SIGTERM and SIGINT at 32 moments across a small build (start-up to the zip's
    rename): no `.partial`/temporary file or work directory survives, the exit code is
    143/130, and dist/ holds whole pairs only."""
    make_wheel(tmp_path, "tinypkg", "1.0")
    dist, tmpdir, cache = tmp_path / "dist", tmp_path / "tmp", tmp_path / "cache"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "LAMBDALAYER_CACHE_DIR": str(cache),
           "PYTHONFAULTHANDLER": "1"}
    args = [sys.executable, "-m", "lambdalayer", "build", "tiny", "-p",
            "./tinypkg-1.0-py3-none-any.whl", "--runtime", "python3.12", "--arch", "x86_64",
            "--no-proof", "--force", "--out", str(dist)]
    # One build without a signal says how long a build takes on this machine: the
    # moments are spread over it, so a fast or a loaded machine sweeps it all the same.
    timed = time.monotonic()
    subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, check=True)
    took = time.monotonic() - timed
    started = time.monotonic()
    outcomes: dict[int, int] = {}
    for index in range(32):
        signum = signal.SIGTERM if index % 2 == 0 else signal.SIGINT
        delay = took * (0.1 + 0.85 * index / 31)
        process = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signum)
        try:
            _out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # A hang: SIGABRT makes faulthandler print every thread's stack for the report.
            process.send_signal(signal.SIGABRT)
            _out, err = process.communicate(timeout=30)
            pytest.fail(f"still running 60 s after {signum.name} at {delay:.2f} s:\n"
                        f"{err[-6000:]}")
        # -signum: ended during Python's start-up, before lambdalayer handled signals (it
        # had written nothing yet); 0: the build finished first.
        assert process.returncode in (0, 128 + signum, -signum), (delay, process.returncode,
                                                                   err)
        # A signal during the interpreter's own start-up (importing click, before
        # lambdalayer's main runs) is Python's: it ends the process with -signum.
        assert "Traceback" not in err or process.returncode == -signum, (delay, err)
        assert _leftovers(dist, cache) == [], (delay, err)
        # The run's own TMPDIR: anything at all is a leftover (Python's probe file too).
        assert sorted(map(str, tmpdir.iterdir())) == [], (delay, err)
        if dist.exists():
            names = sorted(p.name for p in dist.iterdir() if not p.name.startswith("."))
            assert names in ([], ["tiny.cdx.json", "tiny.json", "tiny.zip"]), names
        outcomes[process.returncode] = outcomes.get(process.returncode, 0) + 1
    assert time.monotonic() - started < 90
    # The sweep reached inside the build, not only its start or its end.
    assert outcomes.get(143, 0) + outcomes.get(130, 0) >= 8, outcomes


def test_a_signal_during_a_wheel_download_leaves_no_partial_file(tmp_path: Path) -> None:
    """The wheel fetched for its deflate streams (docs/zip-format.md) is still arriving,
    from an index that stalls half-way, when SIGTERM comes: the build ends 143 and the
    half-downloaded file is gone from the cache."""
    import threading

    from tests.package_index import serve_index

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "llslow", "1.0",
               files={"llslow/__init__.py": b"DATA = %r\n" % os.urandom(200_000).hex()})
    cache, tmpdir = tmp_path / "cache", tmp_path / "tmp"
    tmpdir.mkdir()
    stall = threading.Event()
    with serve_index(wheels, stall=stall) as url:
        process = subprocess.Popen(
            [sys.executable, "-m", "lambdalayer", "build", "slow", "-p", "llslow", "--index-url",
             url, "--runtime", "python3.12", "--arch", "x86_64", "--out",
             str(tmp_path / "dist")],
            env={**os.environ, "TMPDIR": str(tmpdir), "LAMBDALAYER_CACHE_DIR": str(cache)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not list((cache / "wheels").rglob(".tmp-*")):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=60)
        finally:
            stall.set()
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert _leftovers(cache, tmpdir) == [], (err, [str(p) for p in tmpdir.rglob("*")])
