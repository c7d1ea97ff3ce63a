"""`build --compile`: ship bytecode made by each target runtime's own interpreter.

Lambda extracts layers to a read-only /opt, so Python cannot cache bytecode
there and compiles every imported module on every cold start (docs/lambda-facts.md:
pandas+pyarrow import in 1.38 s without .pyc, 0.37 s with). This writes
`__pycache__/NAME.cpython-3Y.pyc` beside each `.py` file for every runtime that
imports it: a shared `python/` tree gets one pyc per runtime side by side, a
`python/lib/python3.Y/` tree only its own.

The pycs are `unchecked-hash` (PEP 552): no source mtime inside, never
revalidated, so they are valid on a read-only /opt and the zip stays
byte-reproducible. Code objects carry the file's Lambda path (/opt/python/...),
not the build directory; the compiling interpreter runs with PYTHONHASHSEED=0
so set constants marshal in the same order every time. The pyc bytes still
depend on the interpreter's micro version (3.12.1 vs 3.12.8 may differ).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common.errors import AuditError, LambdaLayerError, UsageError
from lambdalayer.common.limits import UNZIPPED_LIMIT
from lambdalayer.interpreters.find import Interpreter, find_interpreter, where_we_looked
from lambdalayer.proof.sandbox import View, find_sandbox, interpreter_paths
from lambdalayer.targets.runtimes import Runtime
from lambdalayer.targets.target import Target

_RUNTIME_DIR = re.compile(r"^python/lib/python(\d+\.\d+)/")

# Runs inside the target interpreter (3.9+, stdlib only). argv: jobs file, results file.
_COMPILER = """
import importlib.util, json, py_compile, sys
with open(sys.argv[1], encoding="utf-8") as f:
    jobs = json.load(f)
written, failed = [], []
for source, shown in jobs:
    target = importlib.util.cache_from_source(source)
    try:
        py_compile.compile(source, cfile=target, dfile=shown, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as exc:
        failed.append([source, str(exc.exc_value)])
    else:
        written.append(target)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"written": written, "failed": failed}, f)
