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
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from subprocess import Popen
from typing import TYPE_CHECKING, Any, TypeVar

from lambdalayer.common import cores, interrupt
from lambdalayer.common.errors import UsageError
from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.interpreters.find import (
    Interpreter,
    find_for,
    host_machine,
    missing_reason,
)
from lambdalayer.proof import script
from lambdalayer.proof.answers import (
    BoxedAnswer,
    ParsedAnswer,
    finish_boxed,
    parse_records,
    start_boxed,
)
from lambdalayer.proof.sandbox import (
    EMULATION_EXTRA_BYTES,
    MEMORY_BYTES,
    OPT,
    TASK,
    TMP,
    Sandbox,
    View,
    find_sandbox,
    interpreter_paths,
)
from lambdalayer.proof.target_run import HandlerResult, ImportResult, Status, TargetRun
from lambdalayer.targets.runtime_sdk import SDK_INSIDE, RuntimeSdk
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.audit import AuditReport

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_T = TypeVar("_T")
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
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
    """The layer (and function code) as the run sees them.

    `opt`/`task` are host folders to read from (layer_modules, native code); `binds`
    shows them read-only at Lambda's paths inside the box; `inside_opt`/`inside_task`
    are the paths the interpreter uses: /opt and /var/task in a box, else the host
    folders of a private copy (unboxed code could change the tree being zipped, and
    through its hard links uv's cache)."""

    base: Path
    opt: Path
    task: Path
    boxed: bool
    binds: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def inside_opt(self) -> str:
        return OPT if self.boxed else str(self.opt)

    @property
    def inside_task(self) -> str:
        return TASK if self.boxed else str(self.task)


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _show(staged: _Staged, folder: Path, where: Path, inside: str) -> Path:
    """`folder` (the user's) as `inside` in the box: bound read-only there, and read in
    place on the host side (returned); without a box, copied to `where` (returned), so
    nothing unboxed touches the original."""
    import shutil

    if staged.boxed:
        staged.binds.append((folder.resolve(), inside))
        return folder.resolve()
    shutil.copytree(folder, where, symlinks=True)
    return where


def _extract(staged: _Staged, archive: Path, where: Path, inside: str, label: str) -> None:
    from lambdalayer.common.zipread import safe_extract

    where.mkdir(parents=True)
    extracted = safe_extract(archive, where)
    staged.problems.extend(f"{label}{p.name}: {p.message}" for p in extracted.problems)
    if staged.boxed:
        staged.binds.append((where, inside))


@contextmanager
def _staged(source: Path, code: Path | None, boxed: bool) -> Iterator[_Staged]:
    """A temporary /opt (and /var/task) holding the layer (and the function's code)."""
    from lambdalayer.common.workdirs import workdir

    # Named with our pid: the last cleanup of a signalled build removes it (workdirs).
    with workdir("test") as base:
        staged = _Staged(base=base, opt=base / "opt", task=base / "var" / "task",
                         boxed=boxed)
        staged.task.parent.mkdir(parents=True)
        if source.is_dir() and (source / "python").is_dir():
            staged.opt = _show(staged, source, staged.opt, OPT)
        elif source.is_dir() and source.name == "python":
            # The host side reads the folder holding it (only its python/ is looked at).
            staged.opt = _show(staged, source, staged.opt / "python", f"{OPT}/python").parent
        elif source.is_dir():
            raise UsageError(
                f"{source} has no python/ directory, so Lambda would put nothing of it "
                "on sys.path. Give the layer's root (the directory holding python/) or a "
                "layer zip.")
        elif source.is_file():
            _extract(staged, source, staged.opt, OPT, "")
        else:
            raise UsageError(f"{source} does not exist.",
                             hint="Give a layer zip or a layer directory.")
        if code is None:
            staged.task.mkdir()
        elif code.is_dir():
            staged.task = _show(staged, code, staged.task, TASK)
        elif code.is_file() and _is_zip(code):
            _extract(staged, code, staged.task, TASK, "(function) ")
        else:
            raise UsageError(f"--code {code}: not a directory or a zip file.")
        (base / "box-root").mkdir()
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


