"""Publish built layers (zip + manifest) as Lambda layer versions, idempotently.

Lambda makes a new version on every `publish_layer_version`, even for identical
bytes (docs/lambda-facts.md). Our zips are deterministic, so we compare the zip's
CodeSha256 (base64 of the raw SHA-256) with the newest version's and skip when
they are equal. Regions are published in parallel; the ARN per region is
recorded in the manifest afterwards, from the calling thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdalayer.archive.manifest import (
    Manifest,
    PublishedVersion,
    manifest_lock,
    read_manifest,
    write_manifest,
)
from lambdalayer.aws.arns import check_layer_name
from lambdalayer.aws.client import ClientFactory, aws_errors, error_code, region_of
from lambdalayer.common.errors import AwsError, LambdaLayerError, UsageError
from lambdalayer.common.fileio import file_digests
from lambdalayer.common.limits import DESCRIPTION_LIMIT, DIRECT_UPLOAD_LIMIT, LICENSE_LIMIT

# Lambda quotas: 50 MB zipped for a direct upload; larger archives must come from S3.
# botocore's lambda model: Description <= 256, LicenseInfo <= 512, CompatibleRuntimes <= 15,
# CompatibleArchitectures within {x86_64, arm64}.
MAX_COMPATIBLE_RUNTIMES = 15
LAMBDA_ARCHITECTURES = ("x86_64", "arm64")
_MAX_WORKERS = 8


@dataclass(frozen=True, kw_only=True)
class Grants:
    """Who may `lambda:GetLayerVersion` each published version (besides this account)."""

    public: bool = False
    principals: tuple[str, ...] = ()  # 12-digit account ids
    org_id: str | None = None

    def statements(self) -> list[dict[str, str]]:
        """add_layer_version_permission arguments, one dict per grant, with stable ids."""
        result = []
        if self.public:
            result.append({"StatementId": "lambdalayer-public", "Principal": "*"})
        for account in self.principals:
            result.append({"StatementId": f"lambdalayer-account-{account}",
                           "Principal": account})
        if self.org_id:
            result.append({"StatementId": f"lambdalayer-org-{self.org_id}",
                           "Principal": "*", "OrganizationId": self.org_id})
        return result


@dataclass(frozen=True, kw_only=True)
class PublishOptions:
    """What `publish` does besides the zips themselves.

    `regions`: (None,) means the profile's default region. `s3_bucket` may hold
    `{region}`, because Lambda reads layer content only from a bucket in the
    layer's own region.
    """

    regions: tuple[str | None, ...] = (None,)
    s3_bucket: str | None = None
    force: bool = False
    grants: Grants = field(default_factory=Grants)
    direct_upload_limit: int = DIRECT_UPLOAD_LIMIT


@dataclass(frozen=True, kw_only=True)
class LayerToPublish:
    """One built layer, checked and ready: everything publish_layer_version needs."""

    name: str
    zip_path: Path
    manifest_path: Path
    sha256: str
    code_sha256: str
    size: int
    description: str
    license: str | None
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PublishedLayer:
    """The outcome in one region. `skipped`: the newest version already had these bytes."""

    name: str
    region: str
    arn: str
    version: int
    skipped: bool
    zip_path: Path
    via_s3: bool = False
    grants: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()  # the zip's; one layer name has a version per arch


@dataclass(frozen=True, kw_only=True)
class PublishProgress:
    """A step of publishing, for the CLI to show. `done`/`total` are bytes while uploading."""

    layer: str
    region: str
    stage: str  # "checking" | "uploading" | "publishing" | "granting" | "done"
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[PublishProgress], None]


def layer_description(manifest: Manifest, limit: int = DESCRIPTION_LIMIT) -> str:
    """A description naming the pinned packages, never longer than `limit`.

    The manifest's own description (from a recipe) comes first; pins follow in
    manifest order, and the ones that do not fit become "+N more".
    """
    pins = [f"{p.name}=={p.version}" for p in manifest.packages]
    prefix = (manifest.description or "").strip()
    if prefix and pins:
        prefix += ": "
    prefix = _clip(prefix, limit // 2) if pins else _clip(prefix, limit)
    text = prefix
    for index, pin in enumerate(pins):
        rest = len(pins) - index - 1
        separator = ", " if index else ""
        more = f", +{rest} more" if rest else ""
        if len(text) + len(separator) + len(pin) + len(more) <= limit:
            text += separator + pin
            continue
        tail = f"{separator}+{len(pins) - index} more" if index else f"{len(pins)} packages"
        return _clip(text + tail, limit)
    return text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def prepare_layer(manifest_path: Path, *, layer_name: str | None = None) -> LayerToPublish:
    """Read a manifest and its zip; UsageError when they cannot be published as they are."""
    manifest = read_manifest(manifest_path)
    zip_path = manifest.zip_path(manifest_path)
    if not zip_path.is_file():
        raise UsageError(f"{zip_path} is missing (named by {manifest_path}).",
                         hint="Rebuild it with `lambdalayer build`.")
    sha256, code_sha256 = file_digests(zip_path)
    if sha256 != manifest.sha256:
        # The description would name packages the zip may not hold.
        raise UsageError(f"{zip_path} does not match its manifest {manifest_path} "
                         "(its SHA-256 changed after the build).",
                         hint="Rebuild it with `lambdalayer build`.")
    if len(manifest.runtimes) > MAX_COMPATIBLE_RUNTIMES:
        raise UsageError(f"{manifest_path} lists {len(manifest.runtimes)} runtimes; Lambda "
                         f"accepts at most {MAX_COMPATIBLE_RUNTIMES} compatible runtimes.")
    unknown = sorted(set(manifest.architectures) - set(LAMBDA_ARCHITECTURES))
    if unknown:
        raise UsageError(f"{manifest_path} lists architectures Lambda does not know: "
                         f"{', '.join(unknown)} (Lambda has {', '.join(LAMBDA_ARCHITECTURES)}).")
    return LayerToPublish(
        name=check_layer_name(layer_name or manifest.name),
        zip_path=zip_path,
        manifest_path=manifest_path,
        sha256=sha256,
        code_sha256=code_sha256,
        size=zip_path.stat().st_size,
        description=layer_description(manifest),
        license=_clip(manifest.license, LICENSE_LIMIT) if manifest.license else None,
        runtimes=tuple(manifest.runtimes),
        architectures=tuple(manifest.architectures),
    )


@dataclass(frozen=True, kw_only=True)
class NewestVersion:
    version: int
    arn: str
    code_sha256: str
    runtimes: frozenset[str] = frozenset()
    architectures: frozenset[str] = frozenset()

    def holds(self, layer: LayerToPublish) -> bool:
        """The same bytes for the same targets: publishing `layer` again would add nothing.
        (A pure layer built once per architecture has the same bytes for both.)"""
        return (self.code_sha256 == layer.code_sha256
                and self.runtimes == frozenset(layer.runtimes)
                and self.architectures == frozenset(layer.architectures))


def newest_version(client: Any, layer_name: str,
                   architectures: Sequence[str] | None = None) -> NewestVersion | None:
    """The highest-numbered version of a layer and its CodeSha256, or None if it has none.

    With `architectures`, only versions declaring exactly those count: one layer name
    holds a version per architecture (docs/commands/publish.md), so the arm64 zip is
    compared with the newest arm64 version, not with the x86_64 one published after it.
    ListLayerVersions items carry no CodeSha256, hence the second call.
    """
    wanted = frozenset(architectures) if architectures is not None else None
    newest: dict[str, Any] | None = None
    try:
        for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
            for item in page.get("LayerVersions", []):
                if wanted is not None and frozenset(
                        item.get("CompatibleArchitectures", [])) != wanted:
                    continue
                if newest is None or item["Version"] > newest["Version"]:
                    newest = item
    except Exception as exc:
        # A layer that does not exist yet is the first publish, not a failure.
        if error_code(exc) != "ResourceNotFoundException":
            raise
    if newest is None:
        return None
    detail = client.get_layer_version(LayerName=layer_name, VersionNumber=newest["Version"])
    return NewestVersion(version=int(newest["Version"]), arn=newest["LayerVersionArn"],
                         code_sha256=str(detail.get("Content", {}).get("CodeSha256", "")),
                         runtimes=frozenset(detail.get("CompatibleRuntimes", [])),
                         architectures=frozenset(detail.get("CompatibleArchitectures", [])))


def grant_access(client: Any, layer_name: str, version: int, grants: Grants) -> tuple[str, ...]:
    """Apply `grants` to one version; a statement that already exists counts as granted."""
    applied = []
    for statement in grants.statements():
        try:
            client.add_layer_version_permission(
                LayerName=layer_name, VersionNumber=version,
                Action="lambda:GetLayerVersion", **statement)
        except Exception as exc:
            # Same StatementId on the same version: granted by an earlier run.
            if error_code(exc) != "ResourceConflictException":
                raise
        applied.append(statement["StatementId"])
    return tuple(applied)


def publish_to_region(
    layer: LayerToPublish,
    *,
    clients: ClientFactory,
    region: str | None,
    options: PublishOptions,
    progress: ProgressCallback | None = None,
) -> PublishedLayer:
    """Publish one layer in one region (or skip it when the newest version has its bytes)."""
    client = clients("lambda", region=region)
    actual = region_of(client)

    def report(stage: str, done: int = 0, total: int = 0) -> None:
        if progress:
            progress(PublishProgress(layer=layer.name, region=actual, stage=stage,
                                     done=done, total=total))

    with aws_errors(region=actual, resource=f"layer {layer.name!r}"):
        report("checking")
        newest = (None if options.force
                  else newest_version(client, layer.name, layer.architectures))
        if newest is not None and newest.holds(layer):
            grants = _grant(client, layer, newest.version, options, report)
            report("done")
            return PublishedLayer(name=layer.name, region=actual, arn=newest.arn,
                                  version=newest.version, skipped=True,
                                  zip_path=layer.zip_path, grants=grants,
                                  architectures=layer.architectures)
        content, via_s3 = _content(layer, clients=clients, region=actual, options=options,
                                   report=report)
        report("publishing")
        arguments: dict[str, Any] = {
            "LayerName": layer.name, "Description": layer.description, "Content": content,
            "CompatibleRuntimes": list(layer.runtimes),
            "CompatibleArchitectures": list(layer.architectures),
        }
        if layer.license:
            arguments["LicenseInfo"] = layer.license
        response = client.publish_layer_version(**arguments)
        published_sha = response.get("Content", {}).get("CodeSha256")
        if published_sha and published_sha != layer.code_sha256:
            raise AwsError(f"Lambda stored different bytes for {response['LayerVersionArn']} "
                           f"(CodeSha256 {published_sha}, expected {layer.code_sha256}).")
        version = int(response["Version"])
        grants = _grant(client, layer, version, options, report)
    report("done")
    return PublishedLayer(name=layer.name, region=actual, arn=response["LayerVersionArn"],
                          version=version, skipped=False, zip_path=layer.zip_path,
                          via_s3=via_s3, grants=grants, architectures=layer.architectures)


def _grant(client: Any, layer: LayerToPublish, version: int, options: PublishOptions,
           report: Callable[[str], None]) -> tuple[str, ...]:
    if not options.grants.statements():
        return ()
    report("granting")
    return grant_access(client, layer.name, version, options.grants)


def _content(layer: LayerToPublish, *, clients: ClientFactory, region: str,
             options: PublishOptions,
             report: Callable[[str, int, int], None]) -> tuple[dict[str, Any], bool]:
    """The Content argument: the bytes inline, or an S3 object uploaded here first."""
    if layer.size <= options.direct_upload_limit:
        return {"ZipFile": _hashed_bytes(layer)}, False
    if not options.s3_bucket:  # publish() refuses this before any upload
        raise UsageError(_too_big_message(layer, options))
    bucket = options.s3_bucket.replace("{region}", region)
    key = f"lambdalayer/{layer.name}/{layer.sha256}.zip"
    s3 = clients("s3", region=region)
    sent = 0
    lock = threading.Lock()

    def on_bytes(count: int) -> None:
        # boto3's transfer manager calls this from its own worker threads.
        nonlocal sent
        with lock:
            sent += count
            report("uploading", sent, layer.size)

    report("uploading", 0, layer.size)
    with aws_errors(region=region, resource=f"S3 bucket {bucket!r}"):
        s3.upload_file(str(layer.zip_path), bucket, key, Callback=on_bytes)
    return {"S3Bucket": bucket, "S3Key": key}, True


def _hashed_bytes(layer: LayerToPublish) -> bytes:
    """The zip's bytes, read once and checked against the digest the manifest and the
    skip decision used: a zip replaced in between is refused, never uploaded."""
    import hashlib

    data = layer.zip_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != layer.sha256:
        raise UsageError(f"{layer.zip_path} changed while it was being published (its SHA-256 "
                         "is no longer the one checked against the manifest).",
                         hint="Rebuild it with `lambdalayer build` and publish again.")
    return data


def _too_big_message(layer: LayerToPublish, options: PublishOptions) -> str:
    limit_mb = options.direct_upload_limit / (1024 * 1024)
    return (f"{layer.zip_path} is {layer.size / (1024 * 1024):.1f} MiB; Lambda takes at most "
            f"{limit_mb:.0f} MiB in a direct upload. Larger layers must go through S3: "
            "pass --s3-bucket BUCKET (a bucket in the layer's region; '{region}' in the "
            "name is replaced by each region).")


def publish(
    layers: Sequence[LayerToPublish],
    *,
    clients: ClientFactory,
    options: PublishOptions,
    progress: ProgressCallback | None = None,
) -> tuple[PublishedLayer, ...]:
    """Publish every layer in every region (in parallel) and record the ARNs in the manifests.

    Results come in (layer, region) order. Oversized zips without an S3 bucket
    are refused before anything is uploaded. When some regions fail, the
    others are still recorded and AwsError then lists the failures.
    """
    for layer in layers:
        if layer.size > options.direct_upload_limit and not options.s3_bucket:
            raise UsageError(_too_big_message(layer, options))
    regions = tuple(dict.fromkeys(options.regions)) or (None,)
    jobs = [(layer, region) for layer in layers for region in regions]
    if not jobs:
        return ()
    # Zips published under one name (each architecture built by its own CI job) go one
    # after the other in a region: each decides from the version the one before made.
    locks = {(layer.name, region): threading.Lock() for layer, region in jobs}

    def run(layer: LayerToPublish, region: str | None) -> PublishedLayer:
        with locks[(layer.name, region)]:
            return publish_to_region(layer, clients=clients, region=region, options=options,
                                     progress=progress)

    pool = ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(jobs)))
    futures = []
    try:
        futures = [pool.submit(run, layer, region) for layer, region in jobs]
        wait(futures)
    except BaseException:
        # SIGTERM/Ctrl-C: start nothing more, and record what is already published. An
        # upload still running is not waited for: the next publish finds its version by
        # CodeSha256 and records it then.
        pool.shutdown(wait=False, cancel_futures=True)
        record_published(layers, [f.result() for f in futures
                                  if f.done() and not f.cancelled() and f.exception() is None])
        raise
    pool.shutdown()
    results: list[PublishedLayer] = []
    failures: list[tuple[str, str, LambdaLayerError]] = []
    for (layer, region), future in zip(jobs, futures, strict=True):
        error = future.exception()
        if error is None:
            results.append(future.result())
        elif isinstance(error, LambdaLayerError):
            failures.append((layer.name, region or "default region", error))
        else:
            raise error
    record_published(layers, results)
    if failures:
        if not results and len({str(error) for _, _, error in failures}) == 1:
            raise failures[0][2]  # e.g. no credentials: one message, not one per region
        lines = [f"{name} in {region}: {error.message}" for name, region, error in failures]
        done = ", ".join(f"{r.name} in {r.region}" for r in results) or "nothing"
        raise AwsError("Publishing failed for " + "; ".join(lines),
                       hint=f"Published: {done} (recorded in the manifests).")
    return tuple(results)


def record_published(layers: Sequence[LayerToPublish],
                     results: Sequence[PublishedLayer]) -> None:
    """Write each region's ARN into the manifest of the zip it came from."""
    for layer in layers:
        mine = [r for r in results if r.zip_path == layer.zip_path]
        if not mine:
            continue
        with manifest_lock(layer.manifest_path):  # read-modify-write: concurrent publishes
            manifest = read_manifest(layer.manifest_path)
            for result in mine:
                manifest.record_published(PublishedVersion(region=result.region,
                                                           arn=result.arn,
                                                           version=result.version))
            write_manifest(layer.manifest_path, manifest)


