"""The AWS SDK each Lambda Python runtime ships (`runtime_sdk.toml`, from AWS's table).

A layer built with `--exclude :runtime:` leaves boto3 and its dependencies out for the
runtime to provide; its proof places the runtime's releases where Lambda has them
(resolve/runtime_sdk.py installs them, proof/runner.py places them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lambdalayer.common._toml import loads as toml_loads

# Where the proof's box shows the SDK. Lambda keeps it in /var/runtime (python3.9-3.10)
# or /var/lang/lib/python3.X/site-packages (3.11 on), in both cases after the layer on
# sys.path (docs/lambda-facts.md); the proof keeps that order.
SDK_INSIDE = "/var/runtime"


@dataclass(frozen=True, kw_only=True)
class RuntimeSdk:
    """The SDK standing in for a runtime's: `folder` on this host (None when it could
    not be had, `reason` says why) and which release it is."""

    runtime: str
    folder: Path | None
    boto3: str | None  # the release; None: the newest (the table has no entry)
    unverified: bool = False
    reason: str | None = None

    def describe(self) -> str:
        """What the proof placed, e.g. "the runtime's boto3 1.34.126? at /var/runtime"."""
        if self.boto3 is None:
            return (f"the newest boto3 at {SDK_INSIDE} (AWS's table lists none for "
                    f"{self.runtime} here)")
        return f"the runtime's boto3 {self.boto3}{'?' if self.unverified else ''} at {SDK_INSIDE}"


@cache
def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("lambdalayer.targets").joinpath("runtime_sdk.toml").read_text(
        "utf-8")
    runtimes = toml_loads(text).get("runtimes", {})
    return {str(name): dict(entry) for name, entry in runtimes.items()}


def listed_release(runtime: str) -> tuple[str | None, str | None, bool]:
    """(boto3, botocore, unverified) as AWS's table lists them for `runtime`; (None,
    None, False) for a runtime it does not list."""
    entry = _table().get(runtime)
    if entry is None:
        return None, None, False
    return str(entry["boto3"]), str(entry["botocore"]), bool(entry.get("unverified"))
