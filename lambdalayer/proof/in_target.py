"""The script `lambdalayer test` runs inside the *target* interpreter (CPython 3.9+).

It is read as text by runner.py and passed to `python -I -S -B -c`, so it must
use the standard library only and stay valid on the oldest runtime we test.
Nothing here is imported by lambdalayer itself.

Input: argv[1] is the config (marshal data in base64, runner.config_argument; JSON text
is read too): {"paths": [...], "imports": [...],
"handler": "module.func" | null, "event": ... | null, "invoke": bool,
"bytecode": DIR | null, "layer": [DIR, ...]}; or {"precompile": [DIR, ...],
"files": [FILE, ...] | null, "bytecode": DIR, "stop": FILE, "script": TEXT | null,
"watch": SECONDS | null}, which only fills the bytecode cache (_precompile; with
"watch", from the folders uv unpacks meanwhile, _watch; with "script", this script's
own code, _keep_script) and says how much it stored.
Output: one JSON object per line on the original stdout, written and flushed as each
step starts and ends, so a crash (a segfaulting extension) still names the import
that caused it. Before anything is imported, stdout (fd 1) is pointed at stderr, so
what imported code prints never mixes with the results. The host reads them as
untrusted data (runner._parse): the layer's code runs in this process and can write
anything there, so they only ever judge this run.

The bytecode cache is read-only to an importing run (the sandbox binds it so): a
module missing from it is compiled in memory and named in a "misses" record; only
the precompile run, which imports nothing, writes the cache (runner._fill).
"""

from __future__ import annotations

import sys
import time

# Only what every run needs is imported up front, and nothing that imports `re`: under
# qemu a module costs tens of milliseconds (json 0.1 s, typing and traceback together
# 0.09 s, hashlib's OpenSSL 0.06 s), natively a few each, and a layer like six imports
# none of them. So the config comes as marshal data (config_argument), the records are
# written by _dumps, the import machinery is CPython's frozen one, and the rest is
# imported where it is used (traceback only when an import fails) or for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import traceback
    from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}


def _string(text: str) -> str:
    """`text` as json.dumps writes it (ASCII only)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    parts = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            parts.append(char)
        elif code > 0xFFFF:  # a surrogate pair, as json writes it
            code -= 0x10000
            parts.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            parts.append(f"\\u{code:04x}")
    return '"' + "".join(parts) + '"'


def _dumps(value: Any) -> str:
    """json.dumps(value, default=repr) for what the records hold, without the json module."""
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return float.__repr__(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_dumps(_key(k))}: {_dumps(v)}"
                               for k, v in value.items()) + "}"
    return _string(repr(value))


def _key(key: Any) -> str:
    return key if isinstance(key, str) else _dumps(key).strip('"')


def _emit(stream: Any, record: dict[str, Any]) -> None:
    json = sys.modules.get("json")  # already imported (a handler's result): json's own
    text = json.dumps(record, default=repr) if json is not None else _dumps(record)
    stream.write(text + "\n")
    stream.flush()


def _import(name: str) -> Any:
    """importlib.import_module(name), without importing importlib."""
    __import__(name)
    return sys.modules[name]


def _machinery() -> Any:
    """CPython's import machinery (importlib.machinery and .util take it from there)."""
    found = sys.modules.get("_frozen_importlib_external")
    if found is None:
        import importlib.machinery as found
    return found


def _sha256() -> Any:
    """CPython's own SHA-256 (hashlib would load OpenSSL's libcrypto), hashlib's as a
    last resort; the digests are the same."""
    for name in ("_sha2", "_sha256"):
        try:
            return __import__(name).sha256
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


def _noise(frame: traceback.FrameSummary) -> bool:
    # This script (run with -c) and the import machinery: not the layer's code.
    name = frame.filename.replace("\\", "/")
    return (name == "<string>" or name.startswith("<frozen importlib")
            or name.endswith("/importlib/__init__.py"))


def _failure(exc: BaseException) -> dict[str, Any]:
    # The interpreter's own words, exactly as a Lambda log would show them.
    import traceback

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


_STORED = [0]  # bytes of bytecode this run added to the cache
_MISSES: list[str] = []  # sources an importing run compiled because the cache lacked them


