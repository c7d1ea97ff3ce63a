"""A published layer version, downloaded by ARN: for `check ARN` and `diff`.

Lambda hands out a presigned `Content.Location` URL (valid for 10 minutes) for a
layer version this account may read. The download is capped in bytes and in
wall-clock time (common/deadline.py: enforced during the reads), and its zip is
then read like any local zip.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import AwsError, UsageError

if TYPE_CHECKING:
    from lambdalayer.audit.findings import AuditReport
    from lambdalayer.targets.target import Target

MAX_DOWNLOAD = 512 << 20
DOWNLOAD_DEADLINE = 600.0  # seconds for the whole download (a layer is at most 50 MB zipped)


def check_layer_arn(arn: str, targets: list[Target], *, allow: frozenset[str] = frozenset(),
                    region: str | None = None, profile: str | None = None,
                    endpoint_url: str | None = None,
                    also: Callable[[Path], object] | None = None) -> AuditReport:
    """Download a published layer version (get_layer_version_by_arn's Content.Location)
    and audit it (`also` gets the downloaded zip too, e.g. for its SBOM). AwsError when
    this account may not read it."""
    from lambdalayer.aws.arns import parse_layer_arn

    parsed = parse_layer_arn(arn)
    if parsed is None or parsed.version is None:
        raise UsageError(f"{arn!r} is not a layer version ARN.",
                         hint="Expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION.")
    location = _layer_location(str(parsed), region=region or parsed.region, profile=profile,
                               endpoint_url=endpoint_url, owner=parsed.account,
                               name=parsed.name, version=parsed.version)
    with tempfile.TemporaryDirectory(prefix="lambdalayer-layer-") as temporary:
        archive = Path(temporary) / f"{parsed.name}-{parsed.version}.zip"
        _download(location, archive, arn=str(parsed))
        from lambdalayer.audit.check import check_path

        report = check_path(archive, targets, allow=allow, layer=parsed.name)
        if also is not None:
            also(archive)
        return report


def _layer_location(arn: str, *, region: str, profile: str | None, endpoint_url: str | None,
                    owner: str, name: str, version: int) -> str:
    # boto3 costs ~250 ms to import and set up (docs/lambda-facts.md): only this path pays.
    import botocore.exceptions

    from lambdalayer.aws.client import error_code, make_client, translate_aws_error

    client = make_client("lambda", region=region, profile=profile, endpoint_url=endpoint_url)
    try:
        response = client.get_layer_version_by_arn(Arn=arn)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if error_code(exc) in {"AccessDeniedException", "AccessDenied"}:
            raise AwsError(
                f"This account cannot read the layer {arn}: AWS denied "
                "lambda:GetLayerVersion.",
                hint=f"A layer is private to its owner (account {owner}) until the owner "
                     "grants access: aws lambda add-layer-version-permission --layer-name "
                     f"{name} --version-number {version} --statement-id allow-reader "
                     "--action lambda:GetLayerVersion --principal YOUR_ACCOUNT_ID "
                     f"--region {region}. Or ask the owner for the zip and check that.",
            ) from exc
        raise translate_aws_error(exc, region=region,
                                  resource=f"layer version {arn}") from exc
    location = response.get("Content", {}).get("Location")
    if not isinstance(location, str) or not location:
        raise AwsError(f"AWS returned no download location for {arn}.")
    return location


def _download(url: str, destination: Path, *, arn: str) -> None:
    """Stream the presigned URL to `destination`, capped at MAX_DOWNLOAD bytes."""
    import http.client
    import urllib.error

    from lambdalayer.common.deadline import (
        BodyTooLarge,
        Deadline,
        DeadlineExceeded,
        deadline_seconds,
        open_url,
        read_body,
    )

    if not url.startswith(("https://", "http://")):
        raise AwsError(f"AWS returned an unexpected download location for {arn}.")
    # A total deadline, not only a per-read timeout: a server trickling a byte a
    # minute must not hold `check` for hours.
    seconds = deadline_seconds(DOWNLOAD_DEADLINE)
    try:
        with Deadline(seconds, url) as deadline, open_url(url, deadline) as response, \
                destination.open("wb") as out:
            read_body(response, deadline, cap=MAX_DOWNLOAD, sink=out, chunk=1 << 20)
    except BodyTooLarge:
        raise UsageError(f"The layer {arn} is larger than {MAX_DOWNLOAD:,} bytes; no Lambda "
                         "layer can be that big.") from None
    except DeadlineExceeded as exc:
        raise AwsError(f"Downloading the layer {arn} stopped: {exc}.",
                       hint="Try again on a faster connection.") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError,
            http.client.HTTPException) as exc:  # IncompleteRead, RemoteDisconnected...
        raise AwsError(f"Could not download the layer {arn}: {exc}",
                       hint="The download link is valid for 10 minutes; try again.") from exc
    except OSError as exc:
        raise UsageError(f"Could not save the layer {arn} to {destination}: {exc}") from exc


def download_layer(url: str, destination: Path, *, arn: str) -> None:
    """Save a layer version's Content.Location (http/https) to `destination`, capped."""
    _download(url, destination, arn=arn)
