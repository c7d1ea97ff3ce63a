"""The one seam between lambdalayer and AWS: client creation and error translation.

`make_client` builds a boto3 client from boto3's standard credential chain
(never from our own options; credentials are never printed), with botocore's
"standard" retry mode so throttling (TooManyRequestsException) is retried with
backoff. boto3 itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>.

`translate_aws_error` turns the botocore failures a user can fix (no
credentials, unknown region, access denied, missing function or layer) into one
`AwsError` message each; `aws_errors()` applies it to a block.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlparse

from lambdalayer import __version__
from lambdalayer.common.errors import AwsError, LambdaLayerError

# Hosts of AWS's own endpoints; any other host means an override (moto,
# LocalStack, a VPC endpoint) where an unlisted region name is legitimate.
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".c2s.ic.gov",
                      ".sc2s.sgov.gov")
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                  "AuthorizationError"}
_BAD_CREDENTIALS = {"UnrecognizedClientException", "InvalidSignatureException",
                    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                    "ExpiredTokenException", "InvalidAccessKeyId"}


class ClientFactory(Protocol):
    """Makes a boto3 client for `service` in `region` (None: the profile's default region)."""

    def __call__(self, service: str, *, region: str | None) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class AwsSettings:
    """The AWS options every command shares. None means "boto3's default chain"."""

    profile: str | None = None
    endpoint_url: str | None = None

    def factory(self) -> ClientFactory:
        """A ClientFactory bound to these settings (safe to call from worker threads)."""
        settings = self

        def make(service: str, *, region: str | None) -> Any:
            return make_client(service, region=region, profile=settings.profile,
                               endpoint_url=settings.endpoint_url)

        return make


def make_client(
    service: str,
    *,
    region: str | None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A boto3 client for `service`, or AwsError naming what is missing.

    A new Session per call: boto3 Sessions are not thread-safe, and publish
    makes clients from several threads. Checks up front that credentials and a
    region exist, so nothing is built or uploaded before a certain failure.
    """
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    config = Config(retries={"mode": "standard"}, user_agent_extra=f"lambdalayer/{__version__}")
    try:
        session = boto3.Session(profile_name=profile)
        client = session.client(service, region_name=region, endpoint_url=endpoint_url,
                                config=config)
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_aws_error(exc, region=region) from exc
    actual_region = client.meta.region_name
    if credentials is None:
        raise translate_aws_error(botocore.exceptions.NoCredentialsError(),
                                  region=actual_region)
    _check_region(actual_region, client.meta.endpoint_url)
    return client


def _check_region(region: str, endpoint_url: str) -> None:
    """Refuse a region botocore has never heard of when the endpoint is AWS's own.

    Without this a typo (`us-est-1`) surfaces as a DNS failure after retries.
    """
    host = urlparse(endpoint_url).hostname or ""
    if not host.endswith(_AWS_HOST_SUFFIXES):
        return
    known = known_regions()
    if region not in known:
        raise AwsError(
            f"Unknown AWS region {region!r}{_did_you_mean(region, known)}.",
            hint="Pass --region with a region like us-east-1. If the region is new, "
                 "upgrade boto3 (`pip install -U boto3`).",
        )


@cache
def known_regions() -> frozenset[str]:
    """Every region in botocore's endpoint data, across all partitions."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(region for partition in data.get("partitions", [])
                     for region in partition.get("regions", {}))


def _did_you_mean(name: str, choices: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def error_code(exc: BaseException | None) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def translate_aws_error(
    exc: BaseException, *, region: str | None = None, resource: str | None = None
) -> LambdaLayerError:
    """One clear AwsError for a botocore failure. `resource` names what was asked for
    ("function 'x'", "layer 'y'") so a not-found message says which thing is missing.
    Unrecognised botocore errors keep AWS's own message; never includes credentials.
    """
    import botocore.exceptions as bce

    where = f" in {region}" if region else ""
    if isinstance(exc, LambdaLayerError):
        return exc
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return AwsError(
            "No AWS credentials found.",
            hint="Configure them the usual way: `aws configure`, AWS_PROFILE / --profile, "
                 "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on CI, an OIDC role).",
        )
    if isinstance(exc, bce.ProfileNotFound):
        return AwsError(f"AWS profile {exc.kwargs.get('profile')!r} is not configured.",
                        hint="List profiles with `aws configure list-profiles`.")
    if isinstance(exc, bce.NoRegionError):
        return AwsError("No AWS region is configured.",
                        hint="Pass --region, or set AWS_REGION (or `region` in ~/.aws/config).")
    if isinstance(exc, bce.InvalidRegionError):
        return AwsError(f"{region!r} is not a valid AWS region name.",
                        hint="Pass --region with a region like us-east-1.")
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
        return AwsError(f"Could not reach AWS{where}: {exc}",
                        hint="Check the network, --region and --endpoint-url / AWS_ENDPOINT_URL.")
    if isinstance(exc, bce.WaiterError):
        return AwsError(f"Gave up waiting{where}: {exc}")
    code = error_code(exc)
    message = _aws_message(exc)
    if code in _ACCESS_DENIED:
        return AwsError(f"Access denied{where}: {message}",
                        hint="The identity in use lacks an IAM permission for this call.")
    if code in _BAD_CREDENTIALS:
        return AwsError(f"AWS rejected the credentials ({code}): {message}",
                        hint="They are invalid or expired; refresh them (e.g. `aws sso login`).")
    if code == "ResourceNotFoundException" or code == "NoSuchBucket":
        subject = resource or "The resource"
        return AwsError(f"{subject[0].upper()}{subject[1:]} was not found{where}.",
                        hint=f"AWS said: {message}. Check the name and --region.")
    if isinstance(exc, bce.ClientError):
        return AwsError(f"AWS error{where} ({code}): {message}")
    if isinstance(exc, bce.BotoCoreError):
        return AwsError(f"AWS error{where}: {exc}")
    raise TypeError(f"not an AWS error: {exc!r}")


def _aws_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    text = ""
    if isinstance(response, dict):
        text = str(response.get("Error", {}).get("Message", "") or response.get("message", ""))
    if not text:
        text = re.sub(r"^An error occurred \([^)]*\) when calling the \w+ operation: ", "",
                      str(exc))
    return _summarise_page(text, response if isinstance(response, dict) else {})


def _summarise_page(text: str, response: dict[str, Any]) -> str:
    """A proxy or a wrong --endpoint-url answers with a web page, not an AWS error: say
    which HTTP status and page title came back instead of printing the page."""
    if not re.match(r"\s*<(!doctype|html|head|body|\?xml)", text, re.IGNORECASE) or (
            "<html" not in text.lower()):
        return text
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    title = re.search(r"<title>\s*(.*?)\s*</title>", text, re.IGNORECASE | re.DOTALL)
    named = f" titled {title.group(1)[:80]!r}" if title else ""
    return (f"HTTP {status or 'error'}: the endpoint answered with a web page{named}, not "
            "an AWS response (a proxy, a maintenance page or the wrong --endpoint-url?)")


@contextmanager
def aws_errors(*, region: str | None = None, resource: str | None = None) -> Iterator[None]:
    """Translate botocore failures raised in the block into AwsError."""
    import botocore.exceptions

    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise translate_aws_error(exc, region=region, resource=resource) from exc


def region_of(client: Any) -> str:
    """The region a client talks to."""
    return str(client.meta.region_name)