def _inside_dirs(opt: str, python_version: str) -> list[str]:
    """_search_dirs as the interpreter names them (/opt/... in a box)."""
    return [f"{opt}/python/lib/python{python_version}/site-packages", f"{opt}/python"]


def _search_dirs(opt: Path, python_version: str) -> list[Path]:
    """Where the runtime imports from inside the layer, in Lambda's order."""
    return [opt / "python" / "lib" / f"python{python_version}" / "site-packages",
            opt / "python"]


def _top_names(opt: Path, python_version: str) -> set[str]:
    """The names at the top of the layer's import folders (`lib`, `bin` and such aside)."""
    names: set[str] = set()
    for directory in _search_dirs(opt, python_version):
        with contextlib.suppress(OSError):
            names.update(n for n in os.listdir(directory) if n not in _SKIPPED_TOP)
    return names


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
    scratch = TMP if staged.boxed else str(staged.base / "tmp")
    if not staged.boxed:
        (staged.base / "tmp").mkdir(exist_ok=True)
    env = runtime_environment(pass_env, home=Path(scratch))
    env["TMPDIR"] = scratch  # the box's private /tmp, as Lambda's /tmp
    # Lambda's loader path puts the function's and the layers' lib dirs first.
    task, opt = staged.inside_task, staged.inside_opt
    extra = [task, f"{task}/lib", f"{opt}/lib"]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        extra + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p and not staged.boxed])
    env["LAMBDA_TASK_ROOT"] = task
    return env


def bytecode_cache(interpreter: Interpreter, scope: str | None) -> str | None:
    """The folder of bytecode compiled for `interpreter` (in_target._cache_bytecode), or
    None (no `scope`) to compile every imported module.

    One folder per interpreter (its path, version, machine, how it is launched, and the
    executable's size and mtime: a reinstalled CPython gets a fresh folder), shared by
    every layer: only the precompile run writes it, which compiles the layer's sources
    and runs none of their code, and each entry is named by the SHA-256 of its source;
    the importing run, where the layer's code runs, sees it read-only. "v2": folders
    of earlier releases, which layer code could write, are never read
    (docs/proof-threat-model.md).
    """
    if scope is None:
        return None
    from lambdalayer.common.cache import proof_bytecode_dir

    try:
        info = os.stat(interpreter.path)
    except OSError:
        return None
    identity = json.dumps(["v2", interpreter.path, interpreter.version, interpreter.machine,
                           interpreter.launch.describe(), info.st_size, info.st_mtime_ns])
    found = proof_bytecode_dir(identity)
    return str(found) if found else None


def empty_folder(directory: str) -> bool:
    """True for an empty folder; False when it holds anything or cannot be read."""
    try:
        with os.scandir(directory) as entries:
            return next(entries, None) is None
    except OSError:
        return False


# The bytecode folders this process's precompile runs write into. A signal kills a run
# that may be between writing a cache file and renaming it into place: the last cleanup
# removes such half-written files (in_target._store names them NAME.PID-RANDOM.tmp).
_BYTECODE_IN_USE: set[str] = set()


def _remove_partial_bytecode() -> None:
    """Half-written NAME.tmp files two levels down, never following a link: a folder
    that is a link is passed over, so nothing outside the cache is ever removed."""
    for directory in list(_BYTECODE_IN_USE):
        with contextlib.suppress(OSError), os.scandir(directory) as folders:
            for folder in folders:
                if not folder.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError), os.scandir(folder.path) as files:
                    for entry in files:
                        if entry.name.endswith(".tmp") and not entry.is_dir(
                                follow_symlinks=False):
                            with contextlib.suppress(OSError):
                                os.unlink(entry.path)


def keep_partial_bytecode_away(bytecode: str) -> None:
    """A precompile run writes into `bytecode`: the last cleanup removes what a signal
    left half-written there."""
    _BYTECODE_IN_USE.add(bytecode)
    interrupt.at_final_cleanup(_remove_partial_bytecode)


# Bytecode folders that were empty when this command's early helper began filling them
# (proof/early.py), each with what that helper compiled whole: the names at the top of
# each wheel it finished, waited for at most the seconds given (None: not known). The
# first proof there still compiles beside its import, unless the helper covered every
# name at the top of the layer.
EARLY_FILLS: dict[str, Callable[[float], frozenset[str] | None]] = {}
STOP_FILE = "stop"
_MAX_MISSES = 50_000  # sources one run may name for compiling afterwards


