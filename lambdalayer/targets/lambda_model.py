"""Python runtimes that botocore's Lambda model knows and runtimes.toml does not.

runtimes.toml changes only with a release; botocore is updated far more often
and lists a new runtime identifier (its `Runtime` enum in
botocore/data/lambda/<api-version>/service-2.json[.gz]) as soon as Lambda
accepts it. Comparing the two tells a user that a newer runtime exists that
this lambdalayer cannot target yet.

Nothing here imports botocore: its data file is found with
importlib.util.find_spec and read directly (about 5 ms). `build` reads the
model only when it changed since the last build (a small record in the cache),
and says what it found once per model.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterable
from pathlib import Path

from lambdalayer.common.cache import LAMBDA_MODEL_RECORD, cache_root, ensure_root

_PYTHON_RUNTIME = re.compile(r"^python3\.(\d+)$")


def botocore_lambda_model(data_dir: Path | None = None) -> Path | None:
    """The newest botocore Lambda service model on this Python, or None without botocore."""
    if data_dir is None:
        try:
            spec = importlib.util.find_spec("botocore")
        except (ImportError, ValueError):
            return None
        if spec is None or spec.origin is None:
            return None
        data_dir = Path(spec.origin).parent / "data"
    versions = sorted((data_dir / "lambda").glob("*/service-2.json*"))
    return versions[-1] if versions else None


def model_runtimes(model: Path) -> list[str]:
    """The Runtime enum of a Lambda service model (empty when unreadable)."""
    try:
        raw = model.read_bytes()
        if model.suffix == ".gz":
            raw = gzip.decompress(raw)
        enum = json.loads(raw)["shapes"]["Runtime"]["enum"]
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return []
    return [str(name) for name in enum]


def missing_python_runtimes(model: Iterable[str], known: Iterable[str]) -> list[str]:
    """python3.N runtimes in `model` but not in `known`, newer than every known one."""
    known_minors = [int(m[1]) for m in map(_PYTHON_RUNTIME.match, known) if m]
    newest = max(known_minors, default=0)
    found = {int(m[1]) for m in map(_PYTHON_RUNTIME.match, model) if m}
    return [f"python3.{n}" for n in sorted(found) if n > newest]


def note_for(missing: list[str]) -> str | None:
    if not missing:
        return None
    names = ", ".join(missing)
    return (f"Lambda offers {names} (listed by this botocore's Lambda model) but this "
            "lambdalayer's runtime table does not know it yet, so it cannot build for it; "
            "a newer lambdalayer will.")


def note_once(known: Iterable[str], *, data_dir: Path | None = None,
              record: Path | None = None) -> str | None:
    """The note about runtimes missing from the table, the first time this model shows them.

    Cheap when nothing changed: the model's path, size and mtime are kept in
    the cache with what was said, so the model is read only after botocore
    changes. Never fails: any I/O problem means "no note".
    """
    model = botocore_lambda_model(data_dir)
    if model is None:
        return None
    if record is None:
        try:
            ensure_root(cache_root())
        except OSError:
            return None
        record = cache_root() / LAMBDA_MODEL_RECORD
    try:
        stat = model.stat()
    except OSError:
        return None
    key = {"model": str(model), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        if json.loads(record.read_text("utf-8")).get("key") == key:
            return None  # this model was already read, and anything new already said
    except (OSError, ValueError, AttributeError):
        pass
    note = note_for(missing_python_runtimes(model_runtimes(model), known))
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"key": key, "note": note}), "utf-8")
    except OSError:
        return None  # could not remember it: stay quiet rather than repeat it every build
    return note
