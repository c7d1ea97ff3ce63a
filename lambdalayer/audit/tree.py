"""A layer as Lambda sees it: files by their path under /opt, and who installed them.

Lambda extracts a layer to /opt. Python finds packages in
/opt/python/lib/pythonX.Y/site-packages and /opt/python (docs/lambda-facts.md), and the
dynamic loader searches /opt/lib (Lambda's LD_LIBRARY_PATH). Paths here are
layer paths: "python/psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so".
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from lambdalayer.common.distinfo import read_record, run_budget
from lambdalayer.common.fileio import unreadable, walk_error
from lambdalayer.common.zipread import link_target
from lambdalayer.targets.target import Target

_RUNTIME_DIR = re.compile(r"^python/lib/python(\d+)\.(\d+)/")
_DIST_INFO_FILE = re.compile(
    r"^(?P<base>(?:.*/)?)(?P<dir>[^/]+)\.dist-info/(?P<file>RECORD|WHEEL)$")


@dataclass(frozen=True, kw_only=True)
class LayerFile:
    """One regular file: its layer path, where it is on disk, size and permission bits."""

    rel: str
    path: Path
    size: int
    mode: int


@dataclass(kw_only=True)
class LayerTree:
    """Regular files and in-tree symlinks of a layer on disk; `escaping_links` leave it."""

    files: dict[str, LayerFile] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # link -> layer path it points at
    escaping_links: dict[str, str] = field(default_factory=dict)  # link -> raw target
    # Names on disk that normalise (NFC) to a path already seen: both spellings, for the
    # case-collision rule (check.py), since `files` can hold only one of them.
    twins: set[str] = field(default_factory=set)
    _packages: dict[str, str] | None = None
    # RECORD layer path -> why it was not read (past its parsing budget, not CSV).
    _record_problems: dict[str, str] = field(default_factory=dict)

    @property
    def unzipped_size(self) -> int:
        return sum(f.size for f in self.files.values())

    def resolve(self, rel: str) -> str | None:
        """The regular file `rel` names, following in-tree symlinks; None when absent."""
        for _ in range(40):  # the loader's own ELOOP limit is about this
            if rel in self.files:
                return rel
            target = self.links.get(rel)
            if target is None:
                return None
            rel = target
        return None

    def for_target(self, target: Target) -> list[LayerFile]:
        """The files the target's interpreter can see: all but other runtimes' lib trees."""
        wanted = target.runtime.python
        chosen = []
        for layer_file in self.files.values():
            match = _RUNTIME_DIR.match(layer_file.rel)
            if match and (int(match.group(1)), int(match.group(2))) != wanted:
                continue
            chosen.append(layer_file)
        return chosen

    def runtime_dirs(self) -> set[str]:
        """X.Y of every python/lib/pythonX.Y/ tree in the layer."""
        found = set()
        for rel in self.files:
            match = _RUNTIME_DIR.match(rel)
            if match:
                found.add(f"{match.group(1)}.{match.group(2)}")
        return found

    def package_of(self, rel: str, target: Target | None = None) -> str | None:
        """The distribution that installed `rel` (from *.dist-info/RECORD), else the
        top-level name under the import root, else None."""
        if self._packages is None:
            self._packages = _read_records(self)
        found = self._packages.get(rel)
        if found is not None:
            return found
        for root in import_roots(target):
            if rel.startswith(root):
                top = rel[len(root):].split("/", 1)[0]
                if top.endswith((".dist-info", ".data")):
                    return top.split("-", 1)[0] or None  # six-1.17.0.dist-info -> six
                name = top.split(".", 1)[0]
                return name or None
        return None

    def unreadable_records(self) -> dict[str, str]:
        """Each RECORD that was not read (its rows own nothing), with the reason."""
        if self._packages is None:
            self._packages = _read_records(self)
        return dict(self._record_problems)

    def recorded_paths(self) -> set[str]:
        """Every layer path some *.dist-info/RECORD names (present or not)."""
        if self._packages is None:
            self._packages = _read_records(self)
        return {unicodedata.normalize("NFC", path) for path in self._packages}

    def wheel_files(self, files: list[LayerFile]) -> list[tuple[str, LayerFile]]:
        """(dist-info directory name, WHEEL file) among `files`."""
        found = []
        for layer_file in files:
            match = _DIST_INFO_FILE.match(layer_file.rel)
            if match and match.group("file") == "WHEEL":
                found.append((match.group("dir"), layer_file))
        return found


def import_roots(target: Target | None) -> list[str]:
    """Where the target's interpreter imports from inside the layer, most specific first."""
    roots = ["python/"]
    if target is not None:
        roots.insert(0, f"python/lib/python{target.runtime.python_version}/site-packages/")
    return roots


