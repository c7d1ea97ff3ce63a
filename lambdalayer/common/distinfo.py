"""Read what an installer left in a tree: one record per `*.dist-info` directory."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name


@dataclass(frozen=True, kw_only=True)
class InstalledDist:
    """One installed distribution, as its dist-info describes it."""

    name: str  # canonical (PEP 503) name
    display_name: str
    version: str
    tags: tuple[str, ...]  # from WHEEL, e.g. ("py3-none-any",)
    root_is_purelib: bool
    requires: tuple[Requirement, ...]
    extras: tuple[str, ...]
    requires_python: SpecifierSet | None
    files: tuple[str, ...]  # paths relative to the install root, from RECORD
    dist_info: str  # the dist-info directory's name

    @property
    def is_pure(self) -> bool:
        """Pure Python: every wheel tag is `*-none-any`."""
        return bool(self.tags) and all(t.endswith("-none-any") for t in self.tags)


def _headers(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    message = HeaderParser().parsestr(text, headersonly=True)
    return [(key, str(value)) for key, value in message.items()]


def read_dist(dist_info: Path) -> InstalledDist:
    metadata = _headers(dist_info / "METADATA")
    wheel = _headers(dist_info / "WHEEL")
    get = {k.lower(): v for k, v in metadata}
    requires: list[Requirement] = []
    for key, value in metadata:
        if key.lower() == "requires-dist":
            try:
                requires.append(Requirement(value))
            except InvalidRequirement:
                continue  # a broken dependency line cannot change what was installed
    requires_python: SpecifierSet | None = None
    if get.get("requires-python"):
        try:
            requires_python = SpecifierSet(get["requires-python"])
        except InvalidSpecifier:
            requires_python = None
    files: list[str] = []
    record = dist_info / "RECORD"
    if record.exists():
        for row in csv.reader(io.StringIO(record.read_text("utf-8"))):
            if row and row[0]:
                files.append(row[0])
    name = get.get("name", dist_info.name.split("-")[0])
    return InstalledDist(
        name=canonicalize_name(name),
        display_name=name,
        version=get.get("version", ""),
        tags=tuple(v for k, v in wheel if k.lower() == "tag"),
        root_is_purelib=next((v for k, v in wheel if k.lower() == "root-is-purelib"),
                             "true").strip().lower() == "true",
        requires=tuple(requires),
        extras=tuple(v for k, v in metadata if k.lower() == "provides-extra"),
        requires_python=requires_python,
        files=tuple(files),
        dist_info=dist_info.name,
    )


def read_installed(root: Path) -> list[InstalledDist]:
    """Every distribution installed directly below `root`, sorted by name."""
    return sorted((read_dist(p) for p in root.glob("*.dist-info") if p.is_dir()),
                  key=lambda d: d.name)
