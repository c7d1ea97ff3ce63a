"""Your own files in a layer: `--source DIR` folders and `--include SRC:DEST` extras.

A source folder's modules and packages go where the installed packages are
(`python/`, or each runtime's site-packages); an included file or folder goes
to DEST below the layer root (`bin/`, `lib/`: /opt/bin is on Lambda's PATH,
/opt/lib on its library path). Both are checked before anything is built:
the path must exist, a folder must hold something, DEST must stay inside the
layer. Files are copied (never linked), executables keep 0755.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import UsageError
from lambdalayer.owncode.folder import (
    folder_files,
    is_executable,
    read_regular,
    refuse_system_path,
)

if TYPE_CHECKING:
    from lambdalayer.common.distinfo import InstalledDist


@dataclass(frozen=True, kw_only=True)
class SourceFolder:
    path: Path  # absolute
    label: str  # as the user wrote it
    follow_links: bool = False  # --follow-links: links leading outside are taken too

    def files(self) -> list[tuple[str, Path]]:
        return folder_files(self.path, follow_links=self.follow_links,
                            label=f"--source {self.label}")


@dataclass(frozen=True, kw_only=True)
class IncludedPath:
    path: Path  # absolute: a file or a folder
    label: str  # SRC:DEST as the user wrote it
    dest: str  # normalised, relative to the layer root; "" is the root itself
    follow_links: bool = False  # --follow-links: links leading outside are taken too


def source_folder(path: Path, label: str, *, follow_links: bool = False) -> SourceFolder:
    """Validate a --source folder; UsageError when it is missing, not a folder or empty,
    or holds a link that leads outside it (docs/trust.md)."""
    option = f"--source {label}"
    if not path.exists():
        raise UsageError(f"{option}: {path} does not exist. Give a folder of modules and "
                         "packages (it is copied into the layer's python/ directory).")
    if not path.is_dir():
        raise UsageError(f"{option}: {path} is not a folder. A single module goes in a "
                         "folder of its own; other files: --include SRC:DEST.")
    refuse_system_path(path, option)
    folder = SourceFolder(path=path.resolve(), label=label, follow_links=follow_links)
    if not folder.files():
        raise UsageError(f"{option}: {path} holds no files to copy (after leaving out "
                         "__pycache__, VCS and editor files and what its .gitignore "
                         "excludes). Nothing would be added to the layer.")
    return folder


def parse_include(spec: str, base: Path, *, follow_links: bool = False) -> IncludedPath:
    """`SRC:DEST` (SRC relative to `base`); UsageError for a bad SRC or a DEST outside."""
    option = f"--include {spec}"
    src, sep, dest = spec.rpartition(":")
    if not sep or not src:
        raise UsageError(f"{option}: write it as SRC:DEST, e.g. ./tools/jq:bin/ or "
                         "./vendor/libfoo.so:lib/ (DEST is relative to the layer root).")
    normal = posixpath.normpath(dest.replace("\\", "/")) if dest else "."
    if posixpath.isabs(normal) or normal == ".." or normal.startswith("../"):
        raise UsageError(f"{option}: DEST {dest!r} is outside the layer. DEST is relative "
                         "to the layer root (/opt on Lambda), e.g. bin/ or lib/.")
    path = (base / Path(src).expanduser())
    if not path.exists():
        raise UsageError(f"{option}: {path} does not exist.")
    refuse_system_path(path, option)
    target = "" if normal == "." else normal
    if path.is_file() and (dest.endswith("/") or not target):
        target = posixpath.join(target, path.name)
    include = IncludedPath(path=path.resolve(), label=spec, dest=target,
                           follow_links=follow_links)
    if path.is_dir() and not included_files(include):
        raise UsageError(f"{option}: the folder {path} holds no files to copy.")
    return include


def _copy(src: Path, dest: Path, label: str) -> None:
    if dest.exists():
        raise UsageError(f"{label}: {dest.name} would overwrite a file already in the layer "
                         f"({dest}). Choose another DEST or rename it.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(read_regular(src))
    dest.chmod(0o755 if is_executable(src) else 0o644)


def included_files(include: IncludedPath) -> list[tuple[str, Path]]:
    """(layer-relative path, source file) for everything `include` places."""
    if include.path.is_file():
        return [(include.dest, include.path)]
    return [(posixpath.join(include.dest, rel) if include.dest else rel, path)
            for rel, path in folder_files(include.path, follow_links=include.follow_links,
                                          label=f"--include {include.label}")]


def place_includes(includes: tuple[IncludedPath, ...], root: Path) -> None:
    for include in includes:
        for rel, path in included_files(include):
            _copy(path, root / rel, f"--include {include.label}")


def _module_name(top: str) -> str:
    """The import name a top-level entry provides (`six.py` -> six, `_x.cpython-312-…so` -> _x)."""
    if top.endswith((".py", ".so", ".pyd")) or ".cpython-" in top or ".abi3." in top:
        return top.split(".", 1)[0]
    return top


def _installed_modules(dists: list[InstalledDist]) -> dict[str, InstalledDist]:
    owners: dict[str, InstalledDist] = {}
    for dist in dists:
        for record_path in dist.files:
            top = record_path.split("/", 1)[0]
            if top.endswith((".dist-info", ".data")) or top in ("..", "bin"):
                continue
            owners.setdefault(_module_name(top), dist)
    return owners


def place_sources(sources: tuple[SourceFolder, ...], site_dirs: dict[Path, list[InstalledDist]]
                  ) -> None:
    """Copy every source folder into every site dir; UsageError on a name clash."""
    for site_dir, dists in site_dirs.items():
        owners = _installed_modules(dists)
        claimed: dict[str, SourceFolder] = {}
        for source in sources:
            files = source.files()
            for top in sorted({rel.split("/", 1)[0] for rel, _ in files}):
                name = _module_name(top)
                if name in owners:
                    dist = owners[name]
                    raise UsageError(
                        f"--source {source.label}: its {top} is the top-level module "
                        f"{name!r}, which the installed distribution {dist.display_name} "
                        f"{dist.version} also provides; one would overwrite the other. "
                        "Rename your module, or drop the requirement.")
                if name in claimed and claimed[name] != source:
                    raise UsageError(
                        f"--source {source.label}: {top} is also in --source "
                        f"{claimed[name].label}; one would overwrite the other.")
                claimed[name] = source
            for rel, path in files:
                _copy(path, site_dir / rel, f"--source {source.label}")


def _importable(directory: Path, tops: set[str]) -> list[str]:
    """The top-level modules `tops` (entries placed directly in `directory`) provide there:
    packages (a folder with __init__.py), `.py` modules and extension modules, each an
    identifier; data files and folders that are not packages provide none."""
    names = set()
    for top in tops:
        path = directory / top
        name = _module_name(top)
        if not name.isidentifier():
            continue
        if (path.is_dir() and top.isidentifier() and (path / "__init__.py").is_file()) or (
                path.is_file() and top.endswith((".py", ".so"))):
            names.add(name)
    return sorted(names, key=str.lower)


def own_code_modules(sources: tuple[SourceFolder, ...], includes: tuple[IncludedPath, ...],
                     root: Path, site_dirs: Iterable[Path], import_dirs: Iterable[Path]
                     ) -> dict[str, dict[Path, list[str]]]:
    """The top-level modules your own files placed, for the import proof: per piece of
    your code, named as the summary names it ("your code (--source src)"), per
    directory. A source folder is in every one of `site_dirs` (place_sources); an
    included file counts where it landed directly in one of `import_dirs` (the
    directories below `root` Lambda's Python imports from)."""
    found: dict[str, dict[Path, list[str]]] = {}
    for source in sources:
        tops = {rel.split("/", 1)[0] for rel, _ in source.files()}
        for site in site_dirs:
            if names := _importable(site, tops):
                found.setdefault(f"your code (--source {source.label})", {})[site] = names
    for include in includes:
        rels = [rel for rel, _ in included_files(include)]
        for directory in import_dirs:
            prefix = directory.relative_to(root).as_posix() + "/"
            tops = {rel[len(prefix):].split("/", 1)[0] for rel in rels
                    if rel.startswith(prefix)}
            if names := _importable(directory, tops):
                found.setdefault(f"your code (--include {include.label})", {})[directory] = names
    return found


def own_code_files(sources: tuple[SourceFolder, ...], includes: tuple[IncludedPath, ...],
                   root: Path, site_dirs: Iterable[Path]) -> dict[str, str]:
    """Archive path -> "your code (--source src)" or "your code (--include SRC:DEST)" for
    every file your own code placed below `root` (the size breakdown names them)."""
    found: dict[str, str] = {}
    for source in sources:
        label = f"your code (--source {source.label})"
        files = source.files()
        for site in site_dirs:
            prefix = site.relative_to(root).as_posix()
            found.update({f"{prefix}/{rel}": label for rel, _ in files})
    for include in includes:
        label = f"your code (--include {include.label})"
        found.update({rel: label for rel, _ in included_files(include)})
    return found
