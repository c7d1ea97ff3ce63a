"""An unchanged rebuild answered from a memo, without loading the build (docs/performance.md).

`lambdalayer build` run again with nothing changed spends most of its time importing
the code that decides "up to date". So an up-to-date run leaves a memo in the cache:
what it printed, and what it read. The next run with the same command line, working
directory, environment, date, terminal and lambdalayer files replays that output
(`replay`) when every file and folder the first run read is as it was; anything else
runs the build as before.

What makes a memo sound:
- It is written only when every layer of the run was up to date (`confirm`, never
  `cancel`), the run exited 0, opened no network connection and started no process:
  its output is then a function of the key and of the files it read.
- The key holds the whole environment (but `_`, `OLDPWD`), the command line, the
  working directory, today's date (runtime deprecation notes change with it), whether
  each standard stream is a terminal and its width, the interpreter, and the size and
  time of every file of the lambdalayer package (an edited checkout is a new key).
- Every file the run opened and every folder it listed is recorded with its size,
  times, inode and device (a folder with its entries' names), and so are the working
  directory and every configuration file lambdalayer, pip and uv look for, present or
  not: a file created, edited, replaced or deleted changes its record. A file changed
  within 2 s of the memo is not trusted (a write in the same clock tick could leave its
  times as they were).
- The memo is signed with the cache's secret (common/cache.sign): one planted in a
  shared cache is ignored.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time

# Not typing's, nor hashlib's or hmac's: an answered rebuild loads none of them (they
# cost more than the rest of the answer); mypy reads a TYPE_CHECKING of our own alike.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
try:  # CPython's own SHA-256 (hashlib's is OpenSSL's, slower to load)
    from _sha2 import sha256 as _sha256  # type: ignore[import-not-found]  # 3.12 on
except ImportError:  # pragma: no cover - before 3.12, or built without it
    try:
        from _sha256 import sha256 as _sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[assignment,unused-ignore]

_RACY_SECONDS = 2.0
NOOP_MEMO_DIR = "noop"  # in the cache (common/cache.py lists it as its own)
SECRET = ".lambdalayer-cache-secret"  # common/cache.SECRET (tests hold the two equal)
_FORMAT = 1
_IGNORED_ENV = frozenset({"_", "OLDPWD"})
# What the configuration lookups look for in the working directory and each ancestor.
_PROBED_IN_ANCESTORS = ("lambdalayer.toml", "pyproject.toml", "uv.toml", ".git")


class _Recording:
    """What this run read and printed, while it may still become a memo."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.key = _key(args)
        self.paths: set[str] = set()
        self.output: list[tuple[int, str]] = []
        self.confirmed = False
        self.cancelled = False


_recording: _Recording | None = None


def _hook(event: str, details: tuple[Any, ...]) -> None:
    recording = _recording
    if recording is None or recording.cancelled:
        return
    if event in ("socket.connect", "subprocess.Popen", "os.exec", "os.posix_spawn",
                 "os.system", "os.fork", "os.startfile"):
        recording.cancelled = True  # the output may depend on what is out there
    elif event == "open" or event in ("os.listdir", "os.scandir"):
        path = details[0] if details else None
        if path is None and event != "open":
            path = "."
        if isinstance(path, (str, bytes, os.PathLike)):
            recording.paths.add(os.path.abspath(os.fsdecode(path)))


class _Tee:
    """A standard stream that also keeps what is written to it, in order."""

    def __init__(self, stream: Any, number: int, recording: _Recording) -> None:
        self._stream = stream
        self._number = number
        self._recording = recording

    def write(self, text: str | bytes) -> int:
        if not isinstance(text, str):
            # Bytes (click writes b"" to flush): anything in them could not be replayed.
            self._recording.cancelled = self._recording.cancelled or bool(text)
        elif not self._recording.cancelled:
            self._recording.output.append((self._number, text))
        return int(self._stream.write(text))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def start(args: list[str]) -> None:
    """Record this run, if it is a `build` that may become a memo."""
    global _recording
    if not _applies(args):
        return
    try:
        _recording = _Recording(args)
    except (OSError, ValueError):
        return
    sys.addaudithook(_hook)
    sys.stdout = _Tee(sys.stdout, 1, _recording)
    sys.stderr = _Tee(sys.stderr, 2, _recording)


def confirm() -> None:
    """Every layer built so far was up to date (pipeline/layer.build_layer)."""
    if _recording is not None:
        _recording.confirmed = True


def cancel() -> None:
    """This run did real work: it leaves no memo (and stops recording)."""
    if _recording is not None:
        _recording.cancelled = True


def finish(status: int) -> None:
    """Write the memo of a run that ended `status` (never fails the run)."""
    global _recording
    recording, _recording = _recording, None  # what the memo's writing reads is not in it
    if recording is None or status != 0 or recording.cancelled or not recording.confirmed:
        return
    try:
        _write(recording)
    except (OSError, ValueError):
        return  # a memo must never fail the build


def replay(args: list[str]) -> bool:
    """Print what an earlier identical up-to-date run printed, when nothing it read has
    changed since; False (nothing printed) otherwise."""
    if not _applies(args):
        return False
    try:
        memo = _read(_key(args))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if memo is None:
        return False
    for number, text in memo["output"]:
        (sys.stdout if number == 1 else sys.stderr).write(text)
    return True


