"""The script `lambdalayer test` runs inside the *target* interpreter (CPython 3.9+).

It is read as text by runner.py and passed to `python -I -S -B -c`, so it must
use the standard library only and stay valid on the oldest runtime we test.
Nothing here is imported by lambdalayer itself.

Input: argv[1] is a JSON object {"paths": [...], "imports": [...], "results":
FILE, "handler": "module.func" | null, "event": ... | null, "invoke": bool}.
Output: one JSON object per line appended to FILE, written and flushed as each
step starts and ends, so a crash (a segfaulting extension) still names the
import that caused it. Results go to a file, not stdout, because imported code
may print.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from typing import Any


def _emit(stream: Any, record: dict[str, Any]) -> None:
    stream.write(json.dumps(record, default=repr) + "\n")
    stream.flush()


def _noise(frame: traceback.FrameSummary) -> bool:
    # This script (run with -c) and the import machinery: not the layer's code.
    name = frame.filename.replace("\\", "/")
    return (name == "<string>" or name.startswith("<frozen importlib")
            or name.endswith("/importlib/__init__.py"))


def _failure(exc: BaseException) -> dict[str, Any]:
    # The interpreter's own words, exactly as a Lambda log would show them.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _noise(f)]
    only = "".join(traceback.format_exception_only(type(exc), exc))
    stack = "".join(traceback.format_list(frames))
    return {
        "error": only.strip(),
        "traceback": ("Traceback (most recent call last):\n" + stack if frames else "") + only,
    }


class _Context:
    """The attributes handlers commonly read from Lambda's context object."""

    function_name = "lambdalayer-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:lambdalayer-test"
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/lambdalayer-test"
    log_stream_name = "lambdalayer-test"

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _glibc() -> str | None:
    # The C library the proof runs on (a root filesystem's may be newer than Lambda's).
    try:
        import os

        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):
        return None
    return version if name == "glibc" else None


def main() -> None:
    config = json.loads(sys.argv[1])
    # Lambda's order (docs/lambda-facts.md): /var/task, the runtime's
    # site-packages in the layer, /opt/python, then the interpreter's own paths.
    # -I -S already removed the script dir, user and host site-packages.
    sys.path[0:0] = config["paths"]
    with open(config["results"], "a", encoding="utf-8") as out:
        _emit(out, {"kind": "start", "version": sys.version.split()[0],
                    "glibc": _glibc()})
        for name in config["imports"]:
            _emit(out, {"kind": "begin", "module": name})
            started = time.perf_counter()
            try:
                module = importlib.import_module(name)
            except BaseException as exc:  # SystemExit at import time is a failure too
                record = {"kind": "import", "module": name, "ok": False,
                          "seconds": time.perf_counter() - started, **_failure(exc)}
            else:
                record = {"kind": "import", "module": name, "ok": True,
                          "seconds": time.perf_counter() - started,
                          "origin": getattr(module, "__file__", None)}
            _emit(out, record)
        handler = config.get("handler")
        if handler:
            _run_handler(out, handler, config)


def _run_handler(out: Any, handler: str, config: dict[str, Any]) -> None:
    module_name, _, func_name = handler.rpartition(".")
    _emit(out, {"kind": "begin", "module": module_name, "handler": handler})
    started = time.perf_counter()
    called = False
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
        if not callable(func):
            raise TypeError(f"{handler} is not callable")
        result = None
        if config.get("invoke"):
            context = _Context(time.monotonic() + float(config.get("timeout", 60)))
            called = True
            result = func(config.get("event"), context)
            json.dumps(result)  # Lambda serialises the result: it must be JSON
    except BaseException as exc:  # report whatever the handler raised
        _emit(out, {"kind": "handler", "handler": handler, "ok": False,
                    "invoked": called,
                    "seconds": time.perf_counter() - started, **_failure(exc)})
        return
    _emit(out, {"kind": "handler", "handler": handler, "ok": True,
                "invoked": called,
                "seconds": time.perf_counter() - started, "result": result,
                "origin": getattr(module, "__file__", None)})


if __name__ == "__main__":
    main()
