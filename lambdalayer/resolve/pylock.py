"""PEP 751 lock files (`pylock.toml`, `pylock.NAME.toml`) as build inputs.

A pylock becomes hashed requirements text, `NAME==VERSION ; MARKER` with one
`--hash` per wheel, which uv installs per target with hash checking like any
lock (so a pylock and the hashed requirements file naming the same wheels
build the same zip). Before anything is resolved, `Pylock.check_targets`
refuses a lock that does not fit a target: its `requires-python` or
`environments` leave the target out, or a package whose marker applies to the
target has no wheel that fits it. Entries that cannot be hash-checked as wheels
(VCS, directories, archives, wheels without a hash) are refused on reading.
The lock's `index` fields are not followed: packages come from the build's
indexes, and the lock's hashes decide what may be installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common import _toml
from lambdalayer.common.errors import UsageError

if TYPE_CHECKING:
    from lambdalayer.targets.target import Target

_NAME = re.compile(r"^pylock\.([^.]+\.)?toml$")  # PEP 751's file names
_HASHES = ("sha256", "sha384", "sha512")  # what uv's --hash accepts, first found kept
_LOCK_ONLY_MARKERS = re.compile(r"\b(extras|dependency_groups)\b")
_UNHASHABLE = ("vcs", "directory", "archive")


def is_pylock(path: Path) -> bool:
    """Whether `path` is named as PEP 751 names lock files."""
    return _NAME.match(path.name) is not None


@dataclass(frozen=True, kw_only=True)
class LockedPackage:
    name: str
    version: str
    marker: str | None
    wheels: tuple[str, ...]  # file names
    hashes: tuple[str, ...]  # `ALG:HEX`, one per wheel
    has_sdist: bool


@dataclass(frozen=True, kw_only=True)
class Pylock:
    path: Path
    requires_python: str | None
    environments: tuple[str, ...]
    packages: tuple[LockedPackage, ...]

    def requirement_text(self) -> str:
        """The lock as hashed requirements, markers kept for uv to evaluate per target."""
        lines = []
        for package in self.packages:
            line = f"{package.name}=={package.version}"
            if package.marker:
                line += f" ; {package.marker}"
            lines.append(" \\\n".join([line, *(f"    --hash={h}" for h in package.hashes)]))
        return "\n".join(lines) + "\n"

    def applying(self, target: Target) -> list[LockedPackage]:
        """The packages whose markers select `target`."""
        from packaging.markers import Marker

        return [p for p in self.packages
                if p.marker is None or target.evaluate(Marker(p.marker))]

    def problems(self, target: Target) -> list[str]:
        """Why this lock cannot build `target` (empty when it can)."""
        from packaging.markers import Marker
        from packaging.specifiers import SpecifierSet
        from packaging.utils import parse_wheel_filename

        version = target.marker_environment["python_full_version"]
        if self.requires_python and not SpecifierSet(self.requires_python).contains(
                version, prereleases=True):
            return [f"its requires-python {self.requires_python!r} leaves out {target}"]
        if self.environments and not any(target.evaluate(Marker(e))
                                         for e in self.environments):
            return [f"its environments ({'; '.join(self.environments)}) leave out {target}"]
        found: list[str] = []
        seen: set[str] = set()
        for package in self.applying(target):
            label = f"{package.name} {package.version}"
            if package.name in seen:
                found.append(f"{package.name} is locked twice for {target}")
            seen.add(package.name)
            if not package.wheels:
                found.append(f"{label} has no wheel, only an sdist" if package.has_sdist
                             else f"{label} has no wheel")
            elif not any(t in target.supported_tags for w in package.wheels
                         for t in parse_wheel_filename(w)[3]):
                found.append(f"no wheel of {label} fits {target} "
                             f"(it has {', '.join(package.wheels)})")
        return found

    def check_targets(self, targets: list[Target]) -> None:
        """UsageError (exit 2) naming every target this lock cannot build, and why."""
        found = [line for target in targets for line in self.problems(target)]
        if found:
            raise UsageError(
                f"-r {self.path}: this lock cannot build the layer: {'; '.join(found)}.",
                hint="Lock for the layer's targets (e.g. `uv pip compile --format pylock.toml "
                     "--python-platform x86_64-manylinux_2_28 --python-version 3.12 "
                     "--only-binary :all:`, or `lambdalayer lock --format pylock`), or build "
                     "for the runtimes and architectures the lock covers.")


def read_pylock(path: Path) -> Pylock:
    """Read and validate a PEP 751 lock; UsageError (exit 2) naming what is wrong."""
    try:
        data = _toml.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"-r {path}: no such file.") from None
    except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError) as exc:
        raise UsageError(f"-r {path}: cannot read it as a PEP 751 lock ({exc}).") from None
    version = str(data.get("lock-version", ""))
    if version.split(".")[0] != "1":
        raise UsageError(f"-r {path}: lock-version {version or '(none)'!r} is not one this "
                         "version of lambdalayer reads (PEP 751 lock-version 1.x).")
    raw = data.get("packages")
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"-r {path}: the lock names no packages.")
    environments = data.get("environments", [])
    requires = data.get("requires-python")
    return Pylock(
        path=path, requires_python=str(requires) if requires else None,
        environments=tuple(str(e) for e in environments)
        if isinstance(environments, list) else (),
        packages=tuple(_package(path, number, entry) for number, entry in enumerate(raw, 1)))


def _package(path: Path, number: int, entry: object) -> LockedPackage:
    where = f"-r {path}: package {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise UsageError(f"{where} has no name.")
    name, version = entry["name"], entry.get("version")
    where = f"-r {path}: {name}"
    kind = next((k for k in _UNHASHABLE if k in entry), None)
    if kind is not None:
        raise UsageError(
            f"{where} comes from a {kind}, which a layer is not built from here: lambdalayer "
            "installs wheels the lock pins by hash.",
            hint="Build it into a wheel and lock that, or give the project to `build` "
                 "with -p PATH (docs/own-code.md).")
    if not isinstance(version, str):
        raise UsageError(f"{where} has no version.")
    marker = entry.get("marker")
    if isinstance(marker, str) and _LOCK_ONLY_MARKERS.search(marker):
        raise UsageError(
            f"{where}: its marker {marker!r} selects by extras or dependency groups, which "
            "this reader does not evaluate.",
            hint="Export the lock for the groups you ship (e.g. `uv export --format "
                 "pylock.toml --no-dev`), which writes plain environment markers.")
    wheels, hashes = [], []
    for wheel in entry.get("wheels", []) or []:
        filename = _wheel_name(wheel)
        digest = _hash(wheel)
        if filename is None:
            raise UsageError(f"{where} {version}: a wheel entry names no wheel file "
                             "(`name`, `url` or `path` ending in a valid .whl name).")
        if digest is None:
            raise UsageError(
                f"{where} {version}: its wheel {filename} has no sha256, sha384 "
                "or sha512 hash; a lock's wheels must carry one (PEP 751), so that only the "
                "locked files can be installed.",
                hint="Regenerate the lock with a tool that records hashes "
                     "(`uv export --format pylock.toml`).")
        wheels.append(filename)
        hashes.append(digest)
    return LockedPackage(name=name, version=version,
                         marker=marker if isinstance(marker, str) else None,
                         wheels=tuple(wheels), hashes=tuple(hashes),
                         has_sdist="sdist" in entry)


def _wheel_name(wheel: object) -> str | None:
    if not isinstance(wheel, dict):
        return None
    name = wheel.get("name") or str(wheel.get("url") or wheel.get("path") or "")
    name = name.rstrip("/").rsplit("/", 1)[-1].split("#")[0].split("?")[0]
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        parse_wheel_filename(name)
    except InvalidWheelFilename:
        return None
    return name


def _hash(wheel: object) -> str | None:
    hashes = wheel.get("hashes") if isinstance(wheel, dict) else None
    if not isinstance(hashes, dict):
        return None
    for alg in _HASHES:
        value = hashes.get(alg)
        if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{64,128}", value):
            return f"{alg}:{value.lower()}"
    return None