def _store(path: str, data: bytes) -> None:
    import contextlib
    import os

    # Not the pid alone: in a sandbox's PID namespace the proof and its helper
    # (_precompile) may both be pid 2, and write the same file at the same moment.
    temporary = f"{path}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)  # whole or not at all: a concurrent run reads either
        _STORED[0] += len(data)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _cache_bytecode(directory: str, roots: list[str]) -> None:
    """Compile each layer module once per interpreter instead of once per run.

    -B still keeps CPython from writing into the layer (Lambda's /opt is read-only). A
    module under `roots` without bytecode of its own in the layer is read from
    `directory` under the SHA-256 of its source (whatever its path or mtime, both new on
    every build), else compiled as before and named in _MISSES for the precompile run to
    keep (this run only reads the cache). Its code is the same either way, co_filename
    set to the file imported, as CPython does for a pyc. A module with its own pyc in
    the layer is loaded by CPython exactly as Lambda would, from that pyc when valid.
    """
    import _imp
    import marshal
    import os

    machinery = _machinery()
    sha256 = _sha256()
    magic = machinery.MAGIC_NUMBER
    tag: str | None = getattr(sys.implementation, "cache_tag", None)
    if tag is None:  # an implementation without bytecode files: nothing to keep
        return
    if TYPE_CHECKING:
        from importlib.machinery import SourceFileLoader
    else:
        SourceFileLoader = machinery.SourceFileLoader

    class CachedSourceLoader(SourceFileLoader):
        def get_code(self, fullname: str) -> Any:
            path = self.get_filename(fullname)
            if os.path.exists(machinery.cache_from_source(path)):
                return super().get_code(fullname)  # the layer's own bytecode
            source = self.get_data(path)
            digest = sha256(source).digest()
            name = digest.hex()
            cached = os.path.join(directory, name[:2], f"{name}.{tag}.pyc")
            try:
                with open(cached, "rb") as handle:
                    data = handle.read()
                if data[:4] == magic and data[8:16] == digest[:8]:
                    code = marshal.loads(memoryview(data)[16:])
                    _imp._fix_co_filename(code, path)  # type: ignore[attr-defined]
                    return code
            except (OSError, ValueError, EOFError, TypeError):
                pass  # absent or damaged: compile, as without the cache
            _MISSES.append(path)  # compiled here; the precompile run keeps it (read-only here)
            return self.source_to_code(source, path)

    layer_finder = machinery.FileFinder.path_hook(
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (CachedSourceLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES))
    prefixes = tuple(os.path.join(os.path.abspath(root), "") for root in roots)

    def hook(entry: str) -> Any:
        if not os.path.join(os.path.abspath(entry or "."), "").startswith(prefixes):
            raise ImportError("not in the layer")  # the standard library: CPython's own way
        return layer_finder(entry)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


_PRECOMPILE_MAX = 16 * 1024 * 1024  # bytes of one source the helper compiles, at most


def _precompile(directory: str, roots: list[str], stop: str,
                files: list[str] | None = None, skip: Any = ()) -> bool:
    """Fill the bytecode cache (`_cache_bytecode`) for the modules under `roots`, while
    another run of this script imports them: that run then reads what this one compiled
    instead of compiling it itself, on another core. Nothing is imported or run; a
    module with bytecode of its own in the layer, or already kept, is skipped, and so
    are test folders, which an import rarely reaches. The files go in reverse order,
    so the two runs meet rather than follow each other through the same modules.
    Runs until done (True) or until the file `stop` exists (False). `files`: only these
    sources (the misses an importing run named), each still checked to lie under
    `roots`. `skip`: names passed over at the top of each root (what an early run
    compiled already)."""
    import marshal
    import os
    import stat

    machinery = _machinery()
    sha256 = _sha256()
    magic = machinery.MAGIC_NUMBER
    tag: str | None = getattr(sys.implementation, "cache_tag", None)
    if tag is None:
        return False
    sources: list[str] = []
    prefixes = tuple(os.path.join(os.path.abspath(root), "") for root in roots)
    if files is not None:
        sources = [f for f in files if isinstance(f, str) and f.endswith(".py")
                   and os.path.abspath(f) == f and f.startswith(prefixes)]
    passed = set(skip) if isinstance(skip, (list, tuple)) else set()
    for root in roots if files is None else ():
        for folder, subfolders, names in os.walk(root):
            top = folder in roots
            subfolders[:] = [d for d in subfolders if not (top and d in passed)
                             and d not in ("tests", "test", "testing", "__pycache__")]
            sources.extend(os.path.join(folder, n) for n in names
                           if n.endswith(".py") and not (top and n in passed))
    for path in sorted(sources, reverse=True):
        if os.path.exists(stop):
            return False
        try:
            # Regular files of a sane size only: a FIFO would block the open, a huge file
            # (or a link to one) fill the memory; the import reads such a file itself.
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > _PRECOMPILE_MAX:
                continue
            if os.path.exists(machinery.cache_from_source(path)):
                continue
            with open(path, "rb") as handle:
                source = handle.read()
            name = sha256(source).hexdigest()
            cached = os.path.join(directory, name[:2], f"{name}.{tag}.pyc")
            if os.path.exists(cached):
                continue
            # As SourceFileLoader.source_to_code compiles it, so the code is the same.
            code = compile(source, path, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError):
            continue  # the importing run reports what fails to import
        digest = bytes.fromhex(name)
        _store(cached, magic + (1).to_bytes(4, "little") + digest[:8] + marshal.dumps(code))
    return True


