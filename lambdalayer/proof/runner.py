"""Import a layer on a real interpreter, the way Lambda would (`lambdalayer test`).

The layer is extracted into a temporary directory laid out like Lambda's `/opt`
(and the function's code, if any, like `/var/task`). For each target, a local
CPython of the runtime's minor version runs the imports as `python -I -S -B`:
no host site-packages, no PYTHON* variables, no bytecode written into the
layer (Lambda's /opt is read-only: what the run compiles is kept in
lambdalayer's cache instead, see bytecode_cache), and sys.path in Lambda's
order (docs/lambda-facts.md):
`/var/task`, `/opt/python/lib/pythonX.Y/site-packages`, `/opt/python`, then
the interpreter's standard library. LD_LIBRARY_PATH gets /var/task, /var/task/lib
and /opt/lib in front, as on Lambda.

A target runs only where the host can stand in for it: Linux with glibc, and
the target's machine when the layer holds native code (a pure-Python layer is
the same bytes on both architectures). Otherwise it is "not-run" with the
reason, and the audit (`check`) runs instead. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalayer.common import interrupt
from lambdalayer.common.errors import UsageError
from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.interpreters.find import (
    Interpreter,
    find_for,
    host_machine,
    missing_reason,
)
from lambdalayer.proof.sandbox import find_sandbox
from lambdalayer.proof.target_run import HandlerResult, ImportResult, Status, TargetRun
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.audit import AuditReport

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_RUNNER = Path(__file__).with_name("in_target.py")
_SKIPPED_TOP = frozenset({"__pycache__", "bin", "lib", "include", "share"})
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True, kw_only=True)
class ProofReport:
    """Every target's run; `check` holds the audit of the targets that could not run."""

    source: str
    runs: tuple[TargetRun, ...]
    imports_from: str  # "option", "manifest", "layer" (every top-level package)
    problems: tuple[str, ...] = ()  # zip entries not extracted, and why
    check: AuditReport | None = None

    @property
    def status(self) -> Status:
        """failed if any target failed; else not-run if any could not run; else passed."""
        states = {run.status for run in self.runs}
        if "failed" in states:
            return "failed"
        if "not-run" in states or not states:
            return "not-run"
        return "passed"


@dataclass(frozen=True, kw_only=True)
class FunctionCode:
    """The function's code for /var/task and the handler to load from it."""

    code: Path
    handler: str  # "module.func", as in the function's Handler setting
    event: Any = None
    invoke: bool = False  # call the handler once with `event`

    def __post_init__(self) -> None:
        module, _, func = self.handler.rpartition(".")
        if not module or not func or not all(_IDENTIFIER.match(p) for p in self.handler.split(".")):
            raise UsageError(f"--handler {self.handler!r} is not of the form module.function "
                             "(e.g. handler.lambda_handler), as in the function's Handler setting.")


@dataclass(kw_only=True)
class _Staged:
    opt: Path
    task: Path
    problems: list[str] = field(default_factory=list)


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _link_or_copy(link: Path, directory: Path) -> None:
    """A symlink to `directory`, or a copy where symlinks need a privilege (Windows)."""
    try:
        link.symlink_to(directory, target_is_directory=True)
    except (OSError, NotImplementedError):
        import shutil

        shutil.copytree(directory, link, symlinks=True)


@contextmanager
def _staged(source: Path, code: Path | None) -> Iterator[_Staged]:
    """A temporary /opt (and /var/task) holding the layer (and the function's code)."""
    from lambdalayer.audit.zipread import safe_extract
    from lambdalayer.common.workdirs import workdir

    # Named with our pid: the last cleanup of a signalled build removes it (workdirs).
    with workdir("test") as base:
        staged = _Staged(opt=base / "opt", task=base / "var" / "task")
        staged.task.parent.mkdir(parents=True)
        if source.is_dir():
            if (source / "python").is_dir():
                _link_or_copy(staged.opt, source.resolve())
            elif source.name == "python":
                staged.opt.mkdir()
                _link_or_copy(staged.opt / "python", source.resolve())
            else:
                raise UsageError(
                    f"{source} has no python/ directory, so Lambda would put nothing of it "
                    "on sys.path. Give the layer's root (the directory holding python/) or a "
                    "layer zip.")
        elif source.is_file():
            staged.opt.mkdir()
            extracted = safe_extract(source, staged.opt)
            staged.problems.extend(f"{p.name}: {p.message}" for p in extracted.problems)
        else:
            raise UsageError(f"{source} does not exist.",
                             hint="Give a layer zip or a layer directory.")
        if code is None:
            staged.task.mkdir()
        elif code.is_dir():
            _link_or_copy(staged.task, code.resolve())
        elif code.is_file() and _is_zip(code):
            staged.task.mkdir()
            extracted = safe_extract(code, staged.task)
            staged.problems.extend(f"(function) {p.name}: {p.message}"
                                   for p in extracted.problems)
        else:
            raise UsageError(f"--code {code}: not a directory or a zip file.")
        yield staged


