"""Build speed against uv, pip and a bare import of click + rich, measured in one run.

    python bench/build_bench.py [--repeat 5]

Prints medians and ratios (these machines are noisy: read the ratios):
- cold `lambdalayer build pg8000` (empty caches) vs `uv pip install --target`
  of the same pins for the same target (empty cache), and vs
  `pip install --target --platform ...` (no cache);      goal <= 1.3x uv
- unchanged rebuild vs a warm `uv pip install --target`; goal <= 0.5x
- `lambdalayer --help` vs `python -c "import click, rich.console"`; goal <= 2x
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

import lambdalayer as lambdalayer_package
from lambdalayer.common.uvtool import uv_binary
from lambdalayer.project.recipes import get_recipe

TARGET_PLATFORM = "x86_64-manylinux_2_17"
TARGET_PYTHON = "3.10"


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, **(env or {})},
                   cwd=cwd)
    return time.perf_counter() - start


def median_of(repeat: int, run: callable) -> float:  # type: ignore[valid-type]
    return statistics.median(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    # `pip install .` byte-compiles the package; an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would recompile every module on every start.
    compileall.compile_dir(Path(lambdalayer_package.__file__).parent, quiet=1)
    pins = list(get_recipe("pg8000").requirements)
    work = Path(tempfile.mkdtemp(prefix="lambdalayer-bench-"))
    # The console script, as users run it.
    lambdalayer = [str(Path(sys.executable).with_name("lambdalayer"))]
    uv_install = [uv_binary(), "pip", "install", "--python-platform", TARGET_PLATFORM,
                  "--python-version", TARGET_PYTHON, "--only-binary", ":all:",
                  "--python", sys.executable, *pins]
    counter = iter(range(10_000))

    def fresh(name: str) -> Path:
        return work / f"{name}-{next(counter)}"

    def cold_build() -> float:
        return timed([*lambdalayer, "build", "pg8000", "--out", str(fresh("dist"))],
                     env={"UV_CACHE_DIR": str(fresh("cache"))})

    def cold_uv() -> float:
        return timed([*uv_install, "--target", str(fresh("t"))],
                     env={"UV_CACHE_DIR": str(fresh("cache"))})

    def cold_pip() -> float:
        return timed([sys.executable, "-m", "pip", "install", "-q", "--no-cache-dir",
                      "--target", str(fresh("p")), "--platform", "manylinux2014_x86_64",
                      "--python-version", TARGET_PYTHON, "--implementation", "cp",
                      "--only-binary", ":all:", "--isolated", *pins])

    warm_cache = str(work / "warm-cache")
    warm_dist = str(work / "warm-dist")
    timed([*lambdalayer, "build", "pg8000", "--out", warm_dist], env={"UV_CACHE_DIR": warm_cache})
    timed([*uv_install, "--target", str(fresh("t"))], env={"UV_CACHE_DIR": warm_cache})

    def unchanged_build() -> float:
        return timed([*lambdalayer, "build", "pg8000", "--out", warm_dist],
                     env={"UV_CACHE_DIR": warm_cache})

    def warm_uv() -> float:
        return timed([*uv_install, "--target", str(fresh("t"))], env={"UV_CACHE_DIR": warm_cache})

    def help_start() -> float:
        return timed([*lambdalayer, "--help"])

    def import_baseline() -> float:
        return timed([sys.executable, "-c", "import click, rich.console"])

    results = {name: median_of(repeat, fn) for name, fn in [
        ("cold build", cold_build), ("cold uv", cold_uv), ("cold pip", cold_pip),
        ("unchanged build", unchanged_build), ("warm uv", warm_uv),
        ("--help", help_start), ("import click+rich", import_baseline),
    ]}
    print(f"medians of {repeat} runs (seconds):")
    for name, value in results.items():
        print(f"  {name:<20} {value:.3f}")
    print("ratios:")
    print(f"  cold build / cold uv pip install --target  = "
          f"{results['cold build'] / results['cold uv']:.2f}  (goal <= 1.3)")
    print(f"  cold build / cold pip install --target     = "
          f"{results['cold build'] / results['cold pip']:.2f}")
    print(f"  unchanged build / warm uv pip install      = "
          f"{results['unchanged build'] / results['warm uv']:.2f}  (goal <= 0.5)")
    print(f"  --help / import click+rich                 = "
          f"{results['--help'] / results['import click+rich']:.2f}  (goal <= 2.0)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