@dataclass(frozen=True, kw_only=True)
class _Box:
    """One target's run: the sandbox, its view, the command's environment."""

    sandbox: Sandbox
    interpreter: Interpreter
    staged: _Staged
    env: dict[str, str]
    library_path: list[str]
    network: bool = False
    extra: tuple[tuple[Path, str], ...] = ()  # more read-only binds: the runtime's SDK
    bytecode: str | None = None  # the proof's bytecode cache, which may hold the script's

    def command(self, config: dict[str, Any], *, writable: tuple[Path, ...] = (),
                readable: tuple[Path, ...] = ()) -> list[str]:
        argv = self.interpreter.launch.argv(
            self.interpreter.path,
            script.arguments(config, self.bytecode, self.interpreter.version),
            self.library_path)
        emulated = self.interpreter.launch.kind in ("qemu", "binfmt")
        view = View(layer=(*self.staged.binds, *self.extra),
                    readable=(*interpreter_paths(self.interpreter), *readable),
                    writable=writable, network=self.network,
                    memory=MEMORY_BYTES + (EMULATION_EXTRA_BYTES if emulated else 0),
                    cwd=self.staged.inside_task, scratch=str(self.staged.base / "box-root"))
        return self.sandbox.wrap(argv, view)


def _start_precompile(box: _Box, version: str, bytecode: str,
                      files: list[str] | None = None, skip: frozenset[str] = frozenset()
                      ) -> tuple[Popen[bytes], Path] | None:
    """A run of the target's CPython that fills the bytecode cache (in_target._precompile):
    beside the proof's import on a spare core (`files` None: the whole layer, but the
    names in `skip` at its top, which the early helper compiled), or after it for what
    the import compiled (`files`), and the runner script's own code when the cache lacks
    it (proof/script.py). It runs none of the layer's code, and is the only kind of run
    that may write the cache."""
    control = Path(tempfile.mkdtemp(prefix="control-", dir=box.staged.base))
    kept = script.is_kept(bytecode, box.interpreter.version)
    config = {"precompile": _inside_dirs(box.staged.inside_opt, version),
              "files": files, "bytecode": bytecode, "stop": str(control / STOP_FILE),
              "script": None if kept else script.source(), "skip": sorted(skip)}
    command = box.command(config, writable=(Path(bytecode),), readable=(control,))
    try:
        helper = start_boxed(command, cwd=box.staged.task, env=box.env)
    except OSError:
        return None  # the proof compiles what it imports, as without the helper
    keep_partial_bytecode_away(bytecode)
    return helper, control


def _when_done(helper: Popen[bytes], then: Callable[[], None]) -> None:
    """Call `then` once `helper` has exited (polled: its pipe is read elsewhere)."""
    while helper.poll() is None:
        time.sleep(0.01)
    then()


def _in_tests(path: str) -> bool:
    """True for a source in a folder the whole-layer helper passes over (in_target)."""
    return any(part in ("tests", "test", "testing") for part in Path(path).parts[:-1])


def _end_precompile(started: tuple[Popen[bytes], Path], *, stop: bool,
                    timeout: float) -> int:
    """Bytes of bytecode the helper stored (stored_bytes). With `stop`, it is asked to
    stop between two files (so no cache file is left half-written) and killed if it does
    not within 5 s."""
    return stored_bytes(precompile_answer(started, stop=stop, timeout=timeout))


def precompile_answer(started: tuple[Popen[bytes], Path], *, stop: bool,
                      timeout: float) -> ParsedAnswer:
    """The helper's records, once it ended (see _end_precompile)."""
    helper, control = started
    if stop:
        with contextlib.suppress(OSError):
            (control / STOP_FILE).touch()
    return parse_records(finish_boxed(helper, timeout=5.0 if stop else timeout).stdout)


def stored_bytes(answer: ParsedAnswer) -> int:
    """Bytes of bytecode a helper said it stored (1 when it did not say: the cache may
    have grown, and is trimmed)."""
    stored = [r for r in answer.records if r.get("kind") == "stored"]
    value = stored[-1].get("bytes") if stored else 1
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