_RESCAN_EVERY = 0.1  # seconds: a folder added in the same clock tick keeps its mtime


def _watch(out: Any, directory: str, bucket: str, since: float, stop: str) -> None:
    """Compile (as _precompile) the sources of each folder that appears in `bucket`
    (uv's folder of unpacked wheels) and changed at `since` (time.time()) or later,
    until the file `stop` exists; a "covered" record names what is at the top of each
    folder compiled whole. The bucket is read again when its mtime or link count
    changes (a folder added), or after _RESCAN_EVERY; it may not exist yet."""
    import os

    seen: set[str] = set()
    state: tuple[int, int] | None = None
    scanned = 0.0
    while not os.path.exists(stop):
        try:
            info = os.stat(bucket)
            now: tuple[int, int] | None = (info.st_mtime_ns, info.st_nlink)
        except OSError:
            now = None
        if now is None or (now == state and time.monotonic() - scanned < _RESCAN_EVERY):
            time.sleep(0.005)
            continue
        state, scanned = now, time.monotonic()
        fresh: list[str] = []
        try:
            with os.scandir(bucket) as entries:
                for entry in entries:
                    if entry.name in seen or entry.name.startswith("."):
                        continue  # a dot-folder is one uv has not finished unpacking
                    seen.add(entry.name)
                    if (entry.is_dir(follow_symlinks=False)
                            and entry.stat(follow_symlinks=False).st_mtime >= since):
                        fresh.append(entry.path)
        except OSError:
            continue
        for folder in fresh:
            if _precompile(directory, [folder], stop):
                try:
                    _emit(out, {"kind": "covered", "names": sorted(os.listdir(folder))})
                except OSError:
                    continue


def _keep_script(directory: str, source: str) -> None:
    """Keep this script's own code (`source`, as runner passes it with -c, so compiled as
    "<string>") in the cache under the SHA-256 of its UTF-8 text (proof/script.py)."""
    import marshal
    import os

    tag: str | None = getattr(sys.implementation, "cache_tag", None)
    if tag is None:
        return
    data = source.encode("utf-8")
    digest = _sha256()(data).digest()
    name = digest.hex()
    cached = os.path.join(directory, name[:2], f"{name}.{tag}.pyc")
    if not os.path.exists(cached):
        code = compile(source, "<string>", "exec", dont_inherit=True)
        _store(cached, _machinery().MAGIC_NUMBER + (1).to_bytes(4, "little") + digest[:8]
               + marshal.dumps(code))


def _mapped(roots: list[str]) -> list[str] | None:
    """The ELF files under `roots` (the layer's directory, as given and resolved) that
    this process has mapped, relative to the root: what the dynamic loader actually
    loaded for the imports, dlopen at import time included. From /proc/self/maps,
    which qemu-user emulates for its guest; None where there is none to read."""
    import os

    prefixes = [os.path.join(root, "") for root in roots]
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return None
    found: set[str] = set()
    for line in lines:
        fields = line.split(None, 5)  # address perms offset dev inode [path]
        path = fields[5] if len(fields) == 6 else ""
        prefix = next((p for p in prefixes if path.startswith(p)), None)
        if prefix is None or path[len(prefix):] in found:
            continue
        try:
            with open(path, "rb") as handle:
                if handle.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue  # replaced or removed since it was mapped: "PATH (deleted)"
        found.add(path[len(prefix):])
    return sorted(found)


