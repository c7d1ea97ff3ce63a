"""The crafted-ELF bounds: `lambdalayer check` of hostile zips, peak memory and wall time.

    python bench/elf_budget_bench.py [--repeat 3]

Each case is a small zip whose ELF file costs gigabytes or many seconds to a reader that
caps each loop but not the total (docs/sandbox-and-limits.md):
- one file: 1,024 version-need entries sharing one chain of 256 auxiliaries that all
  name one 4,096-byte string (1.1 GB of strings before the file budget);
- twenty files: the same with 1,024 auxiliaries naming an 8-byte string (16 s of CPU).
Each `check` runs in its own process; peak RSS comes from getrusage(RUSAGE_CHILDREN).
Goal: under 256 MB and 2 s each (the CLI's start-up included). Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile import elf_with_shared_version_chain, zip_of

MEMORY_GOAL = 256 * 1024 * 1024
TIME_GOAL = 2.0

_MEASURE = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "lambdalayer", *sys.argv[1:]], capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(archive: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of `check ARCHIVE --json` in a fresh process."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, "check", str(archive), "--runtime", "python3.12",
         "--arch", "x86_64", "--json"], capture_output=True, text=True, check=True)
    return time.monotonic() - started, int(done.stdout.split()[-1]) * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory() as scratch:
        cases = {
            "one 4 KB-string chain": zip_of(Path(scratch) / "one.zip", {
                "python/chain.so": elf_with_shared_version_chain()}),
            "twenty short-string chains": zip_of(Path(scratch) / "twenty.zip", {
                f"python/chain{i}.so": elf_with_shared_version_chain(
                    auxiliaries=1024, string_size=8) for i in range(20)}),
        }
        for name, archive in cases.items():
            runs = [measure(archive) for _ in range(options.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            ok = seconds < TIME_GOAL and peak < MEMORY_GOAL
            missed |= not ok
            print(f"{name:<28} {archive.stat().st_size:>7,} B zipped  "
                  f"{seconds:5.2f} s  {peak / 1e6:6.0f} MB peak  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
