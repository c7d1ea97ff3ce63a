"""The JSON manifest written beside each layer zip; `publish` and `attach` read it.

`dist/NAME.zip` has `dist/NAME.json`. The manifest says what the zip holds and
how it was made (so `build` can tell it is up to date), and `publish` records
the ARN per region in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import file_digests, write_atomic

MANIFEST_SCHEMA = 1


@dataclass(frozen=True, kw_only=True)
class PackageRecord:
    name: str
    version: str
    tags: list[str]
    size: int = 0  # unzipped bytes this package adds to the layer


@dataclass(frozen=True, kw_only=True)
class FindingRecord:
    severity: str  # "error" | "warning" | "info"
    code: str
    path: str
    message: str
    package: str | None = None
    load: str | None = None  # "import" | "on-demand" for native-loading findings (audit)


@dataclass(frozen=True, kw_only=True)
class ProofRecord:
    """How the import proof ran on one target of the zip (docs/json.md)."""

    target: str  # "python3.12/x86_64"
    status: str  # "passed" | "skipped" (a failed proof writes no zip)
    sandbox: str | None = None  # the proof line's text; None when it did not run
    sandbox_kind: str | None = None  # "bwrap" | "box" | "none"; None when it did not run


@dataclass(frozen=True, kw_only=True)
class LicenceRecord:
    """One distribution of the zip and its licence as its METADATA states it
    (supply/licences.Licence), read from the zip when it was built (docs/json.md)."""

    name: str
    version: str
    expression: str | None = None  # SPDX, from License-Expression
    names: list[str] = field(default_factory=list)  # from classifiers or License:
    source: str = "unknown"


@dataclass(frozen=True, kw_only=True)
class PublishedVersion:
    region: str
    arn: str
    version: int


@dataclass(kw_only=True)
class Manifest:
    name: str
    zip: str  # file name of the zip, relative to the manifest's directory
    sha256: str
    code_sha256: str
    size: int
    unzipped_size: int
    runtimes: list[str]
    architectures: list[str]
    packages: list[PackageRecord]
    tool_version: str
    inputs_hash: str
    inputs: dict[str, Any]
    recipe: str | None = None
    description: str | None = None
    license: str | None = None
    proof_imports: list[str] = field(default_factory=list)
    findings: list[FindingRecord] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    published: list[PublishedVersion] = field(default_factory=list)
    # The import proof behind this zip, per target ([] when it was not run: --no-proof).
    proof: list[ProofRecord] = field(default_factory=list)
    # The layer's SBOM beside the zip (NAME.cdx.json, docs/supply-chain.md); None before.
    sbom: str | None = None
    # What `build --vulns` last heard from the vulnerability service about this zip
    # (supply/osv.py VulnReport.as_dict; None: not asked). Read by `report` and the Action.
    vulns: dict[str, Any] | None = None
    # The zip's distributions and their licences, recorded by `build` once the zip is
    # written, so that an up-to-date build's summary need not read the zip again. None:
    # not recorded (a manifest from before); the summary then reads the zip.
    licences: list[LicenceRecord] | None = None
    schema: int = MANIFEST_SCHEMA

    def zip_path(self, manifest_path: Path) -> Path:
        return manifest_path.parent / self.zip

    def pins(self) -> dict[str, str]:
        """Each distribution in the zip: name -> version."""
        return {p.name: p.version for p in self.packages}

    def proven(self) -> bool:
        """The import proof ran for this zip and passed on every target."""
        return bool(self.proof) and all(r.status == "passed" for r in self.proof)

    def record_published(self, entry: PublishedVersion) -> None:
        """Remember `entry` as the layer's current version in its region (one per region).

        A newer version of the same layer already recorded stays: concurrent publishes
        finish in any order, and `attach` uses what is recorded here."""
        current = self.published_in(entry.region)
        if (current is not None and current.version > entry.version
                and current.arn.rsplit(":", 1)[0] == entry.arn.rsplit(":", 1)[0]):
            return
        self.published = [p for p in self.published if p.region != entry.region] + [entry]
        self.published.sort(key=lambda p: p.region)

    def published_in(self, region: str) -> PublishedVersion | None:
        """What `publish` last recorded for `region`, if anything."""
        return next((p for p in self.published if p.region == region), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        data = dict(data)
        if data.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"unsupported manifest schema {data.get('schema')!r}")
        data["packages"] = [PackageRecord(**p) for p in data.get("packages", [])]
        data["findings"] = [FindingRecord(**f) for f in data.get("findings", [])]
        data["published"] = [PublishedVersion(**p) for p in data.get("published", [])]
        data["proof"] = [ProofRecord(**p) for p in data.get("proof", [])]
        if data.get("licences") is not None:
            data["licences"] = [LicenceRecord(**d) for d in data["licences"]]
        return cls(**data)


def manifest_path_for(zip_path: Path) -> Path:
    return zip_path.with_suffix(".json")


def read_manifest(path: Path) -> Manifest:
    """Load a manifest; UsageError with the path and what is wrong when it cannot be used."""
    try:
        return Manifest.from_dict(json.loads(path.read_text("utf-8")))
    except FileNotFoundError as exc:
        raise UsageError(
            f"No manifest at {path}. Build the layer with `lambdalayer build` first."
        ) from exc
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(
            f"The manifest {path} cannot be read ({exc}). Rebuild the layer with "
            "`lambdalayer build --force`."
        ) from exc


def manifest_beside(source: Path) -> Manifest | None:
    """The manifest `build` wrote beside a zip (dist/NAME.json for dist/NAME.zip), when it
    describes that zip; None for a directory, a foreign zip or an unreadable manifest."""
    if not source.is_file():
        return None
    path = manifest_path_for(source)
    if path == source or not path.is_file():
        return None
    try:
        manifest = read_manifest(path)
    except UsageError:
        return None
    return manifest if manifest.zip == source.name else None


def write_manifest(path: Path, manifest: Manifest) -> None:
    write_atomic(path, manifest.to_json().encode("utf-8"))


@contextlib.contextmanager
def manifest_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder that holds the manifest `path`.

    Every read-modify-write of a manifest (publish recording an ARN, build carrying the
    publish records over) runs under it, so two runs into one dist/ never lose each
    other's records. The folder itself is locked (flock on its descriptor), not a lock
    file beside the manifest: nothing is left in dist/ that the user did not ask for,
    and the critical sections are a read and two renames. Where no lock can be taken
    (no fcntl, a folder that cannot be opened) the block runs unlocked: the write that
    follows reports the real problem.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path.parent, flags)
    except OSError:
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def artifact_manifest_paths(out_dir: Path, name: str) -> list[Path]:
    """Where `build` puts the manifests of layer `name`: NAME.json, or NAME-ARCH.json per
    architecture for native layers (pipeline/resolving.py names the zips the same way)."""
    return [out_dir / f"{name}.json", out_dir / f"{name}-x86_64.json",
            out_dir / f"{name}-arm64.json"]


def hash_inputs(record: dict[str, Any]) -> str:
    """The inputs hash a manifest records: sha256 of `record` as JSON, keys sorted."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def intact_build(out_dir: Path, name: str,
                 inputs_hash: str) -> list[tuple[Path, Manifest]] | None:
    """The (manifest path, manifest) pairs of layer `name` in `out_dir` written from inputs
    hashed to `inputs_hash`, when they are every zip that build wrote and each zip is still
    there with the digest its manifest records; else None (also when a manifest there
    cannot be read)."""
    previous: list[tuple[Path, Manifest]] = []
    for path in artifact_manifest_paths(out_dir, name):
        if not path.exists():
            continue
        try:
            manifest = read_manifest(path)
        except UsageError:
            return None
        if manifest.inputs_hash == inputs_hash:
            previous.append((path, manifest))
    if not previous:
        return None
    expected = set(previous[0][1].inputs.get("artifacts", []))
    if {m.zip for _, m in previous} != expected:
        return None
    for path, manifest in previous:
        zip_path = manifest.zip_path(path)
        if not zip_path.exists() or file_digests(zip_path)[0] != manifest.sha256:
            return None
    return previous


def find_manifests(directory: Path) -> list[Path]:
    """Manifests in a build output directory, by name."""
    found = []
    for candidate in sorted(directory.glob("*.json")):
        try:
            data = json.loads(candidate.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("schema") == MANIFEST_SCHEMA and "zip" in data:
            found.append(candidate)
    return found