def _results() -> Any:
    """The results stream: the original stdout; fd 1 now goes to stderr."""
    import os

    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return out


def _config(argument: str) -> Any:
    """The run's config: marshal data in base64 (runner.config_argument), or JSON text
    (as a person or a test may write it)."""
    if argument.lstrip().startswith("{"):
        import json

        return json.loads(argument)
    import binascii
    import marshal

    return marshal.loads(binascii.a2b_base64(argument))


def main() -> None:
    config = _config(sys.argv[1])
    out = _results()
    if config.get("precompile"):
        try:
            if config.get("script"):
                _keep_script(config["bytecode"], config["script"])
            if config.get("watch") is not None:  # proof/early.py
                _watch(out, config["bytecode"], config["precompile"][0], config["watch"],
                       config["stop"])
            else:
                _precompile(config["bytecode"], config["precompile"], config["stop"],
                            config.get("files"), config.get("skip") or ())
        finally:
            _emit(out, {"kind": "stored", "bytes": _STORED[0]})
        return
    # Lambda's order (docs/lambda-facts.md): /var/task, the runtime's
    # site-packages in the layer, /opt/python, then the interpreter's own paths.
    # -I -S already removed the script dir, user and host site-packages.
    sys.path[0:0] = config["paths"]
    # The runtime's SDK (--exclude :runtime:) after the layer, as Lambda has it.
    after = config.get("after") or []
    sys.path[len(config["paths"]):len(config["paths"])] = after
    if config.get("bytecode"):
        _cache_bytecode(config["bytecode"], config["paths"])
    _emit(out, {"kind": "start", "version": sys.version.split()[0], "glibc": _glibc()})
    for name in config["imports"]:
        _emit(out, {"kind": "begin", "module": name})
        started = time.perf_counter()
        try:
            module = _import(name)
        except BaseException as exc:  # SystemExit at import time is a failure too
            record = {"kind": "import", "module": name, "ok": False,
                      "seconds": time.perf_counter() - started, **_failure(exc)}
        else:
            record = {"kind": "import", "module": name, "ok": True,
                      "seconds": time.perf_counter() - started,
                      "origin": _text(getattr(module, "__file__", None))}
        _emit(out, record)
    if config.get("layer"):
        _emit(out, {"kind": "mapped", "files": _mapped(config["layer"])})
    if _MISSES:
        _emit(out, {"kind": "misses", "files": sorted(set(_MISSES))})
    handler = config.get("handler")
    if handler:
        _run_handler(out, handler, config)
    _emit(out, {"kind": "end"})


def _text(value: Any) -> str | None:
    """A module's __file__ as text: the layer's code may set it to anything."""
    return value if isinstance(value, str) else None


def _run_handler(out: Any, handler: str, config: dict[str, Any]) -> None:
    module_name, _, func_name = handler.rpartition(".")
    _emit(out, {"kind": "begin", "module": module_name, "handler": handler})
    started = time.perf_counter()
    called = False
    try:
        module = _import(module_name)
        func = getattr(module, func_name)
        if not callable(func):
            raise TypeError(f"{handler} is not callable")
        result = None
        if config.get("invoke"):
            context = _Context(time.monotonic() + float(config.get("timeout", 60)))
            called = True
            result = func(config.get("event"), context)
            import json

            json.dumps(result)  # Lambda serialises the result: it must be JSON
    except BaseException as exc:  # report whatever the handler raised
        _emit(out, {"kind": "handler", "handler": handler, "ok": False,
                    "invoked": called,
                    "seconds": time.perf_counter() - started, **_failure(exc)})
        return
    _emit(out, {"kind": "handler", "handler": handler, "ok": True,
                "invoked": called,
                "seconds": time.perf_counter() - started, "result": result,
                "origin": _text(getattr(module, "__file__", None))})


if __name__ == "__main__":
    main()
