"""What changed between two layers: packages, sizes and audit findings.

Either side is a zip, a manifest (dist/NAME.json), a layer directory, a layer
version ARN or NAME:VERSION (downloaded through GetLayerVersion and unpacked
with the safe reader). Packages and their unzipped sizes come from the tree's
*.dist-info RECORDs (`sizing.measure_layer`), also for a manifest (its zip is
read), so both sides are measured the same way. Findings come from a manifest
when there is one (also a zip's own manifest beside it), else from auditing the
tree for the targets the other side or the caller names. Nothing here prints.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdalayer.archive.manifest import Manifest, manifest_path_for, read_manifest
from lambdalayer.audit.check import audit_layer, looks_like_layer_arn
from lambdalayer.aws.download import download_layer
from lambdalayer.common.errors import AwsError, UsageError
from lambdalayer.common.fileio import file_digests
from lambdalayer.common.zipread import safe_extract
from lambdalayer.reports.sizing import measure_layer
from lambdalayer.targets.target import Target, expand_targets

_NAME_VERSION = re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,140}):(?P<version>\d+)$")

FindingKey = tuple[str, str, str, str]  # severity, code, path, package ("" for none)


@dataclass(frozen=True, kw_only=True)
class LayerSnapshot:
    """One side of a diff: packages (name -> (version, unzipped bytes)) and findings.

    `findings` is None when they are unknown (a bare zip or directory and no targets).
    """

    label: str
    packages: dict[str, tuple[str, int]]
    unzipped_size: int
    zipped_size: int | None
    findings: frozenset[FindingKey] | None
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    # What could not be read (a RECORD past its parsing budget): its files count as
    # "(other files)".
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PackageChange:
    """One package that is new, gone or at another version, or only changed size."""

    name: str
    change: str  # "added" | "removed" | "upgraded" | "downgraded" | "changed" | "resized"
    old_version: str | None
    new_version: str | None
    old_size: int
    new_size: int

    @property
    def size_change(self) -> int:
        return self.new_size - self.old_size


@dataclass(frozen=True, kw_only=True)
class LayerDiff:
    old: LayerSnapshot
    new: LayerSnapshot
    packages: tuple[PackageChange, ...]  # added, removed, version changes, size-only last
    findings_new: tuple[FindingKey, ...] | None
    findings_gone: tuple[FindingKey, ...] | None
    unchanged: int = 0  # packages with the same version and size

    @property
    def size_change(self) -> int:
        return self.new.unzipped_size - self.old.unzipped_size

    @property
    def zipped_change(self) -> int | None:
        if self.old.zipped_size is None or self.new.zipped_size is None:
            return None
        return self.new.zipped_size - self.old.zipped_size

    @property
    def empty(self) -> bool:
        return not self.packages and not self.findings_new and not self.findings_gone \
            and self.size_change == 0


@dataclass(frozen=True, kw_only=True)
class AwsAccess:
    """How to reach AWS for an ARN or NAME:VERSION side."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


@dataclass(kw_only=True)
class _Side:
    label: str
    root: Path
    manifest: Manifest | None = None
    zipped_size: int | None = None
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def diff_layers(old: str, new: str, *, targets: list[Target] | None = None,
                aws: AwsAccess | None = None) -> LayerDiff:
    """Compare two layers given as the CLI takes them. UsageError when one cannot be
    read; AwsError when a published version cannot be fetched."""
    with tempfile.TemporaryDirectory(prefix="lambdalayer-diff-") as temporary:
        work = Path(temporary)
        sides = [_materialize(spec, work / name, aws or AwsAccess())
                 for spec, name in ((old, "old"), (new, "new"))]
        if targets is None:
            targets = _shared_targets(sides)
        snapshots = [_snapshot(side, targets) for side in sides]
    return compare(snapshots[0], snapshots[1])


