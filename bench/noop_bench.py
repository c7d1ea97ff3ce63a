"""The no-op path against its anchor, in one run: an unchanged rebuild, `--help` and
`runtimes` against a warm `uv pip install --target` of the same pins.

    python bench/noop_bench.py [--repeat 15] [--baseline REV]

`lambdalayer build pg8000` is built once in a scratch project (the import proof on, as
users run it), then every round runs each variant once, in turn, so that another job on
the machine slows all alike:

- the unchanged rebuild (`build pg8000` again: "up to date"),   goal: <= 100 ms, <= 0.25x uv
- `lambdalayer --help` and `lambdalayer runtimes`,              goal: as fast (<= 100 ms)
- `uv pip install --target NEW` of the recipe's pins for python3.12/x86_64 with uv's
  cache warm: what a user's script would run instead of an up-to-date check.

Prints medians and spreads in milliseconds and the ratios to uv. --baseline REV also runs
the three lambdalayer variants from that git revision (a temporary worktree) in the same
rounds, for a before/after in one run. lambdalayer runs through its console script, each
tree byte-compiled first, as `pip install` leaves it (this machine sets
PYTHONDONTWRITEBYTECODE, under which a checkout would compile every module on every start).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from lambdalayer.common.uvtool import uv_binary  # noqa: E402
from lambdalayer.project.recipes import get_recipe  # noqa: E402

GOAL_MS = 100.0
GOAL_RATIO = 0.25


def lambdalayer_argv() -> list[str]:
    """The console script beside this interpreter (what users run), else `-m lambdalayer`."""
    script = Path(sys.executable).with_name("lambdalayer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lambdalayer"]


CPU: dict[str, list[float]] = {}  # variant -> CPU seconds (user + system) of each run


def timed(argv: list[str], *, env: dict[str, str], cwd: Path, cpu: list[float] | None = None
          ) -> float:
    """Wall seconds of one run; its CPU seconds appended to `cpu` (children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def tree_variants(label: str, tree: Path, work: Path) -> dict[str, Callable[[], float]]:
    """The three lambdalayer variants of one checkout, its scratch project built once."""
    project = work / f"project-{label}"
    project.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tree),
           "LAMBDALAYER_CACHE_DIR": str(work / f"cache-{label}")}
    compileall.compile_dir(tree / "lambdalayer", quiet=1)
    run = lambdalayer_argv()
    first = timed([*run, "build", "pg8000"], env=env, cwd=project)
    print(f"  {label}: first build of pg8000 {first:.2f} s (the proof on)")

    suffix = "" if label == "now" else f" ({label})"
    variants = {}
    for name, args in ((f"unchanged rebuild{suffix}", ["build", "pg8000"]),
                       (f"--help{suffix}", ["--help"]), (f"runtimes{suffix}", ["runtimes"])):
        cpu = CPU.setdefault(name, [])
        variants[name] = (lambda args=args, cpu=cpu:  # type: ignore[misc]
                          timed([*run, *args], env=env, cwd=project, cpu=cpu))
    return variants


def uv_variant(work: Path) -> Callable[[], float]:
    """A warm `uv pip install --target` of pg8000's pins for python3.12/x86_64."""
    pins = list(get_recipe("pg8000").requirements)
    argv = [uv_binary(), "pip", "install", "-q", "--python-platform",
            "x86_64-manylinux_2_28", "--python-version", "3.12", "--only-binary", ":all:",
            *pins]
    counter = iter(range(1_000_000))

    cpu = CPU.setdefault("warm uv pip install --target", [])

    def warm_uv() -> float:
        target = work / f"uv-target-{next(counter)}"
        try:
            return timed([*argv, "--target", str(target)], env=dict(os.environ), cwd=work,
                         cpu=cpu)
        finally:
            shutil.rmtree(target, ignore_errors=True)

    warm_uv()  # fills uv's cache: every measured run is warm
    cpu.clear()
    return warm_uv


def report(times: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"medians of {len(next(iter(times.values())))} rounds (ms; spread = slowest - "
          "fastest; CPU = user + system, uv's own processes included):")
    for name, values in times.items():
        spread = (max(values) - min(values)) * 1000
        cpu = statistics.median(CPU[name]) * 1000
        print(f"  {name:<32} {medians[name]:7.1f} ms   spread {spread:6.1f} ms   "
              f"CPU {cpu:6.1f} ms")
    uv = medians["warm uv pip install --target"]
    print("ratios to the warm uv pip install --target:")
    for name, value in medians.items():
        if name.startswith("warm uv"):
            continue
        goal = f"goal <= {GOAL_RATIO}x" if name.startswith("unchanged rebuild") else ""
        ok = "ok" if value <= GOAL_MS else f"over {GOAL_MS:.0f} ms"
        print(f"  {name:<32} {value / uv:5.2f}x  {goal:<14} {ok}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline", help="git revision to run in the same rounds")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lambdalayer-noop-bench-"))
    baseline = work / "baseline-tree"
    try:
        variants = tree_variants("now", HERE, work)
        if options.baseline:
            subprocess.run(["git", "worktree", "add", "--detach", str(baseline),
                            options.baseline], cwd=HERE, check=True, capture_output=True)
            variants.update(tree_variants(options.baseline, baseline, work))
        variants["warm uv pip install --target"] = uv_variant(work)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(options.repeat):
            for name, run in variants.items():
                times[name].append(run())
        report(times)
    finally:
        if options.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=HERE,
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
