"""Layer ARNs and names: parsing and validation (pure, no AWS calls)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambdalayer.common.errors import UsageError

# botocore's lambda model: LayerName is 1-140 chars of [a-zA-Z0-9-_] (or a layer ARN);
# the ARN of a version is `arn:<partition>:lambda:<region>:<account>:layer:<name>:<n>`.
_LAYER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,140}$")
_LAYER_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":layer:(?P<name>[a-zA-Z0-9_-]+)(?::(?P<version>\d+))?$"
)


@dataclass(frozen=True, kw_only=True)
class LayerArn:
    """A parsed layer ARN; `version` is None for the unversioned layer ARN."""

    partition: str
    region: str
    account: str
    name: str
    version: int | None

    @property
    def layer_arn(self) -> str:
        """The ARN of the layer itself (no version): what identifies "the same layer"."""
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:layer:{self.name}"

    def __str__(self) -> str:
        return self.layer_arn if self.version is None else f"{self.layer_arn}:{self.version}"


def parse_layer_arn(text: str) -> LayerArn | None:
    """The parts of a layer (version) ARN, or None when `text` is not one."""
    match = _LAYER_ARN.match(text.strip())
    if match is None:
        return None
    version = match["version"]
    return LayerArn(partition=match["partition"], region=match["region"],
                    account=match["account"], name=match["name"],
                    version=int(version) if version is not None else None)


def layer_identity(version_arn: str) -> str:
    """The unversioned layer ARN of a layer version ARN (the ARN itself if unparsable)."""
    parsed = parse_layer_arn(version_arn)
    return parsed.layer_arn if parsed else version_arn


LAYER_NAME_RULE = "1-140 characters, each an ASCII letter, a digit, '-' or '_'"


def check_layer_name(name: str, *, hint: str = "Choose one with --layer-name.") -> str:
    """`name` if Lambda accepts it as a layer name; UsageError saying how to fix it otherwise.

    The same rule keeps a name from becoming a path: the zip is written as OUT/NAME.zip, so
    `../x`, `a/b` or a name past the filesystem's 255 bytes are refused before anything is
    written (docs/safety.md)."""
    if not _LAYER_NAME.fullmatch(name):  # not .match: `$` also matches before a newline
        shown = name if len(name) <= 60 else f"{name[:57]}..."
        raise UsageError(f"{shown!r} cannot be a Lambda layer name: Lambda takes "
                         f"{LAYER_NAME_RULE}.", hint=hint)
    return name
