"""Cold-start import time with `build --compile` vs without, measured in one run.

    python bench/import_bench.py [--repeat 7]

Builds pandas + pyarrow for python3.12 x86_64 twice with the real CLI (plain,
and --compile), extracts each zip into a directory laid out like /opt, makes
it read-only, then imports `pandas, pyarrow` N times from each with CPython
3.12 as `-I -S -B` and Lambda's sys.path (docs/lambda-facts.md), alternating the two
so drift hits both. -B matters: root ignores the read-only bits, and on Lambda
nothing can be cached, so every run must start from what the zip ships.

Both layers use --slim --strip: unslimmed, numpy+pandas+pyarrow is over
Lambda's 250 MB unzipped limit and the build refuses it.

Prints the median in-process import time and the median wall time of each,
and the ratio compiled/plain. Goal: <= 0.35x (by hand: 0.37 s vs 1.38 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lambdalayer.interpreters.find import find_interpreter

GOAL = 0.35
PROGRAM = ("import sys, time; sys.path[0:0] = {paths!r}; t = time.perf_counter(); "
           "import pandas, pyarrow; print(time.perf_counter() - t)")


def build(out: Path, *extra: str) -> Path:
    lambdalayer = str(Path(sys.executable).with_name("lambdalayer"))
    run = subprocess.run(
        [lambdalayer, "build", "analytics", "-p", "pandas", "-p", "pyarrow", "--runtime",
         "python3.12", "--arch", "x86_64", "--slim", "--strip", "--json", "--out", str(out),
         *extra], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"build failed ({run.returncode}):\n{run.stderr}")
    [artifact] = json.loads(run.stdout)["artifacts"]
    print(f"built {out.name}: {artifact['size'] / 1e6:.1f} MB zipped, "
          f"{artifact['unzipped_size'] / 1e6:.1f} MB unzipped"
          + (f", bytecode +{artifact['compiled']['size'] / 1e6:.1f} MB"
             if artifact.get("compiled") else ""), file=sys.stderr)
    return Path(artifact["path"])


def read_only_opt(zip_path: Path, base: Path) -> list[str]:
    """Extract like Lambda (to .../opt, read-only); the sys.path entries Lambda would use."""
    opt, task = base / "opt", base / "var" / "task"
    task.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(opt)
    for directory, dirnames, filenames in os.walk(base, topdown=False):
        for name in [*filenames, *dirnames]:
            os.chmod(Path(directory, name), 0o555 if Path(directory, name).is_dir() else 0o444)
    return [str(task), str(opt / "python/lib/python3.12/site-packages"), str(opt / "python")]


def once(python: str, paths: list[str]) -> tuple[float, float]:
    """(seconds importing pandas+pyarrow in-process, wall seconds of the whole process)."""
    import time

    started = time.perf_counter()
    out = subprocess.run([python, "-I", "-S", "-B", "-c", PROGRAM.format(paths=paths)],
                         capture_output=True, text=True, check=True, cwd=paths[0]).stdout
    return float(out.strip()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    interpreter = find_interpreter("3.12")
    if interpreter is None:
        sys.exit("needs CPython 3.12 (pyenv install 3.12 / uv python install 3.12)")
    with tempfile.TemporaryDirectory(prefix="lambdalayer-import-bench-") as scratch:
        work = Path(scratch)
        plain = read_only_opt(build(work / "plain"), work / "plain-root")
        compiled = read_only_opt(build(work / "compiled", "--compile"), work / "compiled-root")
        once(interpreter.path, plain)  # warm the page cache for both: we measure Python,
        once(interpreter.path, compiled)  # not the disk
        samples: dict[str, list[tuple[float, float]]] = {"plain": [], "compiled": []}
        for _ in range(repeat):
            samples["plain"].append(once(interpreter.path, plain))
            samples["compiled"].append(once(interpreter.path, compiled))
        for root in (work / "plain-root", work / "compiled-root"):
            for directory, _dirs, _files in os.walk(root):
                os.chmod(directory, 0o755)  # let the temporary directory be removed
    medians = {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
               for name, runs in samples.items()}
    print(f"CPython {interpreter.version}, {repeat} runs each, import pandas, pyarrow from a "
          "read-only /opt:")
    for name, (imports, wall) in medians.items():
        print(f"  {name:<9} import {imports:6.3f} s   process {wall:6.3f} s")
    ratio = medians["compiled"][0] / medians["plain"][0]
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"  ratio compiled/plain (import): {ratio:.2f}x — {verdict} the goal <= {GOAL}x")
    print(f"  ratio compiled/plain (process): "
          f"{medians['compiled'][1] / medians['plain'][1]:.2f}x")


if __name__ == "__main__":
    main()
