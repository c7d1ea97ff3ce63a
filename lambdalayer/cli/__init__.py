"""The command line: parse options, call one core function, render its result.

Each command lives in a module of this package and registers itself on `cli`
with `@cli.command`. The group imports a command's module only when that
command runs, so `lambdalayer --help` and a quick `build` stay fast (no
boto3, no rich, no resolver on those paths). Every LambdaLayerError becomes
its documented exit code in `main()`, the one catch point.
"""

from __future__ import annotations

import sys

# Not typing's: an unchanged rebuild answered from its memo imports none of typing, the
# errors or click (main); mypy reads a TYPE_CHECKING of our own the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from lambdalayer.cli.group import COMMANDS, cli

__all__ = ["COMMANDS", "cli", "main"]

# 128 + SIGPIPE, as a shell reports a command a closed pipe stopped: docs/exit-codes.md.
EXIT_BROKEN_PIPE = 141



def __getattr__(name: str) -> Any:
    """`cli` and `COMMANDS` (cli/group.py), imported with click only when asked for:
    the command modules register on `from lambdalayer.cli import cli`."""
    if name in ("cli", "COMMANDS", "LazyGroup", "CONTEXT_SETTINGS"):
        from lambdalayer.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run `cli` and map failures to exit codes.

    Without `argv` (the console script, `python -m lambdalayer`) the process is the CLI's
    own and ends without the interpreter's teardown (`_leave`); with `argv` (a test calling
    it in its own process) it raises SystemExit as before.
    """
    from lambdalayer.cli import pipes

    own_process = argv is None and not _observed()
    args = sys.argv[1:] if argv is None else argv
    pipes.guard()  # a reader that closes the pipe stops our output, not the work
    memo = args[:1] == ["build"]
    if memo:
        from lambdalayer.common import noop_memo

        try:
            if noop_memo.replay(args):  # an unchanged rebuild, answered without the build
                _leave(0, own_process=own_process)
        except KeyboardInterrupt:  # Ctrl-C before the handlers below exist: no traceback
            _interrupted()
        noop_memo.start(args)
    from lambdalayer.common import interrupt

    try:
        interrupt.install()  # inside: a signal right after it is ours to report
        status = _run(args)
        if memo:
            noop_memo.finish(status)
        # The command is over: a signal from here on (in an exit handler) changes nothing.
        interrupt.finishing()
    except interrupt.Terminated as stop:  # arrived while a failure was being reported
        _terminated(stop.signum)
    except KeyboardInterrupt:
        _interrupted()
    if interrupt.received() is not None:  # the signal came at the very end
        _terminated(interrupt.received() or 0)
    _leave(status, own_process=own_process)


def _observed() -> bool:
    """True under a profiler, tracer or debugger (`python -m cProfile -m lambdalayer`,
    coverage): they write their results after the program returns, so it must."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # 3.12+: cProfile and coverage use it
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None for tool in range(6))


def _leave(status: int, *, own_process: bool) -> NoReturn:
    """Exit with `status`, the one place every command's normal end passes through.

    In the CLI's own process, the interpreter's teardown (freeing every module: 40-80 ms
    after a build) is skipped: what it would run that matters is run here, in its order
    (non-daemon threads joined, then the `atexit` handlers: tempfile's finalizers,
    index_cache's questions, logging), the streams are flushed, then os._exit. The work
    directories are gone by now (removed by the build's `finally` blocks). A flush that
    fails other than on a closed pipe (pipes.py) takes the ordinary exit, which reports it
    as Python does.
    """
    if own_process:
        import atexit
        import os

        threading = sys.modules.get("threading")
        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            shutdown()  # as the interpreter would first: wait for non-daemon threads
        atexit._run_exitfuncs()
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except (OSError, ValueError):
            sys.exit(status)
        os._exit(status)
    sys.exit(status)


