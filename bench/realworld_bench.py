"""Real packages: lambdalayer against SAM's builder (aws-lambda-builders), in one run.

    python bench/realworld_bench.py [--workers 2] [--work DIR] [--only NAME ...] [--cold-only]

The list is tests/realworld/packages.py (python3.12/x86_64). For each package:
- lambdalayer: `build -p PKG`, whose import proof is on (its time includes it); the
  judges' `test ZIP --import MOD` below is not counted;
- SAM's builder: the python_pip workflow of aws-lambda-builders (installed from
  the index into its own venv, made by this script with a CPython 3.12, not
  timed), building a layer directory (its time is the build alone).
Both tools' layers are judged by the same rules, neither counted in the times:
lambdalayer's audit of the layer for Lambda's base image (`audit_layer`, what
`lambdalayer check` runs: a library or symbol version Lambda lacks that importing
the layer needs is a failure), then `lambdalayer test`, which imports the modules
with only the layer on sys.path. The audit is what makes a layer that imports on
this host only because the host has a library (opencv-python's libGL) a failure.
A correct outcome is "built and imports" for a package that can work on Lambda and
"refused" (for lambdalayer: with the expected advice) for one that cannot; a layer
built for a package that cannot work is wrong whatever the judges say of it. Both
tools start with empty private caches (UV_CACHE_DIR, PIP_CACHE_DIR, lambdalayer's
cache): the cold pass; then every package again into new output folders with those
caches kept: the warm pass. A worker runs one package with both tools back to back,
so machine load hits both alike. Goals: more correct outcomes than SAM's builder,
and <= 0.33x its time cold and <= 0.5x warm (sums of per-package wall times).
Prints a table per pass, the totals and the ratios; exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lambdalayer.audit.check import check_path
from lambdalayer.interpreters.find import find_interpreter
from lambdalayer.targets.target import Target
from tests.realworld.packages import CASES, Case

GOALS = {"cold": 0.33, "warm": 0.5}

SAM_DRIVER = textwrap.dedent('''
    import os, sys, tempfile
    from aws_lambda_builders.builder import LambdaBuilder
    from aws_lambda_builders.exceptions import LambdaBuilderError
    spec, out = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src"); os.makedirs(src)
        manifest = os.path.join(src, "requirements.txt")
        open(manifest, "w").write(spec + "\\n")
        artifacts = os.path.join(out, "python")
        os.makedirs(artifacts, exist_ok=True)
        try:
            LambdaBuilder(language="python", dependency_manager="pip",
                          application_framework=None).build(
                src, artifacts, os.path.join(tmp, "scratch"), manifest,
                runtime="python3.12", architecture="x86_64",
                executable_search_paths=[os.path.dirname(sys.executable)],
                is_building_layer=True)
        except LambdaBuilderError as exc:
            print(f"SAM_ERROR {exc}", file=sys.stderr)
            sys.exit(1)
''')


@dataclass
class Outcome:
    correct: bool
    seconds: float
    what: str


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True,
                          check=False, timeout=1800)


def import_test(layer: Path, case: Case, env: dict[str, str]) -> bool:
    args = [sys.executable, "-m", "lambdalayer", "test", str(layer), "--runtime",
            "python3.12", "--arch", "x86_64"]
    for module in case.imports:
        args += ["--import", module]
    return run(args, env).returncode == 0


def audit_failure(layer: Path) -> str | None:
    """What our audit refuses in `layer` (a tree or a zip) for python3.12/x86_64 on
    Lambda's base image, or None when it passes; the same rule for both tools."""
    report = check_path(layer, [Target.parse("python3.12", "x86_64")])
    if report.ok:
        return None
    subjects = sorted({f.subject or f.code for f in report.errors})
    return ", ".join(subjects)


def judge(layer: Path, case: Case, env: dict[str, str]) -> tuple[bool, str, float]:
    """(correct, what, seconds the proof took) for a layer a tool built."""
    failure = audit_failure(layer)
    if failure is not None:
        return False, f"audit FAIL: {failure}"[:30], 0.0
    start = time.perf_counter()
    imported = import_test(layer, case, env)
    return imported, "built+imports" if imported else "imports FAIL", \
        time.perf_counter() - start


def lambdalayer_case(case: Case, work: Path, env: dict[str, str]) -> Outcome:
    out = work / case.name
    start = time.perf_counter()
    built = run([sys.executable, "-m", "lambdalayer", "build", case.name, "-p", case.spec,
                 "--runtime", "python3.12", "--arch", "x86_64", "--out", str(out)], env)
    seconds = time.perf_counter() - start
    if case.refuse is not None:
        code, advice = case.refuse
        ok = built.returncode == code and advice in built.stderr
        return Outcome(ok, seconds, f"refused ({built.returncode})" if built.returncode else
                       "built")
    if built.returncode != 0:
        return Outcome(False, seconds, f"refused ({built.returncode})")
    correct, what, _ = judge(out / f"{case.name}.zip", case, env)
    return Outcome(correct, seconds, what)