def github_output_lines(results: Sequence[PublishedLayer]) -> list[str]:
    """`key=value` lines for $GITHUB_OUTPUT.

    `layer_arn` is the first result (first zip, first --region); every result
    also gets `layer_arn_<name>_<region>` (the first zip of that layer there), and when
    one layer has a zip per architecture (a native layer built for both),
    `layer_arn_<name>_<arch>_<region>` too. Characters other than letters, digits and '_'
    become '_' (e.g. layer_arn_pg8000_us_east_1, layer_arn_psycopg_arm64_us_east_1).
    """
    if not results:
        return []
    archs: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for result in results:
        archs.setdefault((result.name, result.region), set()).add(result.architectures)
    keys: dict[str, str] = {"layer_arn": results[0].arn}
    for result in results:
        names = [result.name]
        if len(archs[(result.name, result.region)]) > 1 and len(result.architectures) == 1:
            names.append(f"{result.name}_{result.architectures[0]}")
        for name in names:
            key = "".join(c if c.isalnum() or c == "_" else "_"
                          for c in f"layer_arn_{name}_{result.region}")
            keys.setdefault(key, result.arn)
    return [f"{key}={arn}" for key, arn in keys.items()]


def append_github_output(path: Path, results: Sequence[PublishedLayer]) -> None:
    """Append github_output_lines(results) to the file GitHub Actions names in GITHUB_OUTPUT."""
    lines = github_output_lines(results)
    if lines:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