def module_name(rel: str, target: Target) -> str | None:
    """The dotted module a file would be imported as ("psycopg2._psycopg"), or None."""
    for root in import_roots(target):
        if rel.startswith(root):
            parts = rel[len(root):].split("/")
            parts[-1] = parts[-1].split(".", 1)[0]
            if all(part.isidentifier() for part in parts):
                return ".".join(parts)
            return None
    return None


def scan_layer(root: Path) -> LayerTree:
    """Walk a layer directory. A directory named `python` with no python/ inside is
    taken to be the layer's python/ directory itself (the user passed ./python)."""
    prefix = ""
    if root.name == "python" and not (root / "python").is_dir():
        prefix = "python/"
    tree = LayerTree()
    spellings: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames.sort()
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        for name in [*filenames, *dirnames]:
            path = base / name
            # NFC, as the zip stores names (archive/zipwriter.py): HFS+ lists them as NFD.
            raw = prefix + rel_dir + name
            rel = unicodedata.normalize("NFC", raw)
            if rel in spellings:
                tree.twins |= {spellings[rel], raw}
            spellings.setdefault(rel, raw)
            try:
                info = path.lstat()
            except OSError as exc:
                raise unreadable(exc) from exc  # never drop a file from the audit silently
            if stat.S_ISLNK(info.st_mode):
                _add_link(tree, rel, os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                tree.files[rel] = LayerFile(rel=rel, path=path, size=info.st_size,
                                            mode=stat.S_IMODE(info.st_mode))
    return tree


def _add_link(tree: LayerTree, rel: str, raw_target: str) -> None:
    resolved = link_target(rel, raw_target)
    if resolved is None:
        tree.escaping_links[rel] = raw_target
    else:
        tree.links[rel] = resolved


def _read_records(tree: LayerTree) -> dict[str, str]:
    owners: dict[str, str] = {}
    budget = run_budget()  # every RECORD of the layer draws on one budget
    for rel, layer_file in tree.files.items():
        match = _DIST_INFO_FILE.match(rel)
        if not match or match.group("file") != "RECORD":
            continue
        base = match.group("base")
        name = distribution_name(tree, base + match.group("dir") + ".dist-info",
                                 match.group("dir"))
        try:
            listed = read_record(layer_file.path, budget)
        except OSError:
            continue
        except ValueError as exc:  # OverBudget too: the rows are not taken
            tree._record_problems[rel] = str(exc)
            continue
        for path in listed:
            owned = posixpath.normpath(posixpath.join(base, path))
            owners.setdefault(owned, name)
    return owners


def distribution_name(tree: LayerTree, dist_info: str, dir_name: str) -> str:
    """`Name:` from METADATA (the spelling users type), else from the directory name."""
    metadata = tree.files.get(f"{dist_info}/METADATA")
    if metadata is not None:
        try:
            with metadata.path.open("r", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    if line.lower().startswith("name:"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return dir_name.split("-", 1)[0]


def dist_version(dir_name: str) -> str | None:
    """"psycopg2_binary-2.9.10" -> "2.9.10"."""
    parts = dir_name.split("-", 1)
    return parts[1] if len(parts) == 2 else None
