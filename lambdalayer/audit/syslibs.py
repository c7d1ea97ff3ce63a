"""The shared libraries each Lambda base image provides: `audit/base_image_libs.toml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from lambdalayer.common import _toml

_LISTS = ("present", "absent", "unverified")


@dataclass(frozen=True, kw_only=True)
class BaseImageLibs:
    """Sonames on one OS: `present` (relied on silently), `absent` (seen missing:
    an error), `unverified` (evidence too weak: a warning); `sources` cites the
    evidence for each (ids listed in docs/base-image-libs.md); `hints` says what to
    do when one is missing."""

    present: frozenset[str]
    absent: frozenset[str]
    unverified: frozenset[str]
    sources: dict[str, str]
    hints: dict[str, str]


def parse_base_image_libs(text: str) -> dict[str, BaseImageLibs]:
    """Parse and validate the data file; ValueError naming the bad field."""
    data = _toml.loads(text)
    hints = data.get("hints", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hints.items()):
        raise ValueError("hints: expected soname = \"text\" pairs")
    result: dict[str, BaseImageLibs] = {}
    for key, raw in data.get("os", {}).items():
        lists: dict[str, dict[str, str]] = {}
        for name in _LISTS:
            table = raw.get(name)
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and ".so" in k and isinstance(v, str) and v.strip()
                for k, v in table.items()
            ):
                raise ValueError(f"os.{key}.{name}: expected soname = \"source ids\" entries")
            lists[name] = table
        for i, first in enumerate(_LISTS):
            for second in _LISTS[i + 1:]:
                both = set(lists[first]) & set(lists[second])
                if both:
                    raise ValueError(f"os.{key}: {sorted(both)} listed as both {first} "
                                     f"and {second}")
        result[key] = BaseImageLibs(
            present=frozenset(lists["present"]), absent=frozenset(lists["absent"]),
            unverified=frozenset(lists["unverified"]),
            sources={k: v for table in lists.values() for k, v in table.items()},
            hints=dict(hints))
    return result


@cache
def load_base_image_libs() -> dict[str, BaseImageLibs]:
    """The table shipped in the package, keyed by runtimes.toml's OS keys."""
    text = resources.files("lambdalayer.audit").joinpath("base_image_libs.toml").read_text("utf-8")
    return parse_base_image_libs(text)
