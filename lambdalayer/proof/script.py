"""How the runner script (in_target.py) and its config reach the target interpreter.

The script is given with `python -I -S -B -c`: CPython compiles its 400 lines on every
run, about 4 ms natively and 0.09 s of CPU under qemu. So, like a layer's modules
(runner.bytecode_cache), its code is kept in the proof's bytecode cache, named by the
SHA-256 of its source, and written only by the precompile helper (which runs none of
the layer's code); an importing run reads it read-only. When the entry is there, `-c`
gets STUB, which loads that code when the entry's header names this source's digest
and compiles the source (passed beside it) otherwise: the code run is the same.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

_SOURCE = Path(__file__).with_name("in_target.py")

# Run with -c: argv[1] is the config, argv[2:5] the source, the entry's path and the
# source's SHA-256 (hex). Only builtin modules: `marshal`, and importlib's frozen half.
STUB = """import sys
def _runner():
    source, entry, digest = sys.argv[2:5]
    del sys.argv[2:5]
    try:
        with open(entry, "rb") as handle:
            data = handle.read()
        magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
        if data[:4] == magic and data[8:16] == bytes.fromhex(digest)[:8]:
            import marshal
            return marshal.loads(data[16:])
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        pass
    return compile(source, "<string>", "exec", dont_inherit=True)
exec(_runner(), {"__name__": "__main__"})
"""


@cache
def source() -> str:
    """in_target.py's text (read once per command)."""
    return _SOURCE.read_text("utf-8")


def entry(bytecode: str, version: str) -> str:
    """Where the precompile helper keeps the script's code for CPython `version` (X.Y.Z):
    named as in_target._store names a module's, by the SHA-256 of the source."""
    name = hashlib.sha256(source().encode("utf-8")).hexdigest()
    major, minor = version.split(".")[:2]
    return f"{bytecode}/{name[:2]}/{name}.cpython-{major}{minor}.pyc"


def config_argument(config: dict[str, Any]) -> str:
    """`config` as in_target.py reads it: marshal data in base64, so the script needs
    no json module (whose import costs a run under qemu 0.1 s). Plain data only (what
    JSON holds), which every CPython 3 reads alike."""
    import base64
    import marshal

    return base64.b64encode(marshal.dumps(config, 4)).decode("ascii")


def arguments(config: dict[str, Any], bytecode: str | None, version: str) -> list[str]:
    """The interpreter's arguments for one run: STUB when the script's code is kept for
    this interpreter, else the script itself."""
    prefix = ["-I", "-S", "-B", "-c"]
    kept = entry(bytecode, version) if bytecode else None
    if kept is None or not Path(kept).is_file():
        return [*prefix, source(), config_argument(config)]
    digest = hashlib.sha256(source().encode("utf-8")).hexdigest()
    return [*prefix, STUB, config_argument(config), source(), kept, digest]


def is_kept(bytecode: str | None, version: str) -> bool:
    """True when the script's code is in the cache for this interpreter (or no cache)."""
    return bytecode is None or Path(entry(bytecode, version)).is_file()
