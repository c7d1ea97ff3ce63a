"""Optional native parts: files a distribution loads only for a feature it can do without.

The facts are data, `audit/optional_parts.toml` (distribution -> files, what they are,
why the import does not load them, what the package does instead). `mark_optional`
turns a load finding about such a file (it cannot load on the target) into a note
that names the part the layer cannot use: numba's OpenMP and TBB threading layers
need libgomp and libtbb, which Lambda lacks, and numba falls back to its own.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from lambdalayer.audit.closure import LOAD_CODES, load_reason
from lambdalayer.audit.findings import Finding
from lambdalayer.audit.tree import LayerTree, import_roots
from lambdalayer.common import _toml
from lambdalayer.targets.target import Target

_KEYS = ("files", "part", "why", "instead", "source")
_FIRST_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class OptionalPart:
    distribution: str  # canonical name
    files: tuple[str, ...]
    part: str
    why: str
    instead: str
    source: str

    def matches(self, rel: str) -> bool:
        """`rel` (relative to the import root) is one of the files; `*` stays in a segment."""
        return any(rel.count("/") == pattern.count("/") and fnmatch.fnmatchcase(rel, pattern)
                   for pattern in self.files)


def _glob(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.endswith(".so") or "\\" in value:
        raise ValueError(f"{where}: {value!r} is not a glob of .so files like "
                         "'pkg/sub/name.*.so'")
    segments = value.split("/")
    if not _FIRST_SEGMENT.match(segments[0]) or len(segments) < 2 \
            or any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"{where}: {value!r} must start with a literal package directory "
                         "and name a file inside it")
    return value


def parse_optional_parts(text: str) -> dict[str, tuple[OptionalPart, ...]]:
    """Parse and validate optional_parts.toml. Raises ValueError naming the bad entry."""
    parsed: dict[str, tuple[OptionalPart, ...]] = {}
    seen: set[str] = set()
    for name, entries in _toml.loads(text).items():
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{name}: expected [[{name}]] tables")
        parts = []
        for index, raw in enumerate(entries):
            parts.append(_part(canonicalize_name(name), raw, f"{name}[{index}]", seen))
        key = canonicalize_name(name)
        if key in parsed:
            raise ValueError(f"{name}: the distribution is listed twice")
        parsed[key] = tuple(parts)
    return parsed


def _part(name: str, raw: Any, where: str, seen: set[str]) -> OptionalPart:
    if not isinstance(raw, dict) or set(raw) != set(_KEYS):
        keys = sorted(raw) if isinstance(raw, dict) else raw
        raise ValueError(f"{where}: expected exactly the keys {', '.join(_KEYS)}; got {keys}")
    for key in _KEYS[1:]:
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(f"{where}.{key}: expected a sentence")
    files = raw["files"]
    if not isinstance(files, list) or not files:
        raise ValueError(f"{where}.files: expected a list of globs")
    globs = tuple(_glob(value, f"{where}.files") for value in files)
    for pattern in globs:
        if pattern in seen:
            raise ValueError(f"{where}.files: {pattern!r} is listed twice")
        seen.add(pattern)
    return OptionalPart(distribution=name, files=globs, part=raw["part"], why=raw["why"],
                        instead=raw["instead"], source=raw["source"])


@cache
def optional_parts() -> dict[str, tuple[OptionalPart, ...]]:
    """The table shipped in the package, by canonical distribution name."""
    return parse_optional_parts(
        (Path(__file__).resolve().parent / "optional_parts.toml").read_text("utf-8"))


def _part_of(tree: LayerTree, rel: str, target: Target,
             table: Mapping[str, tuple[OptionalPart, ...]]) -> OptionalPart | None:
    """The optional part `rel` is, when its distribution's RECORD lists it."""
    if rel not in tree.recorded_paths():
        return None
    package = tree.package_of(rel, target)
    for part in table.get(canonicalize_name(package), ()) if package else ():
        for root in import_roots(target):
            if rel.startswith(root) and part.matches(rel[len(root):]):
                return part
    return None


def mark_optional(findings: Iterable[Finding], tree: LayerTree, target: Target, *,
                  mapped: frozenset[str] = frozenset(),
                  table: Mapping[str, tuple[OptionalPart, ...]] | None = None
                  ) -> list[Finding]:
    """Load findings about an optional part become notes (severity info, load "optional")
    naming the part and what the package does instead. A file the import proof saw mapped
    was loaded at import after all: its finding stays what it was."""
    table = optional_parts() if table is None else table
    marked = []
    for finding in findings:
        part = None
        if finding.code in LOAD_CODES and finding.path and finding.path not in mapped \
                and finding.severity != "info":
            part = _part_of(tree, finding.path, target, table)
        marked.append(finding if part is None else _note(finding, part, target))
    return marked


def _note(finding: Finding, part: OptionalPart, target: Target) -> Finding:
    name = posixpath.basename(finding.path)
    message = (f"{finding.package or part.distribution} cannot use {part.part} on "
               f"{target.runtime.name}: {name} does not load there, as "
               f"{load_reason(finding, target.runtime.os.name)}. The layer works: "
               f"{part.why}; {part.instead}.")
    return dataclasses.replace(finding, severity="info", message=message, load="optional",
                               evidence=part.source)