def _walk_once(root: Path) -> Iterator[list[str]]:
    """The file names of each directory under `root`, following symlinks (the staged /opt
    is made of them) but entering each directory once: a link loop in a zip
    (`python/a -> .`) ends instead of walking forever."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            info = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            dirnames[:] = []
            continue
        seen.add(key)
        yield filenames


def has_native_code(root: Path) -> bool:
    """True when the tree holds a shared library or extension module of any platform."""
    for filenames in _walk_once(root):
        for name in filenames:
            if name.endswith(_NATIVE_SUFFIXES) or ".so." in name:
                return True
    return False


def _search_dirs(opt: Path, python_version: str) -> list[Path]:
    """Where the runtime imports from inside the layer, in Lambda's order."""
    return [opt / "python" / "lib" / f"python{python_version}" / "site-packages",
            opt / "python"]


def _module_name(entry: str, directory: Path) -> str | None:
    """The importable top-level name a RECORD path or directory entry provides, if any."""
    first, _, rest = entry.partition("/")
    if rest:
        if first.endswith((".dist-info", ".data")) or first in _SKIPPED_TOP:
            return None
        return first if _IDENTIFIER.match(first) and (directory / first).is_dir() else None
    if first.endswith(".py"):
        stem = first[:-3]
        return stem if _IDENTIFIER.match(stem) else None
    if first.endswith((".so", ".pyd")):
        stem = first.split(".", 1)[0]
        return stem if _IDENTIFIER.match(stem) else None
    return None


def _present(directory: Path, name: str) -> bool:
    """True when `name` is a package or module file directly in `directory`."""
    return ((directory / name).is_dir() or (directory / f"{name}.py").is_file()
            or any(directory.glob(f"{name}.*.so")) or any(directory.glob(f"{name}.*.pyd")))


def layer_modules(opt: Path, python_version: str) -> list[str]:
    """Every top-level package the runtime would find in the layer, sorted.

    From each dist-info's top_level.txt (else its RECORD), plus packages and
    modules that no dist-info claims (a hand-made layer).
    """
    names: set[str] = set()
    for directory in _search_dirs(opt, python_version):
        if not directory.is_dir():
            continue
        for dist_info in sorted(directory.glob("*.dist-info")):
            top_level = dist_info / "top_level.txt"
            record = dist_info / "RECORD"
            if top_level.is_file():
                entries = top_level.read_text("utf-8", "replace").split()
                names.update(e for e in entries if _IDENTIFIER.match(e) and _present(directory, e))
            elif record.is_file():
                for line in record.read_text("utf-8", "replace").splitlines():
                    path = line.rsplit(",", 2)[0].strip('"')
                    name = _module_name(path, directory)
                    if name:
                        names.add(name)
        for entry in directory.iterdir():
            if entry.is_dir():
                if (entry / "__init__.py").exists() and _module_name(f"{entry.name}/x", directory):
                    names.add(entry.name)
            else:
                name = _module_name(entry.name, directory)
                if name:
                    names.add(name)
    return sorted(names, key=str.lower)


def cannot_run_reason(target: Target, interpreter: Interpreter | None,
                      native: bool, configured: ConfiguredInterpreters) -> str | None:
    """Why this host cannot stand in for `target`, or None when it can."""
    version = target.runtime.python_version
    if interpreter is None:
        return missing_reason(version, target.machine if native else host_machine(),
                              configured)
    if interpreter.system != "Linux":
        return (f"this host runs {interpreter.system}, and {target.runtime.name} runs on "
                f"{target.runtime.os.name}: imports are only meaningful on Linux (run "
                "`lambdalayer test` in CI on a Linux runner)")
    if interpreter.libc != "glibc":
        return ("this host's C library is not glibc (musl?); Lambda's is glibc, so native "
                "code built for it cannot be tried here")
    if native and interpreter.machine not in (target.machine, target.arch):
        return (f"the layer holds native code for {target.arch} ({target.machine}) and this "
                f"host is {interpreter.machine}: run `lambdalayer test` on Linux "
                f"{target.machine} (for arm64: a Graviton or other arm64 CI runner)")
    return None