class Overlap:
    """For a caller that works while the proof runs (pipeline/stages.py).

    `started` is set once the first import run's box is launched (or by `ended`, when
    the proof ends, in case none was). What only fills the bytecode cache (the helper
    compiling beside the import, asked to stop when it ends; the one compiling what
    the import compiled; the cache's trim; the staged folders they run in) waits for
    `close()` instead of delaying the proof's verdict: the caller closes it once its own
    work is done, on success or failure, so no box or scratch folder outlives the build."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self._stack = contextlib.ExitStack()
        self._stack.callback(self._trim)  # the last step: after every helper ended
        self._stored = 0

    def enter_context(self, context: AbstractContextManager[_T]) -> _T:
        return self._stack.enter_context(context)

    def stored(self, size: int) -> None:
        """`size` bytes were added to the cache (it is trimmed on close)."""
        self._stored += size

    def end_later(self, helper: tuple[Popen[bytes], Path], *, stop: bool,
                  timeout: float) -> None:
        """`helper` (_start_precompile's) awaited on close (_end_precompile); with `stop`,
        asked to stop now, between two files."""
        if stop:
            with contextlib.suppress(OSError):
                (helper[1] / STOP_FILE).touch()
        self._stack.callback(lambda: self.stored(_end_precompile(helper, stop=stop,
                                                                 timeout=timeout)))

    def ended(self, *_: object) -> None:
        """The proof ended (a future's done callback too): nobody waits for its start."""
        self.started.set()

    def close(self) -> None:
        self.started.set()
        self._stack.close()

    def _trim(self) -> None:
        if self._stored:
            from lambdalayer.common.cache import trim_proof_bytecode

            trim_proof_bytecode()  # walks the whole cache: only after it grew


def _config(staged: _Staged, version: str, imports: Sequence[str],
            function: FunctionCode | None, timeout: float,
            bytecode: str | None, after: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "paths": [staged.inside_task, *_inside_dirs(staged.inside_opt, version)],
        "after": list(after),  # after the layer, as Lambda has its SDK
        "imports": list(imports),
        "handler": function.handler if function else None,
        "event": function.event if function else None,
        "invoke": bool(function and function.invoke),
        "timeout": timeout,
        "bytecode": bytecode,
        # Which of the layer's ELF files the imports mapped, paths relative to these.
        "layer": sorted({staged.inside_opt, os.path.realpath(staged.inside_opt)}
                        if not staged.boxed else {OPT}),
    }


def _run_target(target: Target, interpreter: Interpreter, staged: _Staged,
                imports: Sequence[str], function: FunctionCode | None,
                timeout: float, sandbox: Sandbox, pass_env: Sequence[str] = (),
                bytecode_scope: str | None = None, precompile: bool = False,
                sdk: RuntimeSdk | None = None, overlap: Overlap | None = None) -> TargetRun:
    version = target.runtime.python_version
    bytecode = bytecode_cache(interpreter, bytecode_scope)
    env = _environment(staged, pass_env)
    library_path = env["LD_LIBRARY_PATH"].split(os.pathsep)
    if interpreter.launch.kind != "native":
        # The guest's loader gets it from the launcher (qemu -E / --library-path, or
        # QEMU_SET_ENV under binfmt), so the host-side qemu never loads the layer's libraries.
        env.pop("LD_LIBRARY_PATH")
        env.update(interpreter.launch.environment(library_path))
    # An invoked handler keeps the network (a database on the CI runner); nothing else
    # of the host is in the box (proof/sandbox.py).
    network = bool(function and function.invoke)
    extra, sdk_paths, sdk_note = _place_sdk(staged, sdk)
    box = _Box(sandbox=sandbox, interpreter=interpreter, staged=staged, env=env,
               library_path=library_path, network=network, extra=extra,
               bytecode=bytecode)
    config = _config(staged, version, imports, function, timeout, bytecode, sdk_paths)
    # The cache is read-only to the import, where the layer's code runs.
    command = box.command(config, readable=(Path(bytecode),) if bytecode else ())
    early = EARLY_FILLS.get(bytecode) if bytecode else None
    beside = (precompile and bytecode and interpreter.launch.kind in ("native", "rootfs-loader")
              and (empty_folder(bytecode) or early is not None))
    started = time.perf_counter()
    importing = start_boxed(command, cwd=staged.task, env=env)  # first: it sets the pace
    if overlap is not None:
        overlap.started.set()  # the caller's work (the audit) no longer slows the start
    skip: frozenset[str] = frozenset()
    if beside and early is not None:  # asked to end when the proof began: a moment
        top = _top_names(staged.opt, version)
        skip = frozenset(top & (early(0.5) or frozenset()))
        beside = top != skip  # else the early helper compiled the whole layer
    helper = (_start_precompile(box, version, bytecode, skip=skip) if beside and bytecode
              else None)
    try:
        # The import and its helper take two cores: the zip waits (common/cores.py).
        with cores.claimed(2 if helper else 0) as give_back:
            if helper:  # the helper's core is spare again once it is done
                threading.Thread(target=_when_done, args=(helper[0], give_back),
                                 daemon=True).start()
            answer = finish_boxed(importing, timeout=timeout)
    finally:
        # Done by now, the helper compiled every module a miss can name (but tests).
        covered = helper is not None and helper[0].poll() == 0
        stored = 0
        if helper and overlap is not None:
            overlap.end_later(helper, stop=True, timeout=5.0)  # not waited for meanwhile
        elif helper:
            stored = _end_precompile(helper, stop=True, timeout=5.0)
    elapsed = time.perf_counter() - started
    run = _collect(target, interpreter, staged, answer, elapsed)
    misses = [m for m in run.misses if not covered or _in_tests(m)]
    if bytecode and (misses or not (covered or script.is_kept(bytecode, interpreter.version))):
        # What the import compiled, compiled again where the layer's code cannot reach.
        after = _start_precompile(box, version, bytecode, misses[:_MAX_MISSES])
        if after and overlap is not None:
            overlap.end_later(after, stop=False, timeout=timeout)  # after the verdict
        elif after:
            stored += _end_precompile(after, stop=False, timeout=timeout)
    return replace(run, sandbox=sandbox.describe(network=network),
                   bytecode_stored=stored, misses=(), runtime_sdk=sdk_note)


def _place_sdk(staged: _Staged, sdk: RuntimeSdk | None
               ) -> tuple[tuple[tuple[Path, str], ...], list[str], str | None]:
    """(binds, sys.path entries after the layer, what the run says) for the runtime's
    SDK: bound read-only at /var/runtime in a box; without one, a private copy, so
    unboxed code cannot change the cached SDK the next build reads."""
    import shutil

    if sdk is None:
        return (), [], None
    if sdk.folder is None:
        return (), [], f"without the runtime's SDK ({sdk.reason})"
    if staged.boxed:
        return ((sdk.folder, SDK_INSIDE),), [SDK_INSIDE], f"with {sdk.describe()}"
    copy = staged.base / f"runtime-sdk-{sdk.runtime}"
    if not copy.exists():
        shutil.copytree(sdk.folder, copy, symlinks=True)
    return (), [str(copy)], f"with {sdk.describe()}"


def _collect(target: Target, interpreter: Interpreter, staged: _Staged, answer: BoxedAnswer,
             elapsed: float) -> TargetRun:
    """What the run proved, read from its answer, which the layer's code could have written:
    anything malformed, missing or cut short fails the run."""
    parsed = parse_records(answer.stdout)
    crash = _lambda_path(answer.crash or parsed.problem, staged)
    if crash is None and not parsed.ended:
        crash = ("the interpreter exited (status 0) before the proof ended: its answer "
                 "has no end")
    imports: list[ImportResult] = []
    handler: HandlerResult | None = None
    pending = parsed.pending
    for result in parsed.imports:
        imports.append(replace(result, origin=_lambda_path(result.origin, staged),
                               error=_lambda_path(result.error, staged),
                               traceback=_lambda_path(result.traceback, staged)))
    if parsed.handler is not None:
        handler = replace(parsed.handler, origin=_lambda_path(parsed.handler.origin, staged),
                          error=_lambda_path(parsed.handler.error, staged),
                          traceback=_lambda_path(parsed.handler.traceback, staged))
    reason = None
    if crash is not None:
        # The step that began and never ended is the one that brought the interpreter down.
        if pending is not None and pending[1]:
            handler = HandlerResult(handler=pending[1], ok=False, seconds=0.0, invoked=True,
                                    error=crash)
        elif pending is not None:
            imports.append(ImportResult(module=pending[0], ok=False, seconds=0.0,
                                        error=crash))
        else:
            reason = crash
    failed = (reason is not None or any(not i.ok for i in imports)
              or (handler is not None and not handler.ok))
    return TargetRun(target=target, status="failed" if failed else "passed", reason=reason,
                     interpreter=interpreter.path,
                     python_version=parsed.version or interpreter.version,
                     imports=tuple(imports), handler=handler, seconds=elapsed,
                     how=interpreter.launch.describe(), glibc=parsed.glibc,
                     mapped=parsed.mapped, misses=parsed.misses)


def _run_one(target: Target, staged: _Staged, native: bool, imports: Sequence[str],
             function: FunctionCode | None, timeout: float,
             pass_env: Sequence[str], configured: ConfiguredInterpreters,
             bytecode_scope: str | None, sandbox: Sandbox,
             precompile: bool = False, sdk: RuntimeSdk | None = None,
             overlap: Overlap | None = None) -> TargetRun:
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
    return _run_target(target, interpreter, staged, wanted, function, timeout, sandbox,
                       pass_env, bytecode_scope, precompile, sdk, overlap)


def run_proof(source: Path, targets: Sequence[Target], *, imports: Sequence[str] = (),
              imports_from: str = "option", function: FunctionCode | None = None,
              timeout: float = DEFAULT_TIMEOUT, fallback_check: bool = True,
              pass_env: Sequence[str] = (),
              configured: ConfiguredInterpreters = NOTHING_CONFIGURED,
              bytecode_scope: str | None = None, trim_bytecode: bool = True,
              precompile: bool = False, sandbox_required: bool = False,
              runtime_sdk: Mapping[str, RuntimeSdk] | None = None,
              native: bool | None = None, overlap: Overlap | None = None) -> ProofReport:
    """Prove the layer at `source` (zip or directory) on every target the host can run.

    `imports` empty means every top-level package of the layer, per target.
    Targets the host cannot run are "not-run" with a reason; with
    `fallback_check`, the audit of those targets is attached as `check`. The
    interpreter gets `runtime_environment(pass_env)`, not the host's environment.
    `bytecode_scope` names the layer whose compiled modules are kept between runs
    (bytecode_cache); None compiles every imported module afresh. After a run that added
    to that cache it is trimmed to its share, unless `trim_bytecode` is False (a caller
    running several run_proof side by side trims once itself). `precompile`: a core is
    spare, so a first run on a native interpreter may fill that cache beside the import
    (_start_precompile). Every run is boxed (proof/sandbox.py); `sandbox_required`
    refuses to run unboxed. `runtime_sdk` (runtime name -> its SDK): placed after the
    layer, where Lambda has it, for layers that left it out (`--exclude :runtime:`).
    `native`: whether the layer holds native code, when the caller already knows
    (has_native_code walks the whole tree of a pure-Python layer). `overlap`: the
    caller works meanwhile (Overlap); the staged folders are removed when it is closed.
    Raises UsageError for a source that is not a layer, SandboxUnavailable when a box
    is required or named and cannot be made (before anything runs).
    """
    if not targets:
        raise UsageError("Nothing to test against: give at least one --runtime.")
    runs: list[TargetRun] = []
    sandbox = (find_sandbox(required=sandbox_required) if platform.system() == "Linux"
               else Sandbox(kind="none", reason=f"this host runs {platform.system()}"))
    with contextlib.ExitStack() as here:
        staged = (overlap or here).enter_context(
            _staged(source, function.code if function else None, sandbox.boxed))
        if native is None:
            native = has_native_code(staged.opt)
        done: dict[tuple[str, str], TargetRun] = {}
        for target in targets:
            key = (target.runtime.name, target.arch if native else "")
            if key in done:
                runs.append(replace(done[key], target=target, covered_by=str(done[key].target)))
                continue
            runs.append(_run_one(target, staged, native, imports, function, timeout,
                                 pass_env, configured, bytecode_scope, sandbox, precompile,
                                 (runtime_sdk or {}).get(target.runtime.name), overlap))
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
