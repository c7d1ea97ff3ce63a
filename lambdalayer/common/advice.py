"""What to use instead: `lambdalayer/common/alternatives.toml`, read by resolution and the audit."""

from __future__ import annotations

from functools import cache
from importlib import resources

from packaging.utils import canonicalize_name

from lambdalayer.common import _toml


@cache
def _data() -> dict[str, dict[str, object]]:
    text = resources.files("lambdalayer.common").joinpath("alternatives.toml").read_text("utf-8")
    data = _toml.loads(text)
    return {"alternatives": dict(data.get("alternatives", {})),
            "import_libraries": dict(data.get("import_libraries", {}))}


@cache
def alternatives() -> dict[str, str]:
    """Canonical project name -> what to use instead (one sentence fragment)."""
    return {canonicalize_name(k): str(v) for k, v in _data()["alternatives"].items()}


def alternative(name: str) -> str | None:
    return alternatives().get(canonicalize_name(name))


@cache
def import_libraries() -> dict[str, tuple[str, ...]]:
    """Canonical project name -> sonames it loads with ctypes/cffi at import."""
    table = _data()["import_libraries"]
    result: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and ".so" in v
                                                  for v in value):
            raise ValueError(f"import_libraries.{key}: expected a list of sonames")
        result[canonicalize_name(key)] = tuple(value)
    return result
