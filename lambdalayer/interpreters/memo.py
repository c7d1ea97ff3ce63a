"""What earlier commands learnt about this host's interpreters, kept so a build need not
ask again: each lookup costs a process (CPython's start, 30-40 ms; `uv python find X.Y`
for a version the host lacks, 0.3-0.5 s: uv runs every python on PATH, pyenv's shims
included; qemu --version; `uv python dir`).

One JSON file in lambdalayer's cache root (common/cache.INTERPRETERS_FOUND_RECORD;
`cache clean` removes it). Every entry holds
the facts it was learnt under and is used only while they still hold, else it is asked
again:
- a probe of an executable (find.probe): its path and the file's device, inode, size,
  mtime and ctime (a reinstall changes them);
- an answer of uv (`python find X.Y`, `python dir`): uv's own file, every UV_* variable
  and the others that steer its search (PATH, HOME, XDG_DATA_HOME, VIRTUAL_ENV,
  CONDA_PREFIX, PYENV_*), the working folder, and the modification times of every
  folder it searches (each PATH entry, uv's install folder and its parent, pyenv's
  versions and version file), where installing or removing a CPython shows; and it is
  asked again after MAX_AGE anyway;
- qemu's version: the program's file.
What is kept only says which trusted interpreter to run and how: the proof still runs
it and reports what it ran (docs/proof-threat-model.md); a stale entry could at worst
name a CPython that is gone (its facts no longer hold, so it is not used) or miss one
installed in a way none of these facts show, for at most MAX_AGE.
`LAMBDALAYER_NO_INTERPRETER_MEMO=1` turns it off. Unreadable or damaged: ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
OFF_VARIABLE = "LAMBDALAYER_NO_INTERPRETER_MEMO"
MAX_AGE = 24 * 3600.0
_VERSION = 1
_STEERING = ("PATH", "HOME", "XDG_DATA_HOME", "VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_ROOT",
             "PYENV_VERSION")
_lock = threading.Lock()


def _record_path() -> Path:
    from lambdalayer.common.cache import INTERPRETERS_FOUND_RECORD, cache_root

    return cache_root() / INTERPRETERS_FOUND_RECORD


def _load() -> dict[str, Any]:
    try:
        data = json.loads(_record_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _store(key: str, facts: Any, value: Any) -> None:
    """Add one entry (read, changed, written whole: concurrent commands lose an entry at
    worst, which is then asked again)."""
    from lambdalayer.common.cache import INTERPRETERS_FOUND_RECORD, usable_root
    from lambdalayer.common.errors import LambdaLayerError
    from lambdalayer.common.fileio import write_atomic

    with _lock, contextlib.suppress(OSError, LambdaLayerError):
        root = usable_root()
        if root is None:
            return  # not ours to write (LAMBDALAYER_CACHE_DIR names another tool's folder)
        path = root / INTERPRETERS_FOUND_RECORD
        entries = _load()
        entries[key] = {"facts": facts, "value": value, "at": time.time()}
        document = {"version": _VERSION, "entries": entries}
        write_atomic(path, json.dumps(document, sort_keys=True).encode("utf-8"))


def remembered(key: str, facts: Any, ask: Callable[[], T],
               encode: Callable[[T], Any], decode: Callable[[Any], T]) -> T:
    """`ask()`'s answer, kept under `key` while `facts` (JSON data) stay the same and for
    at most MAX_AGE; `encode`/`decode` turn the answer into JSON data and back."""
    if os.environ.get(OFF_VARIABLE):
        return ask()
    entry = _load().get(key)
    if (isinstance(entry, dict) and entry.get("facts") == facts
            and isinstance(entry.get("at"), (int, float))
            and 0 <= time.time() - entry["at"] < MAX_AGE):
        with contextlib.suppress(Exception):  # a damaged value: ask again
            return decode(entry["value"])
    answer = ask()
    _store(key, facts, encode(answer))
    return answer


def file_facts(path: str | Path) -> list[int] | None:
    """What identifies a file's content without reading it (following links)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def uv_search_facts(uv: str) -> dict[str, Any]:
    """What steers `uv python find/dir`: see the module's docstring."""
    env = {k: v for k, v in os.environ.items() if k.startswith("UV_") or k in _STEERING}
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    installs = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or data_home / "uv" / "python")
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    folders += [installs, installs.parent, pyenv / "versions", pyenv / "version"]
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    return {"uv": [uv, file_facts(uv)], "env": env, "cwd": cwd,
            "mtimes": [[str(f), _mtime(f)] for f in folders]}