def compare(old: LayerSnapshot, new: LayerSnapshot) -> LayerDiff:
    """The differences between two snapshots."""
    from packaging.version import InvalidVersion, Version

    changes: list[PackageChange] = []
    unchanged = 0
    for name in sorted(set(old.packages) | set(new.packages), key=str.lower):
        before, after = old.packages.get(name), new.packages.get(name)
        if before is None and after is not None:
            kind = "added"
        elif after is None and before is not None:
            kind = "removed"
        elif before is not None and after is not None and before[0] != after[0]:
            try:
                kind = "upgraded" if Version(after[0]) > Version(before[0]) else "downgraded"
            except InvalidVersion:
                kind = "changed"
        elif before is not None and after is not None and before[1] != after[1]:
            kind = "resized"
        else:
            unchanged += 1
            continue
        changes.append(PackageChange(
            name=name, change=kind, old_version=before[0] if before else None,
            new_version=after[0] if after else None, old_size=before[1] if before else 0,
            new_size=after[1] if after else 0))
    order = {"added": 0, "removed": 1, "upgraded": 2, "downgraded": 2, "changed": 2,
             "resized": 3}
    changes.sort(key=lambda c: (order[c.change], c.name.lower()))
    new_findings = gone = None
    if old.findings is not None and new.findings is not None:
        new_findings = tuple(sorted(new.findings - old.findings))
        gone = tuple(sorted(old.findings - new.findings))
    return LayerDiff(old=old, new=new, packages=tuple(changes), findings_new=new_findings,
                     findings_gone=gone, unchanged=unchanged)


def snapshot_of_manifest(manifest: Manifest, label: str) -> LayerSnapshot:
    """A snapshot from a manifest alone (what `build` recorded)."""
    return LayerSnapshot(
        label=label,
        packages={p.name: (p.version, p.size) for p in manifest.packages},
        unzipped_size=manifest.unzipped_size, zipped_size=manifest.size,
        findings=frozenset(_key(f.severity, f.code, f.path, f.package)
                           for f in manifest.findings),
        runtimes=tuple(manifest.runtimes), architectures=tuple(manifest.architectures))


def _key(severity: str, code: str, path: str, package: str | None) -> FindingKey:
    return (severity, code, path, package or "")


def _materialize(spec: str, work: Path, aws: AwsAccess) -> _Side:
    """Unpack or locate one side on disk."""
    path = Path(spec)
    if path.is_dir():
        return _Side(label=spec, root=path)
    if path.is_file():
        if path.suffix == ".json":
            manifest = read_manifest(path)
            archive = manifest.zip_path(path)
            if not archive.is_file():
                raise UsageError(f"The manifest {path} names {archive}, which does not exist.",
                                 hint="Rebuild the layer with `lambdalayer build`.")
            side = _from_zip(archive, work, spec)
            side.manifest = manifest
            return side
        return _from_zip(path, work, spec)
    if looks_like_layer_arn(spec) or _NAME_VERSION.match(spec):
        return _from_aws(spec, work, aws)
    if path.suffix in (".zip", ".json") or "/" in spec or path.parent != Path("."):
        raise UsageError(f"{spec} does not exist.",
                         hint="Give a layer .zip, its manifest (dist/NAME.json), a layer "
                              "directory, a layer version ARN or NAME:VERSION.")
    raise UsageError(f"{spec!r} is not a layer this can read.",
                     hint="Give a layer .zip, its manifest (dist/NAME.json), a layer "
                          "directory, a layer version ARN or NAME:VERSION.")


def _from_zip(archive: Path, work: Path, label: str) -> _Side:
    work.mkdir(parents=True)
    extracted = safe_extract(archive, work)
    side = _Side(label=label, root=work, zipped_size=extracted.zipped_size)
    # The zip's own manifest (dist/NAME.json beside dist/NAME.zip) knows its findings;
    # only trust it when it describes these very bytes.
    beside = manifest_path_for(archive)
    if beside.is_file() and archive.suffix == ".zip":
        try:
            manifest = read_manifest(beside)
        except UsageError:
            manifest = None
        if manifest is not None and manifest.sha256 == file_digests(archive)[0]:
            side.manifest = manifest
    return side


def _from_aws(spec: str, work: Path, aws: AwsAccess) -> _Side:
    import botocore.exceptions

    from lambdalayer.aws.arns import parse_layer_arn
    from lambdalayer.aws.client import make_client, translate_aws_error

    match = _NAME_VERSION.match(spec)
    if match:
        name, version, region = match["name"], int(match["version"]), aws.region
    else:
        parsed = parse_layer_arn(spec)
        if parsed is None or parsed.version is None:
            raise UsageError(f"{spec!r} is not a layer version ARN.",
                             hint="Expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION "
                                  "or NAME:VERSION.")
        name, version, region = parsed.layer_arn, parsed.version, aws.region or parsed.region
    client = make_client("lambda", region=region, profile=aws.profile,
                         endpoint_url=aws.endpoint_url)
    try:
        response = client.get_layer_version(LayerName=name, VersionNumber=version)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise translate_aws_error(exc, region=region,
                                  resource=f"layer version {spec}") from exc
    location = response.get("Content", {}).get("Location")
    if not isinstance(location, str) or not location:
        raise AwsError(f"AWS returned no download location for {spec}.")
    archive = work.with_suffix(".zip")
    download_layer(location, archive, arn=str(response.get("LayerVersionArn", spec)))
    side = _from_zip(archive, work, spec)
    side.runtimes = tuple(response.get("CompatibleRuntimes") or ())
    side.architectures = tuple(response.get("CompatibleArchitectures") or ())
    return side


