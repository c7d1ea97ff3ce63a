"""The layer's bill of materials: `dist/NAME.cdx.json`, CycloneDX 1.6 JSON made with
cyclonedx-python-lib (docs/supply-chain.md).

The layer is the top component (its zip's SHA-256, Lambda's CodeSha256, its targets);
each distribution is a component with its `pkg:pypi` purl, the SHA-256 of the wheel it
came from (when this build had the wheel), its licence and where it came from; the
libraries a wheel vendors in `NAME.libs/` are components nested in the distribution
that carries them, with their hash as shipped; your own code (--source, --include) is a
component too. Same inputs, same bytes: the serial number is derived from the zip's
hash and the build's inputs hash, and the timestamp is the zip's (SOURCE_DATE_EPOCH, or
1980-01-01).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.supply.licences import Licence, read_licence

SBOM_SUFFIX = ".cdx.json"
_SERIAL_NAMESPACE = uuid.UUID("6f1c2f0e-4c55-5b8e-9a43-6c61796572ab")  # lambdalayer's own


@dataclass(frozen=True, kw_only=True)
class VendoredFile:
    """A library a wheel carries in its `*.libs/` folder, as it ships in the layer."""

    path: str  # in the layer, e.g. python/lib/python3.12/site-packages/x.libs/libz-1a2b.so.1
    sha256: str
    carrier: str  # the distribution's display name


@dataclass(frozen=True, kw_only=True)
class DistFacts:
    """One distribution of the layer (one wheel: per-runtime trees may hold several)."""

    name: str  # canonical
    display_name: str
    version: str
    tags: tuple[str, ...]
    wheel_sha256: str | None  # None: built here, a direct URL, or the wheel was not had
    licence: Licence
    origin: str  # "index" | "sdist built here" | "local project" | "direct URL"
    paths: tuple[str, ...]  # the site-packages folders (in the layer) that hold it
    vendored: tuple[VendoredFile, ...] = ()
    sboms: tuple[str, ...] = ()  # PEP 770 SBOMs the wheel carries (paths in the layer)

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{self.version}"


@dataclass(frozen=True, kw_only=True)
class OwnCode:
    """Your own code placed in the layer (--source, --include, with its option)."""

    label: str  # "--source src", "--include bin/tool:bin/tool"
    sha256: str | None  # over its files as placed, when they are known one by one


@dataclass(frozen=True, kw_only=True)
class LayerFacts:
    """Everything the SBOM says about one layer zip."""

    name: str
    zip_name: str
    sha256: str
    code_sha256: str
    inputs_hash: str
    targets: tuple[str, ...]  # "python3.12/x86_64"
    tool_version: str
    dists: tuple[DistFacts, ...]
    own: tuple[OwnCode, ...] = ()
    timestamp: dt.datetime = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)


def sbom_path_for(zip_path: Path) -> Path:
    """dist/NAME.cdx.json for dist/NAME.zip."""
    return zip_path.with_name(zip_path.stem + SBOM_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _vendored(root: Path, site: Path, dist: InstalledDist) -> tuple[VendoredFile, ...]:
    """The files of `dist`'s RECORD in a top-level `*.libs/` folder that ship."""
    prefix = site.relative_to(root).as_posix()
    found = []
    for name in dist.files:
        parts = PurePosixPath(name).parts
        if len(parts) < 2 or not parts[0].endswith(".libs"):
            continue
        path = site / name
        if path.is_file() and not path.is_symlink():
            found.append(VendoredFile(path=f"{prefix}/{name}", sha256=file_sha256(path),
                                      carrier=dist.display_name))
    return tuple(sorted(found, key=lambda v: v.path))


def _wheel_sboms(root: Path, site: Path, dist: InstalledDist) -> tuple[str, ...]:
    """PEP 770: the SBOM files in the distribution's `.dist-info/sboms/` that ship."""
    folder = site / dist.dist_info / "sboms"
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.relative_to(root).as_posix() for p in folder.rglob("*")
                        if p.is_file()))


def collect_dists(root: Path, site_dirs: Mapping[Path, Iterable[InstalledDist]],
                  wheel_sha256: Mapping[tuple[str, str, tuple[str, ...]], str],
                  origins: Mapping[str, str]) -> tuple[DistFacts, ...]:
    """One DistFacts per distinct wheel in the layer tree `root`: `wheel_sha256` by
    (canonical name, version, tags), `origins` by canonical name (default "index")."""
    merged: dict[tuple[str, str, tuple[str, ...]], DistFacts] = {}
    for site, dists in site_dirs.items():
        for dist in dists:
            key = (dist.name, dist.version, tuple(dist.tags))
            where = site.relative_to(root).as_posix()
            vendored, sboms = _vendored(root, site, dist), _wheel_sboms(root, site, dist)
            if key in merged:
                old = merged[key]
                merged[key] = DistFacts(**{**old.__dict__, "paths": (*old.paths, where),
                                           "vendored": (*old.vendored, *vendored),
                                           "sboms": (*old.sboms, *sboms)})
                continue
            merged[key] = DistFacts(
                name=dist.name, display_name=dist.display_name, version=dist.version,
                tags=tuple(dist.tags), wheel_sha256=wheel_sha256.get(key),
                licence=read_licence(site / dist.dist_info),
                origin=origins.get(dist.name, "index"), paths=(where,),
                vendored=vendored, sboms=sboms)
    return tuple(sorted(merged.values(), key=lambda d: (d.name, d.version, d.tags)))


def tree_sha256(files: Iterable[tuple[str, Path]]) -> str:
    """One digest over (name, content hash) pairs, in name order."""
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(f"{name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def serial_number(facts: LayerFacts) -> uuid.UUID:
    """Derived from what the layer is and how it was made: the same inputs, the same
    serial number (CycloneDX wants a urn:uuid; uuid5 gives a stable one)."""
    return uuid.uuid5(_SERIAL_NAMESPACE, f"{facts.name}\0{facts.sha256}\0{facts.inputs_hash}")
