"""List a layer's versions with the functions that use them, and prune old ones safely."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lambdalayer.aws.client import aws_errors, region_of
from lambdalayer.common.errors import AwsError, UsageError

_DETAIL_WORKERS = 4  # boto3 clients are thread-safe; a few calls in flight, not a burst


@dataclass(frozen=True, kw_only=True)
class VersionInfo:
    """One layer version. `functions`: the functions in the region that use it
    ("name" for $LATEST, "name:3" for a published function version)."""

    version: int
    arn: str
    created: str
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    size: int  # zipped bytes (CodeSize)
    description: str
    functions: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class LayerVersions:
    layer: str
    region: str
    versions: tuple[VersionInfo, ...]  # newest first


@dataclass(frozen=True, kw_only=True)
class PrunePlan:
    """keep: the newest N; delete: older and unused (or all older with force);
    in_use: older but still used by a function, so kept."""

    keep: tuple[VersionInfo, ...]
    delete: tuple[VersionInfo, ...]
    in_use: tuple[VersionInfo, ...]


@dataclass(frozen=True, kw_only=True)
class PruneResult:
    layer: str
    region: str
    plan: PrunePlan
    dry_run: bool


def functions_using_layers(client: Any) -> dict[str, tuple[str, ...]]:
    """Layer version ARN -> functions in the client's region whose configuration lists it.

    FunctionVersion=ALL includes published function versions: they keep using
    their layers too.
    """
    users: dict[str, list[str]] = {}
    with aws_errors(region=region_of(client)):
        paginator = client.get_paginator("list_functions")
        for page in paginator.paginate(FunctionVersion="ALL"):
            for config in page.get("Functions", []):
                name = config["FunctionName"]
                version = config.get("Version", "$LATEST")
                label = name if version == "$LATEST" else f"{name}:{version}"
                for layer in config.get("Layers", []):
                    users.setdefault(layer["Arn"], []).append(label)
    return {arn: tuple(sorted(set(names))) for arn, names in users.items()}


def list_versions(client: Any, layer: str) -> LayerVersions:
    """Every version of `layer` (name or layer ARN), newest first; AwsError if it has none."""
    region = region_of(client)
    resource = f"layer {layer!r}"
    with aws_errors(region=region, resource=resource):
        items = [item
                 for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer)
                 for item in page.get("LayerVersions", [])]
    if not items:
        raise AwsError(f"Layer {layer!r} has no versions in {region}.",
                       hint="Check the name and --region.")
    users = functions_using_layers(client)

    def detail(item: dict[str, Any]) -> VersionInfo:
        # ListLayerVersions items carry no size; GetLayerVersion does.
        with aws_errors(region=region, resource=resource):
            full = client.get_layer_version(LayerName=layer, VersionNumber=item["Version"])
        return VersionInfo(
            version=int(item["Version"]),
            arn=item["LayerVersionArn"],
            created=str(item.get("CreatedDate", "")),
            runtimes=tuple(item.get("CompatibleRuntimes", [])),
            architectures=tuple(item.get("CompatibleArchitectures", [])),
            size=int(full.get("Content", {}).get("CodeSize", 0)),
            description=str(item.get("Description", "")),
            functions=users.get(item["LayerVersionArn"], ()),
        )

    with ThreadPoolExecutor(max_workers=_DETAIL_WORKERS) as pool:
        versions = list(pool.map(detail, items))
    versions.sort(key=lambda v: v.version, reverse=True)
    return LayerVersions(layer=layer, region=region, versions=tuple(versions))


def plan_prune(versions: Sequence[VersionInfo], *, keep: int, force: bool) -> PrunePlan:
    """Keep the newest `keep` of each architecture set; delete the rest unless a function
    uses them (or `force`). A native layer has a version per architecture under one name,
    so `--keep 1` keeps the newest arm64 version as well as the newest x86_64 one."""
    if keep < 0:
        raise UsageError("--keep must be 0 or more.")
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    seen: dict[frozenset[str], int] = {}
    kept: list[VersionInfo] = []
    older: list[VersionInfo] = []
    for version in ordered:
        group = frozenset(version.architectures)
        seen[group] = seen.get(group, 0) + 1
        (kept if seen[group] <= keep else older).append(version)
    in_use = () if force else tuple(v for v in older if v.functions)
    delete = tuple(v for v in older if v not in in_use)
    return PrunePlan(keep=tuple(kept), delete=delete, in_use=in_use)


def prune(client: Any, layer: str, *, keep: int, force: bool = False,
          dry_run: bool = False) -> PruneResult:
    """Delete all but the newest `keep` versions of `layer`, sparing versions in use."""
    listing = list_versions(client, layer)
    plan = plan_prune(listing.versions, keep=keep, force=force)
    if not dry_run:
        with aws_errors(region=listing.region, resource=f"layer {layer!r}"):
            for version in plan.delete:
                client.delete_layer_version(LayerName=layer, VersionNumber=version.version)
    return PruneResult(layer=layer, region=listing.region, plan=plan, dry_run=dry_run)
