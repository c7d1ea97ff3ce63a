"""What the import proof costs, measured in one run (medians; these machines are noisy).

    LAMBDALAYER_INTERPRETERS=DIR python bench/proof_bench.py [--repeat 5]

- `build pg8000 --force` (warm caches, unchanged inputs, all five runtimes) with the
  default proof vs with --no-smoke: the difference is the proof's cost; goal <= 0.5 s
  for a typical layer (the runtimes the host cannot run are skipped, not timed).
- the same for one runtime (`--runtime python3.12`).
- the emulated proof of a typical native layer (orjson + psycopg2-binary, arm64):
  `lambdalayer test` per target, under qemu-user; goal < 5 s per target. The same layer's
  x86_64 build proven natively is the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--emulated-repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proof-bench-") as scratch:
        base = Path(scratch)
        env = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(base / "cache"),
               "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(base / "uv"))}
        for label, extra in (("pg8000, all runtimes", []),
                             ("pg8000, python3.12", ["--runtime", "python3.12"])):
            args = ["build", "pg8000", "--out", str(base / "dist"), "--force", *extra]
            timed(args, env)  # warm the caches
            without = median([*args, "--no-smoke"], env, options.repeat)
            with_proof = median(args, env, options.repeat)
            print(f"{label}: build --no-smoke {without:.2f} s, with the proof "
                  f"{with_proof:.2f} s: +{with_proof - without:.2f} s "
                  f"({with_proof / without:.2f}x)  [goal: +0.5 s at most]")
        for arch, runtimes in (("x86_64", ["python3.11", "python3.13"]),
                               ("arm64", ["python3.11", "python3.13"])):
            out = base / f"layer-{arch}"
            subprocess.run([sys.executable, "-m", "lambdalayer", "build", "typical", "-p",
                            "orjson", "-p", "psycopg2-binary", "--arch", arch, "--no-smoke",
                            *[f"--runtime={r}" for r in runtimes], "--out", str(out)],
                           check=True, capture_output=True, env=env)
            tree = base / f"tree-{arch}"
            with zipfile.ZipFile(out / "typical.zip") as archive:
                archive.extractall(tree)
            for runtime in runtimes:
                args = ["test", str(tree), "--runtime", runtime, "--arch", arch]
                seconds = median(args, env, options.emulated_repeat)
                how = "native" if arch == "x86_64" else "qemu-user"
                print(f"{runtime}/{arch} ({how}): `lambdalayer test` median {seconds:.2f} s"
                      + ("  [goal: < 5 s]" if how != "native" else ""))


if __name__ == "__main__":
    main()