def _shared_targets(sides: list[_Side]) -> list[Target]:
    """Targets for auditing a side without a manifest: the other side's, else its own."""
    for side in sides:
        if side.manifest is not None:
            return expand_targets(side.manifest.runtimes, side.manifest.architectures)
    for side in sides:
        if side.runtimes:
            return expand_targets(list(side.runtimes), list(side.architectures or ("x86_64",)))
    return []


def _snapshot(side: _Side, targets: list[Target]) -> LayerSnapshot:
    measured = measure_layer(side.root)
    root, sizes = measured.root, measured.sizes
    packages: dict[str, tuple[str, int]] = {}
    for package in sizes.packages:
        if package.name == "(other)":
            packages["(other files)"] = ("", package.size)
            continue
        version, size = packages.get(package.name, (package.version, 0))
        packages[package.name] = (version, size + package.size)
    findings: frozenset[FindingKey] | None = None
    if side.manifest is not None:
        findings = snapshot_of_manifest(side.manifest, side.label).findings
    elif targets:
        report = audit_layer(root, targets)
        findings = frozenset(_key(f.severity, f.code, f.path, f.package)
                             for f in report.findings)
    return LayerSnapshot(label=side.label, packages=packages, unzipped_size=sizes.total,
                         zipped_size=side.zipped_size, findings=findings,
                         runtimes=side.runtimes or tuple(
                             side.manifest.runtimes if side.manifest else ()),
                         architectures=side.architectures,
                         warnings=tuple(dist.record_problem
                                        for dists in measured.site_dirs.values()
                                        for dist in dists if dist.record_problem))




@dataclass(frozen=True, kw_only=True)
class SupersededDiff:
    """`publish`'s comparison of a new version with the one before it.

    `previous_arn` is None for a first version; `diff` is None (and `reason` says
    why) when the previous version could not be read.
    """

    previous_arn: str | None
    diff: LayerDiff | None = None
    reason: str | None = None


def diff_superseded(new_zip: Path, new_arn: str, *, aws: AwsAccess) -> SupersededDiff:
    """Compare a just-published zip with the highest version below `new_arn`'s.

    Never raises for AWS or download trouble: the new version is published
    already, so a failed comparison is reported, not fatal.
    """
    from lambdalayer.aws.arns import parse_layer_arn
    from lambdalayer.aws.client import make_client
    from lambdalayer.common.errors import LambdaLayerError

    parsed = parse_layer_arn(new_arn)
    if parsed is None or parsed.version is None:
        return SupersededDiff(previous_arn=None, reason=f"{new_arn} is not a version ARN")
    access = AwsAccess(region=aws.region or parsed.region, profile=aws.profile,
                       endpoint_url=aws.endpoint_url)
    try:
        client = make_client("lambda", region=access.region, profile=access.profile,
                             endpoint_url=access.endpoint_url)
        previous: tuple[int, str] | None = None
        pages = client.get_paginator("list_layer_versions").paginate(LayerName=parsed.name)
        for page in pages:
            for item in page.get("LayerVersions", []):
                number = int(item["Version"])
                if number < parsed.version and (previous is None or number > previous[0]):
                    previous = (number, str(item["LayerVersionArn"]))
    except Exception as exc:  # botocore's errors; the layer is published regardless
        return SupersededDiff(previous_arn=None, reason=f"cannot list versions ({exc})")
    if previous is None:
        return SupersededDiff(previous_arn=None)
    try:
        return SupersededDiff(previous_arn=previous[1],
                              diff=diff_layers(previous[1], str(new_zip), aws=access))
    except LambdaLayerError as exc:
        return SupersededDiff(previous_arn=previous[1],
                              reason=f"previous version not readable ({exc})")


__all__ = ["AwsAccess", "LayerDiff", "LayerSnapshot", "PackageChange", "SupersededDiff",
           "compare", "diff_layers", "diff_superseded", "snapshot_of_manifest"]
