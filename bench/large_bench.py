"""Large-layer speed against Info-ZIP and a naive uv + zip pipeline, measured in one run.

    python bench/large_bench.py [--repeat 3]

numpy + pandas + pyarrow for python3.12 x86_64 (needs the index once, `zip`
from Info-ZIP, and uv's cache warm after the first install). Runs alternate
between ours and the baseline so that noise from other work hits both alike;
prints medians and ratios (read the ratios):

1. zip of the slimmed+stripped tree: `write_zip` (no cache) vs `zip -r -X -6`
   on the same tree, same level;                goal <= 0.6x, size within 1%
2. forced rebuild `lambdalayer build ... --slim --strip --force` with warm
   caches vs the naive pipeline (`uv pip install --target` warm, delete tests
   dirs, `zip -r -X -6`);                       goal <= 0.8x
   also shown: the same forced rebuild with lambdalayer's member cache off
   (LAMBDALAYER_CACHE_MAX=0), i.e. what parallel deflate alone buys.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lambdalayer.archive.zipwriter import iter_tree, write_zip
from lambdalayer.common.uvtool import uv_binary
from lambdalayer.resolve.install import lay_out
from lambdalayer.shrink.slim import slim_tree
from lambdalayer.shrink.strip import strip_tree

PACKAGES = ["numpy", "pandas", "pyarrow"]
PLATFORM, PYTHON = "x86_64-manylinux_2_34", "3.12"


def uv_install(dest: Path) -> None:
    subprocess.run(
        [uv_binary(), "pip", "install", "--target", str(dest), "--python-platform", PLATFORM,
         "--python-version", PYTHON, "--only-binary", ":all:", "--python", sys.executable,
         "-q", *PACKAGES], check=True, capture_output=True)


def info_zip(tree: Path, out: Path) -> None:
    subprocess.run(["zip", "-q", "-r", "-X", "-6", str(out), "."], cwd=tree, check=True)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def alternate(repeat: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds per named action, running them in turn `repeat` times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, action in runs.items():
            times[name].append(timed(action))
    return {name: statistics.median(values) for name, values in times.items()}


def zip_bench(work: Path, repeat: int) -> None:
    tree = work / "slim-tree"
    resolved = work / "resolved"
    uv_install(resolved)
    lay_out(resolved, tree, "python")
    slim_tree(tree)
    strip_tree(tree)
    ours, theirs = work / "ours.zip", work / "info.zip"

    def info_zip_fresh() -> None:
        theirs.unlink(missing_ok=True)  # zip would otherwise update the old archive
        info_zip(tree, theirs)

    medians = alternate(repeat, {
        "write_zip": lambda: write_zip(iter_tree(tree), ours, level=6),
        "zip -r -X -6": info_zip_fresh,
    })
    ratio = medians["write_zip"] / medians["zip -r -X -6"]
    size_ratio = ours.stat().st_size / theirs.stat().st_size
    print(f"1. zip of the slimmed tree ({sum(1 for _ in iter_tree(tree))} files, "
          f"{sum(p.stat().st_size for _, p in iter_tree(tree)) / 1e6:.1f} MB, "
          f"{os.cpu_count()} cores)")
    print(f"   write_zip      {medians['write_zip']:6.2f} s   {ours.stat().st_size:,} bytes")
    print(f"   zip -r -X -6   {medians['zip -r -X -6']:6.2f} s   {theirs.stat().st_size:,} bytes")
    print(f"   ratio {ratio:.2f}x (goal <= 0.6x); size {size_ratio:.4f}x (goal within 1%)")


def rebuild_bench(work: Path, repeat: int) -> None:
    lambdalayer = str(Path(sys.executable).with_name("lambdalayer"))
    cache = work / "ll-cache"
    args = [lambdalayer, "build", "analytics", *(f"-p{p}" for p in PACKAGES),
            "--runtime", "python3.12", "--arch", "x86_64", "--slim", "--strip", "--force"]
    env = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(cache)}
    no_cache = {**env, "LAMBDALAYER_CACHE_MAX": "0"}
    # Warm every cache once: uv's (wheels) and lambdalayer's (zip members).
    subprocess.run([*args, "--out", str(work / "warm")], check=True, capture_output=True,
                   env=env)

    def ours(environment: dict[str, str]) -> Callable[[], object]:
        return lambda: subprocess.run([*args, "--out", str(work / "dist")], check=True,
                                      capture_output=True, env=environment)

    def naive() -> None:
        target = work / "naive"
        shutil.rmtree(target, ignore_errors=True)
        uv_install(target)
        for path in sorted(target.rglob("*"), reverse=True):
            if path.is_dir() and path.name in ("tests", "test"):
                shutil.rmtree(path, ignore_errors=True)
        out = work / "naive.zip"
        out.unlink(missing_ok=True)
        info_zip(target, out)

    medians = alternate(repeat, {"ours": ours(env), "ours, member cache off": ours(no_cache),
                                 "naive": naive})
    print("2. forced rebuild, warm caches (--slim --strip --force)")
    for name in ("ours", "ours, member cache off", "naive"):
        print(f"   {name:<24} {medians[name]:6.2f} s   "
              f"{medians[name] / medians['naive']:.2f}x naive")
    print("   goal: ours <= 0.8x naive")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    if shutil.which("zip") is None:
        sys.exit("Info-ZIP `zip` is not installed (apt-get install -y zip).")
    work = Path(tempfile.mkdtemp(prefix="lambdalayer-large-bench-"))
    try:
        zip_bench(work, repeat)
        rebuild_bench(work, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
