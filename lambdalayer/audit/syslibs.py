"""The shared libraries each Lambda base image provides: `audit/base_image_libs.toml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from lambdalayer import _toml


@dataclass(frozen=True, kw_only=True)
class BaseImageLibs:
    """Sonames on one OS: `present` (relied on safely) and `unverified` (expected, not
    checked against a real image); `hints` says what to do when a library is missing."""

    present: frozenset[str]
    unverified: frozenset[str]
    hints: dict[str, str]


def parse_base_image_libs(text: str) -> dict[str, BaseImageLibs]:
    """Parse and validate the data file; ValueError naming the bad field."""
    data = _toml.loads(text)
    hints = data.get("hints", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hints.items()):
        raise ValueError("hints: expected soname = \"text\" pairs")
    result: dict[str, BaseImageLibs] = {}
    for key, raw in data.get("os", {}).items():
        lists: dict[str, frozenset[str]] = {}
        for name in ("present", "unverified"):
            values = raw.get(name)
            if not isinstance(values, list) or not all(
                isinstance(v, str) and ".so" in v for v in values
            ):
                raise ValueError(f"os.{key}.{name}: expected a list of sonames")
            lists[name] = frozenset(values)
        both = lists["present"] & lists["unverified"]
        if both:
            raise ValueError(f"os.{key}: {sorted(both)} listed as both present and unverified")
        result[key] = BaseImageLibs(present=lists["present"], unverified=lists["unverified"],
                                    hints=dict(hints))
    return result


@cache
def load_base_image_libs() -> dict[str, BaseImageLibs]:
    """The table shipped in the package, keyed by runtimes.toml's OS keys."""
    text = resources.files("lambdalayer.audit").joinpath("base_image_libs.toml").read_text("utf-8")
    return parse_base_image_libs(text)
