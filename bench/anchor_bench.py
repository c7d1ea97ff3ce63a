"""lambdalayer against its anchors, in one run, the import proof on.

    python bench/anchor_bench.py [--repeat 3] [--skip-ten] [--skip-big] [--skip-cold]
                                 [--baseline DIR]

--baseline DIR: also run the ten-target builds with another checkout of lambdalayer
(`git archive REV | tar -x -C DIR`), in the same rounds, to compare before and after.

Every round runs every variant once, in turn (another job on the machine then slows all
alike); prints each variant's median and spread (max - min) and the ratios:

1. ten targets (orjson + pydantic + cryptography, 5 runtimes x 2 architectures, --force)
   vs one target (python3.12/x86_64).                                    goal: <= 3x
2. numpy + pandas for python3.12/x86_64, warm uv cache:
   - first build (empty lambdalayer cache) vs `uv pip install --target` then Info-ZIP
     `zip -6 -r` (what a user would script);                       goal: <= 1x
   - forced rebuild (lambdalayer cache warm) vs the same script;
   - the proof's share: forced rebuild with the proof vs --no-proof.  goal: <= +25%
3. the same, cold: every run with an empty uv cache (and an empty lambdalayer cache), so
   every wheel comes from the index: first build vs `uv pip install --target` + `zip -6`,
   both cold.                                                        goal: <= 1x
4. a cold small build (pg8000, the proof on, empty uv and lambdalayer caches) vs a cold
   `uv pip install --target` of the same requirement.               goal: <= 1.3x
Each lambdalayer build prints `build --verbose`'s stage timings; the last round's show.
Each variant's CPU time is the whole machine's busy time during its runs (/proc/stat:
uv, the sandboxed and emulated proofs included), so keep the machine otherwise idle; the
ten-target part prints the wall time that CPU time allows at best on this machine's cores.
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
from collections.abc import Callable
from pathlib import Path

RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
ONE = ["--runtime", "python3.12", "--arch", "x86_64"]
TEN = [a for r in RUNTIMES for a in ("--runtime", r)] + ["--arch", "x86_64", "--arch", "arm64"]
SMALL = ["orjson", "pydantic", "cryptography"]
BIG = ["numpy", "pandas"]
SMALL_COLD = ["pg8000"]


def build(env: dict[str, str], out: Path, name: str, packages: list[str],
          *extra: str) -> tuple[float, str]:
    args = [sys.executable, "-m", "lambdalayer", "build", name, "--out", str(out), "--force",
            "--verbose", *(a for p in packages for a in ("-p", p)), *extra]
    started = time.perf_counter()
    # Run outside the checkout: `-m lambdalayer` imports from the working directory first,
    # which would shadow a --baseline checkout given through PYTHONPATH.
    done = subprocess.run(args, env=env, cwd=out.parent, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    stages = next((ln for ln in done.stderr.splitlines() + done.stdout.splitlines()
                   if ln.startswith("time: ")), "")
    return elapsed, stages


def uv_and_zip(base: Path, env: dict[str, str] | None = None,
               packages: list[str] = BIG, archive_it: bool = True) -> tuple[float, str]:
    """`uv pip install --target` for the same target, then `zip -6 -r` of the tree."""
    tree, archive = base / "uv-tree", base / "uv.zip"
    shutil.rmtree(tree, ignore_errors=True)
    archive.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "-q", "--target",
                    str(tree / "python"), "--python-platform", "x86_64-manylinux_2_28",
                    "--python-version", "3.12", *packages], check=True, capture_output=True,
                   env=env)
    if not archive_it:
        return time.perf_counter() - started, ""
    subprocess.run(["zip", "-6", "-r", "-q", str(archive), "python"], cwd=tree, check=True)
    return time.perf_counter() - started, f"{archive.stat().st_size / 1e6:.1f} MB zip"


def emptied(env: dict[str, str], base: Path) -> dict[str, str]:
    """`env` with empty uv and lambdalayer caches: every wheel comes from the index."""
    for name in ("cold-uv-cache", "cold-cache"):
        shutil.rmtree(base / name, ignore_errors=True)
    return {**env, "UV_CACHE_DIR": str(base / "cold-uv-cache"),
            "LAMBDALAYER_CACHE_DIR": str(base / "cold-cache")}


Variant = Callable[[], tuple[float, str]]


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, /proc/stat): a build's own
    processes, its uv runs and its sandboxed, emulated proofs alike."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


CPU: dict[str, float] = {}  # variant -> median busy CPU-seconds of its runs


def rounds(variants: dict[str, Variant], repeat: int) -> dict[str, float]:
    for run in variants.values():  # warm every cache once
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    notes: dict[str, str] = {}
    for _ in range(repeat):
        for name, run in variants.items():
            before = busy_cpu_seconds()
            seconds, notes[name] = run()
            cpu[name].append(busy_cpu_seconds() - before)
            times[name].append(seconds)
    for name, values in times.items():
        CPU[name] = statistics.median(cpu[name])
        print(f"  {name:<30} median {statistics.median(values):6.2f} s  "
              f"spread {max(values) - min(values):5.2f} s  CPU {CPU[name]:5.2f} s   "
              f"{notes[name]}")
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_floor(wall_one: float) -> None:
    """What the ten-target build's CPU time allows at best on this machine's cores."""
    cores = os.cpu_count() or 1
    floor = CPU["ten targets"] / cores
    print(f"  ten targets need {CPU['ten targets']:.2f} CPU-s: on {cores} cores no less than "
          f"{floor:.2f} s, {floor / wall_one:.2f}x one target's wall time, even with every "
          "core busy all along")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ten", action="store_true")
    parser.add_argument("--skip-big", action="store_true", help="only the ten-target part")
    parser.add_argument("--skip-cold", action="store_true", help="no cold-cache parts")
    parser.add_argument("--baseline", type=Path)
    options = parser.parse_args()
    # `pip install` byte-compiles a package; an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would compile every module again on every start (0.2 s).
    for checkout in [Path(__file__).resolve().parent.parent, options.baseline]:
        if checkout is not None:
            compileall.compile_dir(checkout / "lambdalayer", quiet=1)
    with tempfile.TemporaryDirectory(prefix="anchor-bench-") as scratch:
        base = Path(scratch)
        warm = {**os.environ, "LAMBDALAYER_CACHE_DIR": str(base / "cache")}
        out = base / "out"

        def first(env: dict[str, str] = warm) -> tuple[float, str]:
            empty = base / "empty-cache"
            shutil.rmtree(empty, ignore_errors=True)
            return build({**env, "LAMBDALAYER_CACHE_DIR": str(empty)}, out, "np-first",
                         BIG, *ONE)

        if not options.skip_ten:
            print("1. orjson + pydantic + cryptography, forced rebuild, proof on")
            variants: dict[str, Variant] = {
                "one target": lambda: build(warm, out, "one", SMALL, *ONE),
                "ten targets": lambda: build(warm, out, "ten", SMALL, *TEN)}
            if options.baseline:
                old = {**warm, "PYTHONPATH": str(options.baseline.resolve())}
                variants["one target, baseline"] = lambda: build(old, out, "one", SMALL, *ONE)
                variants["ten targets, baseline"] = lambda: build(old, out, "ten", SMALL, *TEN)
            many = rounds(variants, options.repeat)
            print(f"  ten targets / one target: {many['ten targets'] / many['one target']:.2f}x"
                  " (goal <= 3x)")
            cpu_floor(many["one target"])
            if options.baseline:
                before = many["ten targets, baseline"] / many["one target, baseline"]
                print(f"  baseline: ten targets / one target: {before:.2f}x")
        if options.skip_big:
            return
        print("2. numpy + pandas, python3.12/x86_64, warm uv cache")
        variants = {"uv + zip -6": lambda: uv_and_zip(base),
                    "first build (empty cache)": first,
                    "forced rebuild": lambda: build(warm, out, "np", BIG, *ONE),
                    "forced rebuild, --no-proof": lambda: build(warm, out, "np", BIG, *ONE,
                                                                "--no-proof")}
        if options.baseline:
            old_env = {**warm, "PYTHONPATH": str(options.baseline.resolve()),
                       "LAMBDALAYER_CACHE_DIR": str(base / "cache-baseline")}
            variants["first build, baseline"] = lambda: first(old_env)
            variants["forced rebuild, baseline"] = lambda: build(old_env, out, "np-b", BIG,
                                                                 *ONE)
        big = rounds(variants, options.repeat)
        anchor = big["uv + zip -6"]
        print(f"  first build / uv + zip -6: {big['first build (empty cache)'] / anchor:.2f}x "
              "(goal <= 1x)")
        print(f"  forced rebuild / uv + zip -6: {big['forced rebuild'] / anchor:.2f}x")
        added = big["forced rebuild"] / big["forced rebuild, --no-proof"] - 1
        print(f"  the proof adds {added:+.0%} to a forced rebuild (goal <= +25%)")
        if not options.skip_cold:
            cold_parts(base, warm, out, options.repeat)


def cold_parts(base: Path, warm: dict[str, str], out: Path, repeat: int) -> None:
    """Parts 3 and 4: empty uv and lambdalayer caches in every run."""
    print("3. numpy + pandas, python3.12/x86_64, cold uv cache (every wheel downloaded)")
    cold = rounds({
        "uv + zip -6, cold": lambda: uv_and_zip(base, emptied(dict(os.environ), base)),
        "first build, cold": lambda: build(emptied(warm, base), out, "np-cold", BIG, *ONE)},
        repeat)
    print(f"  cold first build / cold uv + zip -6: "
          f"{cold['first build, cold'] / cold['uv + zip -6, cold']:.2f}x (goal <= 1x)")
    print("4. pg8000, python3.12/x86_64, the proof on, cold uv cache")
    small = rounds({
        "uv pip install, cold": lambda: uv_and_zip(base, emptied(dict(os.environ), base),
                                                   SMALL_COLD, archive_it=False),
        "small build, cold": lambda: build(emptied(warm, base), out, "pg-cold", SMALL_COLD,
                                           *ONE)}, repeat)
    print(f"  cold small build / cold uv pip install: "
          f"{small['small build, cold'] / small['uv pip install, cold']:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
