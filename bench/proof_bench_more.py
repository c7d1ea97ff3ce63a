"""The earlier proof measurements, run by `bench/proof_bench.py --more` (medians).

    LAMBDALAYER_INTERPRETERS=DIR python bench/proof_bench.py --more

- `build pg8000 --force` (warm caches, unchanged inputs, all five runtimes) with the
  default proof vs with --no-proof: the difference is the proof's cost; goal <= 0.5 s
  for a typical layer (the runtimes the host cannot run are skipped, not timed).
- the same for one runtime (`--runtime python3.12`).
- the emulated proof of a typical native layer (orjson + psycopg2-binary, arm64):
  `lambdalayer test` per target, under qemu-user; goal < 5 s per target. The same layer's
  x86_64 build proven natively is the baseline.
- `build --test-report --force` of that layer for one target (python3.11/arm64 under qemu-user
  when $LAMBDALAYER_TEST_INTERPRETERS names the root filesystems, else python3.11/x86_64)
  against `build --force` and against `build --force` + `lambdalayer test` of the zip
  (what --test-report cost when it imported the zip a second time). Goal: --test-report costs no
  more than the plain build (ratio ~1.0x): the proof's run is its report.
  Measured on this 2-core machine (medians of 5, python3.11/arm64 under qemu-user):
  before, importing twice: 4.25 s (plain build 2.85 s, 1.49x); after: 2.51 s (plain
  build 2.52 s, 1.00x), 0.59x of before. Natively (x86_64) the second import cost
  ~0.2 s, within this machine's noise.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lambdalayer", *args], check=True,
                   capture_output=True, env=env)
    return time.perf_counter() - start


def median(args: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(timed(args, env) for _ in range(repeat))


def more(base: Path, env: dict[str, str], repeat: int) -> None:
    """pg8000 on all runtimes and one, the emulated proof, and --test-report."""
    for label, extra in (("pg8000, all runtimes", []),
                         ("pg8000, python3.12", ["--runtime", "python3.12"])):
        args = ["build", "pg8000", "--out", str(base / "dist"), "--force", *extra]
        timed(args, env)  # warm the caches
        without = median([*args, "--no-proof"], env, repeat)
        with_proof = median(args, env, repeat)
        print(f"{label}: build --no-proof {without:.2f} s, with the proof "
              f"{with_proof:.2f} s: +{with_proof - without:.2f} s "
              f"({with_proof / without:.2f}x)  [goal: +0.5 s at most]")
    for arch, runtimes in (("x86_64", ["python3.11", "python3.13"]),
                           ("arm64", ["python3.11", "python3.13"])):
        out = base / f"layer-{arch}"
        subprocess.run([sys.executable, "-m", "lambdalayer", "build", "typical", "-p",
                        "orjson", "-p", "psycopg2-binary", "--arch", arch, "--no-proof",
                        *[f"--runtime={r}" for r in runtimes], "--out", str(out)],
                       check=True, capture_output=True, env=env)
        tree = base / f"tree-{arch}"
        with zipfile.ZipFile(out / "typical.zip") as archive:
            archive.extractall(tree)
        for runtime in runtimes:
            args = ["test", str(tree), "--runtime", runtime, "--arch", arch]
            seconds = median(args, env, repeat)
            how = "native" if arch == "x86_64" else "qemu-user"
            print(f"{runtime}/{arch} ({how}): `lambdalayer test` median {seconds:.2f} s"
                  + ("  [goal: < 5 s]" if how != "native" else ""))
    report_once(base, env, repeat)


def report_once(base: Path, env: dict[str, str], repeat: int) -> None:
    """`build --test-report` imports each target once: compare it with the plain build and
    with the plain build plus a `test` of the zip (the second import it used to make)."""
    roots = os.environ.get("LAMBDALAYER_TEST_INTERPRETERS")
    arch, how = ("arm64", "qemu-user") if roots else ("x86_64", "native")
    env = {**env, **({"LAMBDALAYER_INTERPRETERS": roots} if roots else {})}
    out = base / f"test-report-{arch}"
    args = ["build", "typical", "-p", "orjson", "-p", "psycopg2-binary", "--runtime",
            "python3.11", "--arch", arch, "--out", str(out), "--force"]
    timed(args, env)  # warm the caches
    plain = median(args, env, repeat)
    with_report = median([*args, "--test-report"], env, repeat)
    zipped = str(out / "typical.zip")
    twice = statistics.median(timed(args, env) + timed(["test", zipped], env)
                              for _ in range(repeat))
    print(f"python3.11/{arch} ({how}) orjson+psycopg2-binary: build --test-report --force "
          f"{with_report:.2f} s; build --force {plain:.2f} s "
          f"({with_report / plain:.2f}x); build --force + `test` of the zip "
          f"(--test-report's two imports before) {twice:.2f} s "
          f"({with_report / twice:.2f}x)  [goal: ~1.0x the plain build]")