def _run(args: list[str]) -> int:
    """Run the command; its exit status (a signal ends the process here: os._exit)."""
    import click

    from lambdalayer.cli import pipes
    from lambdalayer.cli.group import cli
    from lambdalayer.common import interrupt
    from lambdalayer.common.errors import EXIT_USAGE, LambdaLayerError, Reported

    want_json = "--json" in args
    if want_json:
        from lambdalayer.cli.output import json_given

        json_given()  # stdout is the JSON document's alone
    try:
        # Without standalone mode click returns (rather than raises) the code of
        # a `ctx.exit(code)` / click.exceptions.Exit raised inside a command.
        code = cli.main(args=args, prog_name="lambdalayer", standalone_mode=False)
    except interrupt.Terminated as stop:
        _terminated(stop.signum)
    except Reported as done:
        return done.exit_code
    except LambdaLayerError as err:
        _if_signalled()  # a failure caused by ending our children
        from lambdalayer.cli.output import emit_error

        emit_error(err, want_json=want_json, verbose="--verbose" in args)
        return err.exit_code
    except click.exceptions.Abort:
        _if_signalled()  # click turns KeyboardInterrupt into Abort
        _interrupted()
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as err:
        status = EXIT_USAGE if err.exit_code == 2 else err.exit_code
        if want_json:  # scripts parse stdout: a usage error is a JSON error too
            from lambdalayer.cli.output import print_json

            print_json({"error": {"exit_code": status, "type": "UsageError",
                                  "message": err.format_message()}})
        err.show()
        return status
    except KeyboardInterrupt:
        _interrupted()
    except BrokenPipeError:
        # Only a write around the guarded streams gets here: the command stopped early.
        pipes.silence_after_broken_pipe()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        from lambdalayer.common.workdirs import disk_full_error, is_disk_full

        if not is_disk_full(exc):
            _if_signalled()
            raise
        # A full disk under any step that writes (TMPDIR's work folders, mostly): one
        # paragraph naming the disk, like every other user-caused failure.
        from lambdalayer.cli.output import emit_error

        full = disk_full_error(None if exc.filename is None else str(exc.filename))
        emit_error(full, want_json=want_json)
        return full.exit_code
    except Exception:
        # A signal's exception raised where Python wraps it (a class being created while
        # a module imports): the signal, not a bug, ended the command.
        _if_signalled()
        raise
    return code if isinstance(code, int) else 0


def _if_signalled() -> None:
    """End as the signal did if one arrived (the failure at hand was its consequence)."""
    from lambdalayer.common import interrupt

    if interrupt.received() is not None:
        _terminated(interrupt.received() or 0)
    if interrupt.interrupted():
        _interrupted()


# What an interrupted command leaves (every zip and manifest is written to a temporary
# name and renamed whole: common/fileio.write_atomic; the work directories are removed
# by the unwinding `finally` blocks before this is printed).
_LEFT_AS_IS = ("kept: the zips and manifests finished before it (each is whole); removed: "
               "temporary files and the unfinished layer.")


def _interrupted() -> NoReturn:
    """Ctrl-C: one line saying what is left, exit 130 (128 + SIGINT); cleanup has run.

    os._exit, as after SIGTERM: a worker thread still waiting on uv or the network must
    not hold the interpreter's exit (it waits for every worker thread) after Ctrl-C.
    """
    import os

    from lambdalayer.common import interrupt

    interrupt.final_cleanup()
    print(f"Interrupted (Ctrl-C): {_LEFT_AS_IS}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _terminated(signum: int) -> NoReturn:
    """Exit 128 + signum after SIGTERM/SIGHUP; cleanup has run (the exception unwound).

    os._exit: a worker thread still blocked on the network must not keep a
    cancelled CI job alive.
    """
    import os
    import signal

    from lambdalayer.common import interrupt

    interrupt.final_cleanup()
    name = signal.Signals(signum).name if signum else "signal"
    print(f"Terminated ({name}): {_LEFT_AS_IS}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)