def _applies(args: list[str]) -> bool:
    # The cache's cap is in the key (the environment): a cache turned off writes no memo.
    return not (args[:1] != ["build"] or "--force" in args
                or os.environ.get("LAMBDALAYER_NO_MEMO"))


def _package_files() -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every file of the lambdalayer package but its bytecode."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found: list[tuple[str, int, int]] = []
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                    continue
                info = entry.stat(follow_symlinks=False)
                found.append((entry.path, info.st_size, info.st_mtime_ns))
    return sorted(found)


def _key(args: list[str]) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k not in _IGNORED_ENV)
    ttys = [os.isatty(fd) for fd in (0, 1, 2)]
    width = [tuple(os.get_terminal_size(fd)) if ttys[fd] else None for fd in (1, 2)]
    material = json.dumps([_FORMAT, args, os.getcwd(), env,
                           time.strftime("%Y-%m-%d", time.gmtime()), sys.executable,
                           ttys, width, _package_files()])
    return str(_sha256(material.encode("utf-8", "surrogateescape")).hexdigest())


def _state(path: str) -> list[Any] | None:
    """A folder's entry names (a probe that adds and removes an entry leaves them as
    they were; its times would not); a file's size, times, inode and device; None when
    absent."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return ["folder", sorted(os.listdir(path))]
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]


def _watched(paths: set[str]) -> list[str]:
    """The files read and the folders holding them; the working directory; and every
    file the configuration lookups probe, present or not: lambdalayer.toml,
    pyproject.toml, uv.toml and .git in the working directory and its ancestors
    (project/config.py, resolve/index_settings.py), pip's and uv's user and system
    files. /proc, /sys and /dev change by themselves and are not inputs."""
    watched = {p for p in paths if not p.startswith(("/proc/", "/sys/", "/dev/"))}
    watched |= {os.path.dirname(p) for p in watched}
    folder = os.getcwd()
    watched.add(folder)
    while True:
        watched.update(os.path.join(folder, name) for name in _PROBED_IN_ANCESTORS)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    watched.update([os.path.join(config, "uv", "uv.toml"), os.path.join(config, "pip",
                                                                       "pip.conf"),
                    os.path.expanduser("~/.pip/pip.conf"), "/etc/uv/uv.toml",
                    "/etc/pip.conf"])
    for directory in os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":"):
        watched.add(os.path.join(directory or "/etc/xdg", "pip", "pip.conf"))
    for name in ("PIP_CONFIG_FILE", "UV_CONFIG_FILE", "LAMBDALAYER_CONFIG"):
        if os.environ.get(name):
            watched.add(os.path.abspath(os.environ[name]))
    if os.environ.get("VIRTUAL_ENV"):
        watched.add(os.path.join(os.environ["VIRTUAL_ENV"], "pip.conf"))
    return sorted(watched)


def _cache_root() -> str:
    """common/cache.cache_root, as text (pathlib costs an answered rebuild 10 ms)."""
    explicit = os.environ.get("LAMBDALAYER_CACHE_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(os.path.expanduser(xdg) if xdg else os.path.expanduser("~/.cache"),
                        "lambdalayer")


def _memo_path(key: str) -> str:
    return os.path.join(_cache_root(), NOOP_MEMO_DIR, f"{key}.json")


def _hmac(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 (RFC 2104), hex: what common/cache.sign computes with hmac."""
    key = key.ljust(64, b"\0")
    inner = _sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return str(_sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest())


def _signature(body: bytes) -> str | None:
    """The memo's signature under the cache's secret (common/cache.SECRET, read as
    cache.sign reads it); None when there is no secret."""
    path = os.path.join(_cache_root(), SECRET)
    try:
        if os.path.islink(path):
            return None
        with open(path, "rb") as handle:
            secret = handle.read(33)
    except OSError:
        return None
    return _hmac(secret, body) if len(secret) == 32 else None


def _racy(states: dict[str, list[Any] | None]) -> bool:
    """A file among `states` changed too recently to trust its times."""
    newest = max((s[1] for s in states.values() if s and s[0] != "folder"), default=0)
    return bool(newest / 1e9 > time.time() - _RACY_SECONDS)


def _write(recording: _Recording) -> None:
    from pathlib import Path

    from lambdalayer.common.cache import cache_root, ensure_root, max_size, sign

    if max_size() <= 0:
        return
    watched = _watched(recording.paths)
    if _racy({path: _state(path) for path in watched}):
        return
    # The cache's folder, its secret and the memos' folder before the states are kept:
    # made afterwards, they would change what this memo recorded of the cache.
    root = Path(cache_root())
    ensure_root(root)
    (root / NOOP_MEMO_DIR).mkdir(mode=0o700, exist_ok=True)
    if sign(root, b"") is None:  # makes the secret when there is none
        return
    states = {path: _state(path) for path in watched}
    if _racy(states):
        return
    body = json.dumps({"output": recording.output, "states": states}).encode()
    signature = _signature(body)
    if signature is None:
        return
    path = _memo_path(recording.key)
    partial = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"signature": signature, "body": body.decode()}, handle)
    os.replace(partial, path)


def _read(key: str) -> dict[str, Any] | None:
    path = _memo_path(key)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        stored = json.load(handle)
    body = stored["body"].encode()
    expected = _signature(body)
    if expected is None or expected != str(stored["signature"]):
        return None
    memo: dict[str, Any] = json.loads(body)
    for watched, state in memo["states"].items():
        if _state(watched) != state:
            return None
    return memo
