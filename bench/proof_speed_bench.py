"""What the default import proof and many targets cost, measured in one run.

    python bench/proof_speed_bench.py [--repeat 3] [--skip-ten]

Runs alternate (each round runs every variant once) so that noise from other work
hits all alike; prints medians, the spread (max - min) and the ratios:

1. forced rebuild of numpy + pandas (python3.12/x86_64, warm caches): proof on vs
   --no-proof.                                                goal: proof adds <= 25%
   Also: proof on with a cold proof-bytecode cache (deleted before each run), i.e.
   what every run cost before the proof kept its bytecode.
2. forced rebuild of a small layer (pg8000 + its dependency): proof on vs --no-proof.
                                                              goal: proof adds <= 0.3 s
3. ten targets (orjson + pydantic + cryptography, 5 runtimes x 2 architectures,
   --force) vs one target (python3.12/x86_64).               goal: <= 3x
Every build prints `build --verbose`'s stage timings; the last round's are shown.
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
from pathlib import Path

RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")


def build(env: dict[str, str], out: Path, name: str, packages: list[str],
          *extra: str) -> tuple[float, str]:
    args = [sys.executable, "-m", "lambdalayer", "build", name, "--out", str(out), "--force",
            "--verbose", *(a for p in packages for a in ("-p", p)), *extra]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    stages = next((ln for ln in done.stderr.splitlines() + done.stdout.splitlines()
                   if ln.startswith("time: ")), "")
    return elapsed, stages


def rounds(variants: dict[str, tuple[list[str], list[str], bool]], env: dict[str, str],
           base: Path, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    stages: dict[str, str] = {}
    cache = Path(env["LAMBDALAYER_CACHE_DIR"])
    for name, (packages, extra, _cold) in variants.items():  # warm everything once
        build(env, base / "out", name.replace(" ", "-"), packages, *extra)
    for _ in range(repeat):
        for name, (packages, extra, cold) in variants.items():
            if cold:
                shutil.rmtree(cache / "proof-bytecode", ignore_errors=True)
            seconds, stages[name] = build(env, base / "out", name.replace(" ", "-"),
                                          packages, *extra)
            times[name].append(seconds)
    for name, values in times.items():
        print(f"  {name:<28} median {statistics.median(values):6.2f} s  "
              f"spread {max(values) - min(values):5.2f} s   {stages[name]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ten", action="store_true")
    options = parser.parse_args()
    median = statistics.median
    with tempfile.TemporaryDirectory(prefix="proof-speed-") as scratch:
        base = Path(scratch)
        env = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(base / "cache")}
        one = ["--runtime", "python3.12", "--arch", "x86_64"]
        print("1. numpy + pandas, forced rebuild")
        big = rounds({"proof": (["numpy", "pandas"], one, False),
                      "no proof": (["numpy", "pandas"], [*one, "--no-proof"], False),
                      "proof, bytecode cold": (["numpy", "pandas"], one, True)},
                     env, base, options.repeat)
        added = median(big["proof"]) / median(big["no proof"]) - 1
        before = median(big["proof, bytecode cold"]) / median(big["no proof"]) - 1
        print(f"  proof adds {added:+.0%} (goal <= 25%); with cold bytecode {before:+.0%}")
        print("2. pg8000, forced rebuild")
        small = rounds({"proof": (["pg8000"], one, False),
                        "no proof": (["pg8000"], [*one, "--no-proof"], False)},
                       env, base, options.repeat)
        print(f"  proof adds {median(small['proof']) - median(small['no proof']):+.2f} s "
              "(goal <= 0.3 s)")
        if options.skip_ten:
            return
        print("3. orjson + pydantic + cryptography, forced rebuild")
        packages = ["orjson", "pydantic", "cryptography"]
        ten = [a for r in RUNTIMES for a in ("--runtime", r)] + ["--arch", "x86_64",
                                                                  "--arch", "arm64"]
        many = rounds({"one target": (packages, one, False),
                       "ten targets": (packages, ten, False)}, env, base, options.repeat)
        print(f"  ten targets / one target: "
              f"{median(many['ten targets']) / median(many['one target']):.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
