"""What the import proof costs, measured as a user runs it, in one run (medians).

    python bench/proof_bench.py [--repeat 3] [--packages six requests numpy]
                                [--private-caches] [--sam PYTHON] [--make-sam]
                                [--baseline DIR] [--more]

1. **One command per layer, serially, default caches** (a CI job or a layer catalogue):
   `lambdalayer build NAME -p PKG` into a new --out folder, with the default targets
   (every supported runtime, both architectures; a layer with native code must name its
   runtime: python3.12, or $PROOF_BENCH_NATIVE_RUNTIME, both architectures), against the
   same command with --no-proof. The caches are the user's own (lambdalayer's, uv's), warmed by one
   unmeasured build of each; `--private-caches` uses fresh ones kept for the run.
   Prints the difference (goal: <= 0.3 s for a small layer) and, from `--json`, how each
   target was proven (natively, under qemu, covered by another architecture, or not
   run and why) and its interpreter run's seconds.
2. **python3.12/x86_64, one target, as a catalogue builds it**: the same with --runtime
   python3.12 --arch x86_64, against SAM's builder (aws-lambda-builders' python_pip
   workflow, driven as bench/realworld_bench.py drives it) when one is available:
   `--sam PYTHON` or $LAMBDALAYER_TEST_SAM naming a Python that has aws_lambda_builders,
   or `--make-sam` (a venv made under the temporary folder, not timed). Ratios of the
   sums: goal <= 0.5x with the proof, <= 0.33x without.
3. `--more`: the earlier measurements (pg8000 on all runtimes, the emulated proof of a
   typical native layer, `build --test-report` against a plain build).

Every round runs each variant once, so noise from other work hits all alike.
`--baseline DIR`: the same commands with another checkout of lambdalayer (e.g. `git
worktree add /tmp/before main`) in the same rounds, so before and after share the noise.
bench/realworld_bench.py measures something else: 51 packages, two at a time (workers
in parallel), private caches, the sum of per-package wall times; see
docs/performance.md for how the two relate.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("six", "requests")  # small layers: the proof's fixed cost is most of its time
NEEDS_RUNTIME: set[str] = set()  # layers with native code: the default targets refuse them
NATIVE_RUNTIME = os.environ.get("PROOF_BENCH_NATIVE_RUNTIME", "python3.12")
Times = dict[tuple[str, str], list[float]]


def lambdalayer(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Seconds `lambdalayer ARGS` took, and its stdout; exits on a failure. Run outside the
    checkout: `-m lambdalayer` would import from the working folder first."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lambdalayer", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode == 2 and "must be built for specific runtimes" in done.stderr:
        NEEDS_RUNTIME.add(args[1])
        return lambdalayer([*args, "--runtime", NATIVE_RUNTIME], env, cwd)
    if done.returncode != 0:
        raise SystemExit(f"lambdalayer {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return seconds, done.stdout


def build_args(package: str, out: Path, targets: list[str]) -> list[str]:
    runtime = ["--runtime", NATIVE_RUNTIME] if package in NEEDS_RUNTIME and not targets else []
    return ["build", package, "-p", package, "--out", str(out), *runtime, *targets]


def sam_seconds(python: str, driver: Path, package: str, out: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([python, str(driver), package, str(out)], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"SAM's builder failed for {package}:\n{done.stderr[-2000:]}")
    return seconds


def rounds(packages: list[str], targets: list[str], checkouts: dict[str, dict[str, str]],
           base: Path, repeat: int, sam: tuple[str, Path] | None) -> Times:
    """(package, variant) -> seconds of each round. Variants: proof and no-proof for each
    checkout ("" for this one, " (baseline)"), and sam."""
    times: Times = {}
    serial = iter(range(1_000_000))
    for env in checkouts.values():  # warm every cache once, unmeasured
        for package in packages:
            lambdalayer(build_args(package, base / f"warm-{next(serial)}", targets), env, base)
    for _ in range(repeat):
        for package in packages:
            for suffix, env in checkouts.items():
                for variant, extra in (("proof", []), ("no-proof", ["--no-proof"])):
                    args = [*build_args(package, base / f"out-{next(serial)}", targets), *extra]
                    times.setdefault((package, variant + suffix), []).append(
                        lambdalayer(args, env, base)[0])
            if sam is not None:
                times.setdefault((package, "sam"), []).append(
                    sam_seconds(sam[0], sam[1], package, base / f"sam-{next(serial)}"))
    return times


def where_it_ran(package: str, targets: list[str], env: dict[str, str], base: Path) -> str:
    """Each target's proof from `build --json`: how, and its interpreter run's seconds."""
    _, out = lambdalayer([*build_args(package, base / f"json-{package}", targets), "--json"],
                         env, base)
    lines = []
    for artifact in json.loads(out)["artifacts"]:
        for proof in (artifact.get("import_test") or {}).get("targets", []):
            if proof["status"] == "skipped":
                how = f"not run ({(proof.get('reason') or '')[:48]}...)"
            elif proof.get("covered_by"):
                how = f"covered by {proof['covered_by']}"
            else:
                how = f"{proof['how']} {proof['seconds']:.2f} s"
            lines.append(f"    {proof['target']:20} {how}")
    return "\n".join(lines)


def report(title: str, packages: list[str], times: Times, suffixes: list[str]) -> None:
    print(f"\n{title}")
    sam = any(variant == "sam" for _, variant in times)
    for suffix in suffixes:
        print(f"  {'package' + suffix:22} {'proof':>8} {'--no-proof':>11} {'difference':>11}"
              + (f" {'SAM':>8}" if sam else ""))
        sums = {"proof": 0.0, "no-proof": 0.0, "sam": 0.0}
        for package in packages:
            medians = {v: statistics.median(times[(package, v + (suffix if v != "sam"
                                                                 else ""))])
                       for v in sums if (package, v + (suffix if v != "sam" else "")) in times}
            for variant, seconds in medians.items():
                sums[variant] += seconds
            goal = "  [goal: <= 0.3 s]" if package in SMALL else ""
            print(f"  {package:22} {medians['proof']:7.2f}s {medians['no-proof']:10.2f}s "
                  f"{medians['proof'] - medians['no-proof']:+10.2f}s"
                  + (f" {medians['sam']:7.2f}s" if sam else "") + goal)
        if sam and sums["sam"]:
            print(f"  sums{suffix}: proof {sums['proof']:.2f} s, --no-proof "
                  f"{sums['no-proof']:.2f} s, SAM's builder {sums['sam']:.2f} s: ratio with "
                  f"the proof {sums['proof'] / sums['sam']:.2f}x (goal <= 0.5x), without "
                  f"{sums['no-proof'] / sums['sam']:.2f}x (goal <= 0.33x)")


def sam_python(options: argparse.Namespace, base: Path) -> str | None:
    named = options.sam or os.environ.get("LAMBDALAYER_TEST_SAM")
    if named:
        return str(named)
    if not options.make_sam:
        return None
    from realworld_bench import make_sam_venv

    return make_sam_venv(base)


def sam_driver(options: argparse.Namespace, base: Path) -> tuple[str, Path] | None:
    python = sam_python(options, base)
    if python is None:
        return None
    from realworld_bench import SAM_DRIVER

    driver = base / "sam_driver.py"
    driver.write_text(SAM_DRIVER)
    return python, driver


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--packages", nargs="*", default=["six", "requests", "numpy"])
    parser.add_argument("--private-caches", action="store_true")
    parser.add_argument("--sam", help="a Python that has aws_lambda_builders")
    parser.add_argument("--make-sam", action="store_true",
                        help="install aws-lambda-builders into a venv for this run")
    parser.add_argument("--baseline", type=Path, help="another checkout, in the same rounds")
    parser.add_argument("--more", action="store_true", help="also the earlier measurements")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proof-bench-") as scratch:
        base = Path(scratch)
        env = dict(os.environ)
        if options.private_caches:
            env.update(LAMBDALAYER_CACHE_DIR=str(base / "cache"), UV_CACHE_DIR=str(base / "uv"))
        checkouts = {"": {**env, "PYTHONPATH": str(ROOT)}}
        if options.baseline:
            checkouts[" (baseline)"] = {**env, "PYTHONPATH": str(options.baseline.resolve())}
        for checkout in checkouts.values():
            # As `pip install` leaves it: byte-compiled (an editable checkout under
            # PYTHONDONTWRITEBYTECODE=1 would compile every module on every start).
            compileall.compile_dir(Path(checkout["PYTHONPATH"]) / "lambdalayer", quiet=1)
        packages, suffixes = list(options.packages), list(checkouts)
        print("default targets, one command per layer, serially, "
              + ("private" if options.private_caches else "default") + " caches; each "
              "target's proof (from --json):")
        for package in packages:
            print(f"  {package}:\n{where_it_ran(package, [], checkouts[''], base)}")
        times = rounds(packages, [], checkouts, base, options.repeat, None)
        native = ", ".join(sorted(NEEDS_RUNTIME)) or "none"
        report(f"default targets (native code, so --runtime {NATIVE_RUNTIME}: {native}), "
               f"medians of {options.repeat}", packages, times, suffixes)
        sam = sam_driver(options, base)
        one = ["--runtime", "python3.12", "--arch", "x86_64"]
        times = rounds(packages, one, checkouts, base, options.repeat, sam)
        report(f"python3.12/x86_64, medians of {options.repeat}"
               + ("" if sam else " (no SAM's builder: --sam, --make-sam or "
                  "$LAMBDALAYER_TEST_SAM)"), packages, times, suffixes)
        if options.more:
            from proof_bench_more import more

            more(base, checkouts[""], options.repeat)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
