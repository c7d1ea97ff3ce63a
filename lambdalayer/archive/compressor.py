"""Which deflate this host's Python links, and whether it writes the reference bytes.

Deflate output is fixed by the compressor's implementation, not by the format:
mainline zlib (1.2.x and 1.3.x alike) writes one thing, zlib-ng (CPython 3.14 on
Windows, recent Fedora) and Chromium's or Intel's zlib write another. So a
short known-answer test (a fixed sample compressed as zipwriter.py compresses:
whole, and primed with a dictionary and sync-flushed) names the output, and its
digest is a build input: a different compressor means different zip bytes.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import cache

# The known answer of mainline zlib 1.2.13 (Debian 12's, measured 2026-11, which is
# also what python.org and pyenv builds link): layers built with it carry the
# CodeSha256 values recorded in tests/data/host_identity.json.
REFERENCE_OUTPUT = "9de5af04545952ae"


def _sample() -> bytes:
    # Text and binary-like data, long enough to exercise matches over the whole window.
    text = b"".join(b"def function_%d(value):\n    return value * %d + %d\n" % (i, i % 7, i % 13)
                    for i in range(800))
    noise = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(256))
    return text + noise + text[:10000]


@cache
def output_digest(level: int = 6) -> str:
    """16 hex digits naming the bytes this host's deflate writes at `level`."""
    sample = _sample()
    whole = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    primed = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zdict=sample[:32768])
    data = (whole.compress(sample) + whole.flush()
            + primed.compress(sample[32768:]) + primed.flush(zlib.Z_SYNC_FLUSH))
    return hashlib.sha256(data).hexdigest()[:16]


def implementation() -> str:
    """"zlib 1.2.13", "zlib-ng 2.2.4", ...: what the zlib module runs on."""
    ng = getattr(zlib, "ZLIBNG_VERSION", None)
    return f"zlib-ng {ng}" if ng else f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


def compressor_record(level: int) -> dict[str, str]:
    """For the build inputs: the implementation and the digest of its output at `level`
    ("stored" at level 0, which no compressor touches)."""
    if level == 0:
        return {"implementation": "stored", "output": "stored"}
    return {"implementation": implementation(), "output": output_digest(level)}


def differs_from_reference() -> bool:
    """True when this host's deflate writes other bytes than the reference zlib at level 6."""
    return output_digest(6) != REFERENCE_OUTPUT
