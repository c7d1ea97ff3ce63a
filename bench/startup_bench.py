"""Start-up time of every command, this checkout against another revision, in one run.

    python bench/startup_bench.py --baseline HEAD~1 [--repeat 15]

Both trees run on this interpreter with the same installed dependencies
(each tree first on PYTHONPATH, byte-compiled as `pip install .` would), and
the runs alternate between them so that machine noise hits both alike. Prints
per command the median seconds of each and the ratio now/baseline; the goal of
a refactoring is every ratio <= about 1.05.
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
# What a user types most: `--help` of the group and of each command, plus the
# commands that answer without any network (an up-to-date build among them).
COMMANDS = [
    ["--help"], ["build", "--help"], ["check", "--help"], ["test", "--help"],
    ["publish", "--help"], ["attach", "--help"], ["lock", "--help"], ["cache", "--help"],
    ["runtimes"], ["recipes"], ["build", "pg8000", "--out", "{dist}"],
]


def run_once(tree: Path, args: list[str], dist: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1",
           "LAMBDALAYER_CACHE_DIR": str(dist.parent / "cache")}
    argv = [a.replace("{dist}", str(dist)) for a in args]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lambdalayer", *argv], check=True,
                   capture_output=True, env=env, cwd=dist.parent)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", action="append", default=[],
                        help="measure only commands starting with this word (repeatable)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lambdalayer-startup-"))
    baseline = work / "baseline-tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline), options.baseline],
                   cwd=HERE, check=True, capture_output=True)
    try:
        trees = {"now": HERE, "baseline": baseline}
        for name, tree in trees.items():
            compileall.compile_dir(tree / "lambdalayer", quiet=1)
            # Recipes ship inside the package in a wheel; a checkout finds them at its root.
            (work / name).mkdir()
            run_once(tree, ["build", "pg8000", "--out", "{dist}"], work / name / "dist")
        print(f"medians of {options.repeat} alternating runs (seconds); baseline = "
              f"{options.baseline}")
        ratios = []
        commands = [c for c in COMMANDS if not options.only or c[0] in options.only]
        for args in commands:
            times: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(options.repeat):
                for name, tree in trees.items():
                    times[name].append(run_once(tree, args, work / name / "dist"))
            now, before = (statistics.median(times[n]) for n in ("now", "baseline"))
            ratios.append(now / before)
            label = " ".join(a if a != "{dist}" else "DIR" for a in args)
            print(f"  {label:<32} now {now:.3f}  baseline {before:.3f}  ratio {now / before:.2f}")
        print(f"median ratio over all commands: {statistics.median(ratios):.2f}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=HERE,
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
