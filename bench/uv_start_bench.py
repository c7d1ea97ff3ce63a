"""A build's fixed cost at both ends of the process, this tree against a baseline, in one run.

    python bench/uv_start_bench.py [--repeat 9] [--baseline REV_OR_DIR] [--cold]

Runs `lambdalayer build bench --force -p pg8000 --runtime python3.12 --arch x86_64` (uv's
cache warm, or with --cold empty for every run, as is lambdalayer's cache) and prints
medians in milliseconds of:

- uv start: from the process's launch until `uv pip install` is started (every ms before
  it is on a cold build's critical path: uv's cold install is 0.3-0.6 s),
  goal <= 60 ms;
- teardown: from the last `atexit` handler until the process is gone (the interpreter
  freeing its modules; the CLI's own process skips it: cli/__init__._leave), goal ~0;
- the whole build.

A sitecustomize on PYTHONPATH observes the run: the first `uv pip install` Popen, and an
`atexit` handler registered before any other (so it runs last). Each tree is
byte-compiled first, as `pip install` leaves it (a baseline given as a directory is
used as it is). Rounds alternate between the trees so
that another job on the machine slows both alike.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
GOAL_UV_START_MS = 60.0

SITECUSTOMIZE = '''
import atexit, os, subprocess, time
_out = os.environ["BENCH_TRACE"]
def _note(line):
    with open(_out, "a") as handle:
        handle.write(line + "\\n")
atexit.register(lambda: _note(f"atexit {time.time():.6f}"))  # first in, runs last
_init = subprocess.Popen.__init__
def _popen(self, args, *rest, **kwargs):
    if not isinstance(args, str) and list(args)[1:3] == ["pip", "install"]:
        _note(f"uv {time.time():.6f}")
    _init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = _popen
'''

BUILD = ["build", "bench", "--force", "-p", "pg8000", "--runtime", "python3.12",
         "--arch", "x86_64"]


def one_run(tree: Path, work: Path, *, cold: bool) -> tuple[float, float, float]:
    """(uv start, teardown, whole) seconds of one build with `tree`'s code."""
    trace = work / "trace.txt"
    trace.unlink(missing_ok=True)
    if cold:
        shutil.rmtree(work / "uv-cache", ignore_errors=True)
        shutil.rmtree(work / "ll-cache", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": f"{work / 'site'}{os.pathsep}{tree}",
           "BENCH_TRACE": str(trace), "UV_CACHE_DIR": str(work / "uv-cache"),
           "LAMBDALAYER_CACHE_DIR": str(work / "ll-cache")}
    started = time.time()
    subprocess.run([sys.executable, "-m", "lambdalayer", *BUILD, "--out", str(work / "dist")],
                   env=env, cwd=work, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    ended = time.time()
    marks = dict(line.split() for line in trace.read_text().splitlines())
    return (float(marks["uv"]) - started, ended - float(marks["atexit"]), ended - started)


def prepared(work: Path, baseline: str | None) -> dict[str, Path]:
    """label -> tree, each byte-compiled; a revision is checked out in a temporary worktree."""
    trees = {"this tree": HERE}
    if baseline and Path(baseline).is_dir():
        trees[baseline] = Path(baseline)
    elif baseline:
        subprocess.run(["git", "worktree", "add", "--detach", str(work / "baseline"),
                        baseline], cwd=HERE, check=True, capture_output=True)
        trees[baseline] = work / "baseline"
    for tree in trees.values():  # a checkout named by its directory is left as it is
        if tree != Path(baseline or ""):
            compileall.compile_dir(tree / "lambdalayer", quiet=1)
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return trees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--baseline", help="a git revision or a checkout's directory")
    parser.add_argument("--cold", action="store_true", help="empty caches for every run")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="uv-start-bench-"))
    try:
        trees = prepared(work, options.baseline)
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in trees}
        for tree in trees.values():  # uv's cache filled, each tree's first run
            one_run(tree, work, cold=options.cold)
        for _ in range(options.repeat):
            for label, tree in trees.items():
                runs[label].append(one_run(tree, work, cold=options.cold))
        print(f"{'tree':<24} {'uv start':>9} {'teardown':>9} {'build':>8}   (median ms, "
              f"{options.repeat} runs{', cold' if options.cold else ', uv cache warm'})")
        for label, rows in runs.items():
            uv, down, whole = (statistics.median(col) * 1000 for col in zip(*rows, strict=True))
            print(f"{label:<24} {uv:9.0f} {down:9.0f} {whole:8.0f}")
        uv_now = statistics.median(r[0] for r in runs["this tree"]) * 1000
        print(f"uv start goal <= {GOAL_UV_START_MS:.0f} ms: "
              f"{'met' if uv_now <= GOAL_UV_START_MS else 'not met'} ({uv_now:.0f} ms)")
    finally:
        if options.baseline and not Path(options.baseline).is_dir():
            subprocess.run(["git", "worktree", "remove", "--force", str(work / "baseline")],
                           cwd=HERE, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
