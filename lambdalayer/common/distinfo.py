"""Read what an installer left in a tree: one record per `*.dist-info` directory."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from lambdalayer.common.budget import RECORD_PER_FILE, RECORD_PER_RUN, Budget


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
    # Why RECORD was not read (past its parsing budget, not CSV); `files` is then empty.
    record_problem: str | None = None

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


def run_budget() -> Budget:
    """The budget every RECORD one command reads draws on (docs/trust.md)."""
    return Budget(RECORD_PER_RUN, scope="run")


def read_record(record: Path, run: Budget) -> tuple[str, ...]:
    """The paths a RECORD lists (first column, as written). OverBudget when the file (its
    RECORD_PER_FILE) or the run (`run`) passes its budget in bytes, rows or time, and
    ValueError when it is not CSV: the file's size is charged before it is read, and rows
    one by one while streaming, so memory never grows past the budget."""
    mine = run.child(RECORD_PER_FILE)
    mine.spend(string_bytes=record.stat().st_size)
    files: list[str] = []
    try:
        with record.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            for row in csv.reader(handle):
                mine.spend(entries=1)
                if row and row[0]:
                    files.append(row[0])
    except csv.Error as exc:  # e.g. a field past csv's own 128 KiB limit
        raise ValueError(f"not a CSV file ({exc})") from exc
    return tuple(files)


def read_dist(dist_info: Path, budget: Budget | None = None) -> InstalledDist:
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
    files: tuple[str, ...] = ()
    problem = None
    record = dist_info / "RECORD"
    if record.exists():
        try:
            files = read_record(record, budget if budget is not None else run_budget())
        except ValueError as exc:  # OverBudget too
            problem = f"{dist_info.name}/RECORD was not read: {exc}"
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
        files=files,
        dist_info=dist_info.name,
        record_problem=problem,
    )


def read_installed(root: Path, budget: Budget | None = None) -> list[InstalledDist]:
    """Every distribution installed directly below `root`, sorted by name; their RECORDs
    draw on `budget` (default: a run budget of their own)."""
    budget = budget if budget is not None else run_budget()
    return sorted((read_dist(p, budget) for p in root.glob("*.dist-info") if p.is_dir()),
                  key=lambda d: d.name)
