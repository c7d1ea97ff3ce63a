"""The layer's bytecode compiled while uv still downloads it.

A cold build waits on the network while uv resolves and downloads, one core idle; the
proof then compiles every module it imports. But uv unpacks each wheel into its cache
(the `archive-v0` bucket: a temporary folder renamed into place) as soon as that wheel
arrives, before it links the tree. So, once uv puts a first wheel there (a warm uv,
which unpacks nothing, starts nothing here), a run of the first target's CPython, in a
box like the precompile helper's (runner._start_precompile: it runs none of the
layer's code, and only such runs write the bytecode cache), compiles the sources of
every folder put there since uv started (in_target._watch) into the proof's bytecode
cache. Entries are named by the SHA-256 of their source, so the import finds them for
the same files in the layer, wherever they lie. The helper sees uv's cache read-only
and nothing else of the host, and has no network.

It stops once the proof starts (`stop`): the tree is final then. The helper beside the
import (runner._start_precompile) then starts only when this one did not compile whole
every wheel whose names are at the top of the layer (runner.EARLY_FILLS: this one says
which it did). One thread starts the helper, waits, and awaits it, so the helper never
outlives that thread (bubblewrap's --die-with-parent follows the thread that started
it); the proof's Overlap joins the thread, or the command's end does when no proof
came. Nothing starts once a signal arrived.

Best effort: with no box, an emulated or missing interpreter, the bytecode cache off,
or a uv whose cache cannot be found, nothing starts and the proof compiles as before.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from subprocess import Popen
from typing import TYPE_CHECKING

from lambdalayer.common import interrupt
from lambdalayer.interpreters.configured import ConfiguredInterpreters
from lambdalayer.targets.target import Target

if TYPE_CHECKING:  # imported in the helper's thread: uv has just started (pipeline/layer.py)
    from lambdalayer.proof.runner import Overlap

INSIDE = "/uv-cache"  # where the helper sees uv's cache
BUCKET = "archive-v0"  # uv's folder of unpacked wheels (one folder per wheel)
_JOIN_SECONDS = 10.0  # the helper is killed 5 s after it was asked to stop

_LOCK = threading.Lock()
_asked = threading.Event()  # stop() was called: start nothing, end what runs
_threads: list[threading.Thread] = []
_stored = [0]  # bytes the helper added to the bytecode cache
_ended = threading.Event()  # the helper ended (or never started): _covered is final
_covered: list[frozenset[str] | None] = [None]  # the names of the wheels it compiled whole


def start(target: Target, configured: ConfiguredInterpreters, since: float,
          lookups: Sequence[threading.Thread]) -> None:
    """Once `lookups` (warmup's box and interpreter threads) ended, compile what uv
    unpacks from `since` (time.time() when uv started) on, for `target`'s CPython, in a
    thread of its own (see the module)."""
    thread = threading.Thread(target=_run, args=(target, configured, since, lookups),
                              daemon=True, name="proof-early")
    with _LOCK:
        _asked.clear()
        _ended.clear()
        _stored[0], _covered[0] = 0, None
        _threads.append(thread)
    thread.start()
    atexit.register(stop, None)


def stop(overlap: Overlap | None) -> None:
    """Ask the helper to stop, between two files (or not to start). With `overlap`, its
    thread is joined, and the bytes it stored counted, when the caller closes it; else
    now."""
    with _LOCK:
        _asked.set()
        threads = list(_threads)
        _threads.clear()
    for thread in threads:
        if overlap is not None:
            overlap.enter_context(_joined(thread, overlap))
        else:
            thread.join(_JOIN_SECONDS)


@contextlib.contextmanager
def _joined(thread: threading.Thread, overlap: Overlap) -> Iterator[None]:
    try:
        yield
    finally:
        thread.join(_JOIN_SECONDS)
        overlap.stored(_stored[0])


def _covered_within(seconds: float) -> frozenset[str] | None:
    """What the helper compiled whole (runner.EARLY_FILLS), once it ended; None when it
    did not end within `seconds`."""
    return _covered[0] if _ended.wait(seconds) else None


def _run(target: Target, configured: ConfiguredInterpreters, since: float,
         lookups: Sequence[threading.Thread]) -> None:
    try:
        _compile_while_uv_runs(target, configured, since, lookups)
    finally:
        _ended.set()


def _compile_while_uv_runs(target: Target, configured: ConfiguredInterpreters, since: float,
                           lookups: Sequence[threading.Thread]) -> None:
    try:
        from lambdalayer.common.cache import uv_cache_dir

        uv_cache = uv_cache_dir()  # asked beside the lookups
        for job in lookups:  # their answers, not a second probe beside them
            job.join()
        if uv_cache is None or not _unpacking(uv_cache / BUCKET, since):
            return
        started = _launch(target, configured, since, uv_cache)
    except Exception:  # best effort: the proof compiles what is missing anyway
        return
    if started is None:
        return
    helper, control, work = started
    from lambdalayer.proof import runner

    try:
        _asked.wait()
        answer = runner.precompile_answer((helper, control), stop=True, timeout=5.0)
        _stored[0] += runner.stored_bytes(answer)
        _covered[0] = frozenset(answer.covered)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpacking(bucket: Path, since: float) -> bool:
    """Wait until uv puts a wheel into `bucket` after `since` (True), or the proof
    starts first (False): a warm uv unpacks nothing, and then no box is started."""
    while not _asked.is_set():
        try:
            if bucket.stat().st_mtime >= since:
                return True
        except OSError:
            pass  # a fresh cache: uv makes the bucket with its first wheel
        _asked.wait(0.01)
    return False


def _launch(target: Target, configured: ConfiguredInterpreters, since: float,
            uv_cache: Path) -> tuple[Popen[bytes], Path, Path] | None:
    """The helper started (its process, control folder and work folder), or None."""
    from lambdalayer.common.workdirs import make_workdir
    from lambdalayer.interpreters.find import find_for
    from lambdalayer.proof import runner, script
    from lambdalayer.proof.answers import start_boxed
    from lambdalayer.proof.sandbox import TMP, View, find_sandbox, interpreter_paths

    sandbox = find_sandbox()
    interpreter = find_for(target.runtime.python_version, target.machine, configured)
    if not sandbox.boxed or interpreter is None or interpreter.launch.kind != "native":
        return None  # emulated, compiling would cost the import more than it saves
    bytecode = runner.bytecode_cache(interpreter, "early")  # one folder per interpreter
    if bytecode is None or not (uv_cache / "CACHEDIR.TAG").is_file():
        return None  # not a folder uv made its cache in (it tags it first): nothing shown
    work = make_workdir("early")
    control = work / "control"
    control.mkdir()
    (work / "box-root").mkdir()
    kept = script.is_kept(bytecode, interpreter.version)
    config = {"precompile": [f"{INSIDE}/{BUCKET}"], "watch": since, "bytecode": bytecode,
              "stop": str(control / runner.STOP_FILE), "script": None if kept else script.source()}
    argv = interpreter.launch.argv(
        interpreter.path, script.arguments(config, bytecode, interpreter.version), [])
    view = View(layer=((uv_cache.resolve(), INSIDE),),
                readable=(*interpreter_paths(interpreter), control),
                writable=(Path(bytecode),), scratch=str(work / "box-root"))
    with _LOCK:
        if _asked.is_set() or interrupt.stopping() or interrupt.interrupted():
            shutil.rmtree(work, ignore_errors=True)
            return None  # the proof started (or a signal came) before this was ready
        fresh = runner.empty_folder(bytecode)
        try:
            helper = start_boxed(sandbox.wrap(argv, view), cwd=work,
                                 env={**runner.runtime_environment(home=Path(TMP)),
                                      "TMPDIR": TMP})
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
            return None
        runner.keep_partial_bytecode_away(bytecode)
        if fresh:
            runner.EARLY_FILLS[bytecode] = _covered_within
    return helper, control, work
