"""Ask the package index what it offers for a project (for error messages only)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

DEFAULT_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True, kw_only=True)
class IndexOffer:
    """The files of a project's newest release."""

    name: str
    version: str
    wheel_platforms: tuple[str, ...]  # distinct platform tags of its wheels
    has_sdist: bool


def index_url() -> str:
    # The same variables uv reads, so the message describes the index uv used.
    return (os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL")
            or DEFAULT_INDEX).rstrip("/")


def newest_offer(project: str, *, timeout: float = 10.0) -> IndexOffer | None:
    """What the newest release offers, or None when the index cannot tell us."""
    name = canonicalize_name(project)
    request = urllib.request.Request(
        f"{index_url()}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    by_version: dict[Version, list[str]] = {}
    for entry in data.get("files", []):
        filename = entry.get("filename", "")
        if entry.get("yanked"):
            continue
        try:
            if filename.endswith(".whl"):
                version = parse_wheel_filename(filename)[1]
            else:
                version = parse_sdist_filename(filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        by_version.setdefault(version, []).append(filename)
    if not by_version:
        return None
    newest = max(v for v in by_version if not v.is_prerelease) if any(
        not v.is_prerelease for v in by_version) else max(by_version)
    platforms: set[str] = set()
    has_sdist = False
    for filename in by_version[newest]:
        if filename.endswith(".whl"):
            for tag in parse_wheel_filename(filename)[3]:
                platforms.add(tag.platform)
        else:
            has_sdist = True
    return IndexOffer(name=name, version=str(newest), wheel_platforms=tuple(sorted(platforms)),
                      has_sdist=has_sdist)