def pick_interpreter(target: Target, native: bool,
                     configured: ConfiguredInterpreters) -> Interpreter | None:
    """The interpreter that proves `target`: its machine's for native code, else any."""
    version = target.runtime.python_version
    if native:
        return find_for(version, target.machine, configured)
    # Pure Python runs the same anywhere: the host's own machine first (no emulation).
    host = host_machine()
    other = "aarch64" if host == "x86_64" else "x86_64"
    return find_for(version, host, configured) or find_for(version, other, configured)


def _lambda_path(text: str | None, staged: _Staged) -> str | None:
    """`text` with the temporary /opt and /var/task shown as the Lambda paths they stand for."""
    if not text:
        return text
    for prefix, shown in ((staged.opt, "/opt"), (staged.task, "/var/task")):
        # Longest first: the resolved target of a symlinked directory may contain the other.
        for root in sorted({str(prefix), str(prefix.resolve())}, key=len, reverse=True):
            text = text.replace(root + os.sep, shown + "/")
    return text


# Host variables the interpreter may keep: locale, time zone, temp dir, PATH (for
# subprocesses a package may start), and the region (not a secret; boto3 needs one).
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "AWS_REGION",
                   "AWS_DEFAULT_REGION")


def runtime_environment(pass_env: Sequence[str] = (), *, home: Path | None = None
                        ) -> dict[str, str]:
    """The environment the layer's code runs with: Lambda-like, nothing secret.

    The layer's import-time code (and a handler) is third-party code: it gets no
    AWS credentials, no CI tokens, nothing of the host's environment beyond
    _HOST_VARIABLES, unless `pass_env` names a variable (`--pass-env NAME`).
    HOME points at the scratch directory, so ~/.aws and ~/.netrc are not found.
    """
    env = {name: os.environ[name] for name in _HOST_VARIABLES if name in os.environ}
    env.setdefault("LANG", "en_US.UTF-8")  # as on Lambda
    env.update({"AWS_LAMBDA_FUNCTION_NAME": "lambdalayer-test",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"})
    if home is not None:
        env["HOME"] = str(home)
    for name in pass_env:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _environment(staged: _Staged, pass_env: Sequence[str] = ()) -> dict[str, str]:
    env = runtime_environment(pass_env, home=staged.opt.parent)
    # Lambda's loader path puts the function's and the layers' lib dirs first.
    extra = [str(staged.task), str(staged.task / "lib"), str(staged.opt / "lib")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        extra + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p])
    env["LAMBDA_TASK_ROOT"] = str(staged.task)
    return env


def bytecode_cache(interpreter: Interpreter, scope: str | None) -> str | None:
    """The folder the target interpreter keeps the bytecode it compiles in, between runs
    (in_target._cache_bytecode), or None (no `scope`) to compile every imported module.

    One folder per interpreter (its path, version, machine, how it is launched, and the
    executable's size and mtime: a reinstalled CPython gets a fresh folder) and per
    `scope`, the layer being proven: the layer's own code runs during the proof and can
    write there, so one layer never reads bytecode another layer's code could have written
    (docs/sandbox-and-limits.md).
    """
    if scope is None:
        return None
    from lambdalayer.common.cache import proof_bytecode_dir

    try:
        info = os.stat(interpreter.path)
    except OSError:
        return None
    identity = json.dumps([interpreter.path, interpreter.version, interpreter.machine,
                           interpreter.launch.describe(), info.st_size, info.st_mtime_ns,
                           scope])
    found = proof_bytecode_dir(identity)
    return str(found) if found else None


def _empty(directory: str) -> bool:
    """True for an empty folder; False when it holds anything or cannot be read."""
    try:
        with os.scandir(directory) as entries:
            return next(entries, None) is None
    except OSError:
        return False


# The bytecode folders this process's proofs write into. A signal kills a run that may be
# between writing a cache file and renaming it into place: the last cleanup removes such
# half-written files (in_target._store names them NAME.PID-RANDOM.tmp).
_BYTECODE_IN_USE: set[str] = set()


def _remove_partial_bytecode() -> None:
    for directory in list(_BYTECODE_IN_USE):
        for partial in Path(directory).glob("*/*.tmp"):
            with contextlib.suppress(OSError):
                partial.unlink()


_STOP_FILE = "precompile.stop"
_PRECOMPILED = "precompile.jsonl"  # what the helper stored: {"kind": "stored", "bytes": N}


def _start_precompile(interpreter: Interpreter, staged: _Staged, version: str,
                      bytecode: str, env: dict[str, str],
                      library_path: list[str]) -> subprocess.Popen[str] | None:
    """A second run of the target's CPython that fills the bytecode cache while the proof
    imports (in_target._precompile), on a spare core; only for a native interpreter
    (emulated, it would cost more than it saves) and an empty cache (a first build:
    later ones read their bytecode back anyway). Sandboxed like the proof, although it
    runs none of the layer's code."""
    if interpreter.launch.kind not in ("native", "rootfs-loader") or not _empty(bytecode):
        return None
    stop = staged.opt.parent / _STOP_FILE
    stop.unlink(missing_ok=True)
    (staged.opt.parent / _PRECOMPILED).write_text("")
    config = {"precompile": [str(d) for d in _search_dirs(staged.opt, version)],
              "bytecode": bytecode, "stop": str(stop),
              "results": str(staged.opt.parent / _PRECOMPILED)}
    command = interpreter.launch.argv(
        interpreter.path, ["-I", "-S", "-B", "-c", _RUNNER.read_text("utf-8"),
                           json.dumps(config)], library_path)
    command = find_sandbox().wrap(command, writable=staged.opt.parent, cwd=staged.task,
                                  also_writable=(Path(bytecode),))
    try:
        helper = subprocess.Popen(command, cwd=staged.task, env=env, text=True,
                                  encoding="utf-8", errors="replace",
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None  # the proof compiles what it imports, as without the helper
    interrupt.track(helper)
    return helper


def _end_precompile(helper: subprocess.Popen[str], staged: _Staged) -> int:
    """Asks the helper to stop between two files (so no cache file is left half-written),
    kills it if it does not within a few seconds; the bytes of bytecode it stored (1 when
    it did not say: the cache may have grown, and is trimmed)."""
    with contextlib.suppress(OSError):
        (staged.opt.parent / _STOP_FILE).touch()
    try:
        helper.wait(timeout=5)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
    finally:
        interrupt.untrack(helper)
    try:
        said = json.loads((staged.opt.parent / _PRECOMPILED).read_text("utf-8") or "{}")
        return int(said.get("bytes", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def _run_target(target: Target, interpreter: Interpreter, staged: _Staged,
                imports: Sequence[str], function: FunctionCode | None,
                timeout: float, pass_env: Sequence[str] = (),
                bytecode_scope: str | None = None, precompile: bool = False) -> TargetRun:
    version = target.runtime.python_version
    results_file = staged.opt.parent / f"results-{target.runtime.name}-{target.arch}.jsonl"
    results_file.write_text("")
    config = {
        "paths": [str(staged.task), *(str(d) for d in _search_dirs(staged.opt, version))],
        "imports": list(imports),
        "results": str(results_file),
        "handler": function.handler if function else None,
        "event": function.event if function else None,
        "invoke": bool(function and function.invoke),
        "timeout": timeout,
        "bytecode": bytecode_cache(interpreter, bytecode_scope),
        # Which of the layer's ELF files the imports mapped, paths relative to these.
        "layer": sorted({str(staged.opt), os.path.realpath(staged.opt)}),
    }
    env = _environment(staged, pass_env)
    library_path = env["LD_LIBRARY_PATH"].split(os.pathsep)
    if interpreter.launch.kind != "native":
        # The guest's loader gets it from the launcher (qemu -E / --library-path, or
        # QEMU_SET_ENV under binfmt), so the host-side qemu never loads the layer's libraries.
        env.pop("LD_LIBRARY_PATH")
        env.update(interpreter.launch.environment(library_path))
    command = interpreter.launch.argv(
        interpreter.path, ["-I", "-S", "-B", "-c", _RUNNER.read_text("utf-8"), json.dumps(config)],
        library_path)
    # The layer's code must not reach our environment (/proc/<parent>/environ) or the
    # network: proof/sandbox.py. Under bwrap the host's files are read-only, so the
    # scratch folder stands for Lambda's writable /tmp. An invoked handler keeps the network.
    sandbox = find_sandbox()
    network = bool(function and function.invoke)
    bytecode = config["bytecode"]
    command = sandbox.wrap(command, writable=staged.opt.parent, cwd=staged.task,
                           network=network,
                           also_writable=(Path(bytecode),) if isinstance(bytecode, str) else ())
    if sandbox.kind == "bwrap":
        env["TMPDIR"] = str(staged.opt.parent / "tmp")
        (staged.opt.parent / "tmp").mkdir(exist_ok=True)
    if isinstance(bytecode, str):
        _BYTECODE_IN_USE.add(bytecode)
        interrupt.at_final_cleanup(_remove_partial_bytecode)
    helper = (_start_precompile(interpreter, staged, version, bytecode, env, library_path)
              if precompile and isinstance(bytecode, str) else None)
    started = time.perf_counter()
    crash: str | None = None
    try:
        completed = subprocess.run(command, cwd=staged.task, env=env,
                                   capture_output=True, text=True, encoding="utf-8",
                                   errors="replace", timeout=timeout, check=False)
        if completed.returncode != 0:
            tail = "\n".join(completed.stderr.strip().splitlines()[-20:])
            how = (f"killed by signal {-completed.returncode}" if completed.returncode < 0
                   else f"exit status {completed.returncode}")
            crash = f"the interpreter stopped ({how})" + (f":\n{tail}" if tail else "")
    except subprocess.TimeoutExpired:
        crash = f"timed out after {timeout:.0f} s"
    finally:
        precompiled = _end_precompile(helper, staged) if helper is not None else 0
    elapsed = time.perf_counter() - started
    run = _collect(target, interpreter, staged, results_file, crash, elapsed)
    return replace(run, sandbox=sandbox.describe(network=network),
                   bytecode_stored=run.bytecode_stored + precompiled)


def _collect(target: Target, interpreter: Interpreter, staged: _Staged, results_file: Path,
             crash: str | None, elapsed: float) -> TargetRun:
    records = [json.loads(line) for line in results_file.read_text("utf-8").splitlines()
               if line.strip()]
    imports: list[ImportResult] = []
    handler: HandlerResult | None = None
    pending: dict[str, Any] | None = None
    version, glibc = interpreter.version, None
    mapped: tuple[str, ...] | None = None
    stored = 0
    for record in records:
        kind = record.get("kind")
        if kind == "start":
            version = str(record.get("version") or version)
            glibc = record.get("glibc") or None
        elif kind == "mapped" and record.get("files") is not None:
            mapped = tuple(str(f) for f in record["files"])
        elif kind == "stored":
            stored = int(record.get("bytes") or 0)
        elif kind == "begin":
            pending = record
        elif kind == "import":
            pending = None
            imports.append(ImportResult(
                module=record["module"], ok=record["ok"], seconds=record["seconds"],
                origin=_lambda_path(record.get("origin"), staged),
                error=_lambda_path(record.get("error"), staged),
                traceback=_lambda_path(record.get("traceback"), staged)))
        elif kind == "handler":
            pending = None
            handler = HandlerResult(
                handler=record["handler"], ok=record["ok"], seconds=record["seconds"],
                invoked=bool(record.get("invoked")),
                result=record.get("result"), origin=_lambda_path(record.get("origin"), staged),
                error=_lambda_path(record.get("error"), staged),
                traceback=_lambda_path(record.get("traceback"), staged))
    reason = None
    crash = _lambda_path(crash, staged)
    if crash is not None:
        # The step that began and never ended is the one that brought the interpreter down.
        if pending is not None and "handler" in pending:
            handler = HandlerResult(handler=pending["handler"], ok=False, seconds=0.0,
                                    invoked=True, error=crash)
        elif pending is not None:
            imports.append(ImportResult(module=pending["module"], ok=False, seconds=0.0,
                                        error=crash))
        else:
            reason = crash
    failed = (reason is not None or any(not i.ok for i in imports)
              or (handler is not None and not handler.ok))
    return TargetRun(target=target, status="failed" if failed else "passed", reason=reason,
                     interpreter=interpreter.path, python_version=version,
                     imports=tuple(imports), handler=handler, seconds=elapsed,
                     how=interpreter.launch.describe(), glibc=glibc, mapped=mapped,
                     bytecode_stored=stored)


def _run_one(target: Target, staged: _Staged, native: bool, imports: Sequence[str],
             function: FunctionCode | None, timeout: float,
             pass_env: Sequence[str], configured: ConfiguredInterpreters,
             bytecode_scope: str | None, precompile: bool = False) -> TargetRun:
    if platform.system() != "Linux":
        # Said before looking for interpreters: none of them could stand in for Lambda.
        return TargetRun(target=target, status="not-run", reason=(
            f"this host runs {platform.system()}, not Linux, and {target.runtime.name} runs on "
            f"{target.runtime.os.name}: imports are only meaningful on Linux (run "
            "`lambdalayer test` in CI on a Linux runner)"))
    interpreter = pick_interpreter(target, native, configured)
    reason = cannot_run_reason(target, interpreter, native, configured)
    if reason is not None or interpreter is None:
        return TargetRun(target=target, status="not-run", reason=reason)
    wanted = list(imports) or layer_modules(staged.opt, target.runtime.python_version)
    if not wanted and function is None:
        return TargetRun(
            target=target, status="failed", interpreter=interpreter.path,
            python_version=interpreter.version,
            reason=(f"nothing to import: {target.runtime.name} finds no Python package in the "
                    "layer (Lambda looks in python/ and "
                    f"python/lib/python{target.runtime.python_version}/site-packages/; were "
                    "the files zipped without the python/ prefix?)"))
    return _run_target(target, interpreter, staged, wanted, function, timeout, pass_env,
                       bytecode_scope, precompile)


def run_proof(source: Path, targets: Sequence[Target], *, imports: Sequence[str] = (),
              imports_from: str = "option", function: FunctionCode | None = None,
              timeout: float = DEFAULT_TIMEOUT, fallback_check: bool = True,
              pass_env: Sequence[str] = (),
              configured: ConfiguredInterpreters = NOTHING_CONFIGURED,
              bytecode_scope: str | None = None, trim_bytecode: bool = True,
              precompile: bool = False, sandbox_required: bool = False) -> ProofReport:
    """Import-test the layer at `source` (zip or directory) on every target the host can run.

    `imports` empty means every top-level package of the layer, per target.
    Targets the host cannot run are "not-run" with a reason; with
    `fallback_check`, the audit of those targets is attached as `check`. The
    interpreter gets `runtime_environment(pass_env)`, not the host's environment.
    `bytecode_scope` names the layer whose compiled modules are kept between runs
    (bytecode_cache); None compiles every imported module afresh. After a run that added
    to that cache it is trimmed to its share, unless `trim_bytecode` is False (a caller
    running several run_proof side by side trims once itself). `precompile`: a core is
    spare, so a first run on a native interpreter may fill that cache beside the import
    (_start_precompile).
    `sandbox_required`: raise SandboxUnavailable rather than run outside a sandbox.
    Raises UsageError for a source that is not a layer.
    """
    if not targets:
        raise UsageError("Nothing to test against: give at least one --runtime.")
    runs: list[TargetRun] = []
    with _staged(source, function.code if function else None) as staged:
        native = has_native_code(staged.opt)
        done: dict[tuple[str, str], TargetRun] = {}
        for target in targets:
            key = (target.runtime.name, target.arch if native else "")
            if key in done:
                runs.append(replace(done[key], target=target, covered_by=str(done[key].target)))
                continue
            runs.append(_run_one(target, staged, native, imports, function, timeout,
                                 pass_env, configured, bytecode_scope, precompile))
            done[key] = runs[-1]
        problems = tuple(staged.problems)
    if trim_bytecode and any(run.bytecode_stored for run in runs):
        from lambdalayer.common.cache import trim_proof_bytecode

        trim_proof_bytecode()  # walks the whole cache (about 0.3 s): only after it grew
    check = None
    skipped = [run.target for run in runs if run.status == "not-run"]
    if skipped and fallback_check:
        from lambdalayer.audit import check_path

        check = check_path(source, skipped)
    return ProofReport(source=str(source), runs=tuple(runs),
                       imports_from=imports_from if imports else "layer", problems=problems,
                       check=check)


def host_description() -> str:
    """This host as `test` output names it, e.g. "Linux x86_64 (glibc 2.36)"."""
    libc, libc_version = platform.libc_ver()
    suffix = f" ({libc} {libc_version})" if libc else ""
    return f"{platform.system()} {platform.machine()}{suffix}"