def sam_case(case: Case, work: Path, python: str, driver: Path, env: dict[str, str],
             ll_env: dict[str, str]) -> Outcome:
    out = work / case.name
    start = time.perf_counter()
    built = run([python, str(driver), case.spec, str(out)], env)
    seconds = time.perf_counter() - start
    if built.returncode != 0:
        return Outcome(case.refuse is not None, seconds, "refused")
    if case.refuse is not None:
        failure = audit_failure(out)
        return Outcome(False, seconds, "built (should refuse)" if failure is None else
                       f"built, audit FAIL: {failure}"[:30])
    correct, what, _ = judge(out, case, ll_env)
    return Outcome(correct, seconds, what)


def make_sam_venv(work: Path) -> str:
    interpreter = find_interpreter("3.12")
    if interpreter is None:
        sys.exit("needs a CPython 3.12 for SAM's builder (python3.12 runtime)")
    venv = work / "samvenv"
    subprocess.run([interpreter.path, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "aws-lambda-builders"],
                   check=True)
    return str(venv / "bin" / "python")


def main() -> int:
    parser = argparse.ArgumentParser(
        description="lambdalayer against SAM's builder on real packages (python3.12/x86_64); "
                    "both tools' layers judged by lambdalayer's audit for Lambda's base "
                    "image plus an import with only the layer on sys.path.")
    parser.add_argument("--workers", type=int, default=2, help="packages run at once")
    parser.add_argument("--work", type=Path, help="working directory (default: a new one)")
    parser.add_argument("--only", nargs="*", metavar="NAME", help="only these packages")
    parser.add_argument("--cold-only", action="store_true", help="skip the warm pass")
    opts = parser.parse_args()
    # As `pip install` leaves it (SAM's builder gets its venv from pip too): byte-compiled;
    # an editable checkout under PYTHONDONTWRITEBYTECODE=1 compiles every module per run.
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "lambdalayer", quiet=1)
    work = opts.work or Path(tempfile.mkdtemp(prefix="realworld-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if not opts.only or c.name in opts.only]
    python = make_sam_venv(work)
    driver = work / "sam_driver.py"
    driver.write_text(SAM_DRIVER)
    ll_env = {"UV_CACHE_DIR": str(work / "uvcache"),
              "LAMBDALAYER_CACHE_DIR": str(work / "llcache")}
    sam_env = {"PIP_CACHE_DIR": str(work / "pipcache")}
    met = True
    for name in ("cold",) if opts.cold_only else ("cold", "warm"):
        def both(case: Case, name: str = name) -> tuple[Outcome, Outcome]:
            return (lambdalayer_case(case, work / name / "ll", ll_env),
                    sam_case(case, work / name / "sam", python, driver, sam_env, ll_env))

        with ThreadPoolExecutor(max_workers=opts.workers) as pool:
            results = list(pool.map(both, cases))
        met = _report(name, cases, results) and met
    print("goals met" if met else "goal MISSED")
    return 0 if met else 1


def _report(name: str, cases: list[Case], results: list[tuple[Outcome, Outcome]]) -> bool:
    print(f"\n{name} caches")
    print(f"{'package':24} {'expected':10} {'lambdalayer':30} {'s':>6}  {'SAM builder':30} "
          f"{'s':>6}")
    for case, (ll, sam) in zip(cases, results, strict=True):
        expected = "refuse" if case.refuse else "imports"
        mark = lambda o: ("ok " if o.correct else "WRONG ") + o.what  # noqa: E731
        print(f"{case.name:24} {expected:10} {mark(ll):30} {ll.seconds:6.1f}  "
              f"{mark(sam):30} {sam.seconds:6.1f}")
    ll_ok = sum(ll.correct for ll, _ in results)
    sam_ok = sum(sam.correct for _, sam in results)
    ll_time = sum(ll.seconds for ll, _ in results)
    sam_time = sum(sam.seconds for _, sam in results)
    ratio = ll_time / sam_time if sam_time else float("inf")
    print(f"correct outcomes ({name}): lambdalayer {ll_ok}/{len(cases)}, SAM builder "
          f"{sam_ok}/{len(cases)}")
    print(f"wall time ({name}, sum over packages): lambdalayer {ll_time:.0f} s (import proof "
          f"included), SAM builder {sam_time:.0f} s; ratio {ratio:.2f} "
          f"(goal <= {GOALS[name]})")
    return ll_ok > sam_ok and ratio <= GOALS[name]


if __name__ == "__main__":
    sys.exit(main())