"""


@dataclass(frozen=True, kw_only=True)
class CompiledRuntime:
    """The bytecode one runtime got: how many files, how many bytes, which sources failed."""

    runtime: str
    interpreter: str
    python_version: str  # the compiling interpreter's full version
    files: int
    size: int
    failed: tuple[tuple[str, str], ...] = ()  # (layer path, compiler message)


@dataclass(frozen=True, kw_only=True)
class CompileReport:
    runtimes: tuple[CompiledRuntime, ...]

    @property
    def size(self) -> int:
        """Bytes the .pyc files add to the unzipped layer."""
        return sum(r.size for r in self.runtimes)

    @property
    def files(self) -> int:
        return sum(r.files for r in self.runtimes)


def require_interpreters(runtimes: Sequence[Runtime]) -> dict[str, Interpreter]:
    """A local CPython for each runtime, by runtime name; UsageError naming the missing ones."""
    found: dict[str, Interpreter] = {}
    missing: list[Runtime] = []
    for runtime in runtimes:
        interpreter = find_interpreter(runtime.python_version)
        if interpreter is None:
            missing.append(runtime)
        else:
            found[runtime.name] = interpreter
    if missing:
        names = ", ".join(r.name for r in missing)
        how = "; ".join(where_we_looked(r.python_version) for r in missing)
        raise UsageError(
            f"--compile needs the interpreter of every runtime in the layer, because bytecode "
            f"is specific to a Python minor version; none found for {names} ({how}). Install "
            "it, or build for fewer runtimes with --runtime.")
    return found


def _jobs(root: Path, runtimes: Sequence[Runtime]) -> dict[str, list[tuple[str, str]]]:
    """Per runtime name: (source on disk, its Lambda path) of every .py that runtime imports."""
    by_version = {r.python_version: r.name for r in runtimes}
    jobs: dict[str, list[tuple[str, str]]] = {r.name: [] for r in runtimes}
    python_dir = root / "python"
    for dirpath, dirnames, filenames in os.walk(python_dir):
        dirnames.sort()
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = Path(dirpath, filename)
            if path.is_symlink():
                continue
            rel = path.relative_to(root).as_posix()
            match = _RUNTIME_DIR.match(rel)
            owners = ([by_version[match.group(1)]] if match and match.group(1) in by_version
                      else [] if match else list(jobs))
            for owner in owners:
                jobs[owner].append((str(path), f"/opt/{rel}"))
    return jobs


def _compile_one(runtime: str, interpreter: Interpreter, jobs: list[tuple[str, str]],
                 root: Path) -> CompiledRuntime:
    # Only what the compiler needs: none of the host's tokens or credentials.
    env = {k: v for k in ("PATH", "LANG", "LC_ALL", "TZ") if (v := os.environ.get(k))}
    env["PYTHONHASHSEED"] = "0"
    with tempfile.TemporaryDirectory(prefix="lambdalayer-compile-") as scratch:
        jobs_file = Path(scratch, "jobs.json")
        results_file = Path(scratch, "results.json")
        jobs_file.write_text(json.dumps(jobs), "utf-8")
        # -s -S: no site-packages; not -I, which would also drop PYTHONHASHSEED. In the
        # proof's box (proof/sandbox.py) like every run of a target interpreter on the
        # layer's files: the tree and the scratch folder writable, the rest as the proof.
        view = View(layer=(), readable=interpreter_paths(interpreter),
                    writable=(root.resolve(), Path(scratch)), cwd=scratch)
        command = find_sandbox().wrap(
            [interpreter.path, "-s", "-S", "-B", "-c", _COMPILER, str(jobs_file),
             str(results_file)], view)
        completed = subprocess.run(
            command, cwd=scratch, env=env, capture_output=True, text=True, encoding="utf-8",
            errors="replace", check=False, timeout=3600)
        if completed.returncode != 0 or not results_file.exists():
            raise LambdaLayerError(
                f"Compiling bytecode with {interpreter.path} failed (exit status "
                f"{completed.returncode}):\n{completed.stderr.strip()[-2000:]}")
        results = json.loads(results_file.read_text("utf-8"))
    written = [Path(p) for p in results["written"]]
    failed = tuple((Path(src).relative_to(root).as_posix(), message.strip().splitlines()[-1])
                   for src, message in results["failed"])
    return CompiledRuntime(runtime=runtime, interpreter=interpreter.path,
                           python_version=interpreter.version, files=len(written),
                           size=sum(p.stat().st_size for p in written), failed=failed)


def compile_tree(root: Path, runtimes: Sequence[Runtime], *,
                 progress: Callable[[str], None] | None = None) -> CompileReport:
    """Write unchecked-hash pycs into the layer tree at `root` for each of `runtimes`.

    Sources that do not compile for a runtime (a Python 2 file shipped by a
    package, say) are listed in the report and left as they are: importing
    them would fail on Lambda just the same. Raises UsageError when an
    interpreter is missing.
    """
    interpreters = require_interpreters(runtimes)
    jobs = _jobs(root, runtimes)
    if progress:
        progress(f"compiling bytecode for {', '.join(r.name for r in runtimes)}")
    # One interpreter per runtime; they write different files (the cache tag differs).
    with ThreadPoolExecutor(max_workers=min(2, max(1, len(runtimes)))) as pool:
        compiled = list(pool.map(
            lambda r: _compile_one(r.name, interpreters[r.name], jobs[r.name], root), runtimes))
    return CompileReport(runtimes=tuple(compiled))


def compile_layer(root: Path, name: str, targets: Sequence[Target], unzipped: int, *,
                  progress: Callable[[str], None] | None = None) -> CompileReport:
    """`compile_tree` for the runtimes of `targets`; AuditError when the .pyc files
    push the layer (`unzipped` bytes before) over Lambda's unzipped limit."""
    runtimes = list(dict.fromkeys(t.runtime for t in targets))
    report = compile_tree(root, runtimes, progress=progress)
    total = unzipped + report.size
    if total > UNZIPPED_LIMIT:
        raise AuditError(
            f"{name} is {total / 1e6:.1f} MB unzipped with its bytecode ({report.size / 1e6:.1f} "
            f"MB of .pyc for {len(runtimes)} runtime(s)), over Lambda's 262,144,000-byte "
            "limit for a function and its layers; no zip was written.",
            hint="Build without --compile, or for fewer runtimes (--runtime): each runtime "
                 "adds its own .pyc files.")
    return report
