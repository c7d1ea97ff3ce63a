"""Lambda's 262,144,000-byte rule at attach time: a function's code plus all its layers.

Not a layer tree's sizes (reports/sizing.py measures those, before a zip exists): the
unzipped total of zips already published, read from manifests, the cache or AWS.

Lambda refuses (or later fails to deploy) a function whose code and layers add
up to more than 262,144,000 bytes unzipped. Before `attach` changes anything it
sums, for the code and every layer the function will have:

1. a manifest in the build output directory (`unzipped_size`) when that
   layer version was published from it (matched by ARN or by CodeSha256);
2. else a figure cached by CodeSha256 in lambdalayer's cache directory;
3. else the published artifact itself (GetFunction Code.Location,
   GetLayerVersion Content.Location): only its central directory is read,
   with an HTTP range request for the end of the zip (a bounded download when
   the server ignores ranges); nothing is extracted. The figure is cached.

What cannot be measured (no permission, no usable location) is reported by
name instead of guessed.
"""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lambdalayer.archive.manifest import find_manifests, read_manifest
from lambdalayer.aws.arns import parse_layer_arn
from lambdalayer.aws.client import error_code
from lambdalayer.common.cache import SIZES_DIR, cache_root
from lambdalayer.common.deadline import (
    BodyTooLarge,
    Deadline,
    DeadlineExceeded,
    deadline_seconds,
    open_url,
    read_body,
)
from lambdalayer.common.errors import UsageError
from lambdalayer.common.limits import UNZIPPED_LIMIT

# The end of a zip: the end-of-central-directory record and the longest comment.
_TAIL = 22 + 65_535 + 20 + 56
# A zip's central directory is ~100 bytes per entry; 64 MB is far past any layer.
_MAX_DIRECTORY = 64 << 20
# Without range support the whole zip comes down: a function or layer zip is
# below the unzipped limit, so this bounds the download.
_MAX_DOWNLOAD = UNZIPPED_LIMIT + (16 << 20)
_MAX_ENTRIES = 200_000
# One measurement (a zip's end, rarely the whole zip) in all, enforced during reads.
SIZE_DEADLINE = 120.0


@dataclass(frozen=True, kw_only=True)
class Part:
    """The function's code or one layer: its unzipped size, or why it is unknown."""

    label: str  # "code" or the layer version ARN
    size: int | None
    source: str  # "manifest", "cache", "artifact", or the reason it is unknown


@dataclass(frozen=True, kw_only=True)
class FunctionSize:
    """What a function would hold unzipped after the attach."""

    function: str
    parts: tuple[Part, ...]

    @property
    def known(self) -> int:
        return sum(p.size for p in self.parts if p.size is not None)

    @property
    def unknown(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.size is None)

    @property
    def over(self) -> bool:
        return self.known > UNZIPPED_LIMIT

    def breakdown(self) -> str:
        """One line per part, largest first: `  123,456,789  LABEL`."""
        rows = sorted(self.parts, key=lambda p: -(p.size or 0))
        return "\n".join(
            f"  {p.size:>13,}  {p.label}" if p.size is not None
            else f"  {'unknown':>13}  {p.label} ({p.source})" for p in rows)


class _NeedBytes(Exception):
    """The zip reader asked for bytes before the part fetched so far."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class _Tail(io.RawIOBase):
    """A file of `length` bytes of which only the end (from `start`) is known.

    zipfile reads nothing but the end record and the central directory when it
    opens an archive, so that is all it needs.
    """

    def __init__(self, length: int, start: int, data: bytes) -> None:
        self.length, self.start, self.data, self.position = length, start, data, 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        if self.position < self.start:
            raise _NeedBytes(self.position)
        end = self.length if size is None or size < 0 else min(self.length, self.position + size)
        chunk = self.data[self.position - self.start:end - self.start]
        self.position += len(chunk)
        return chunk


def unzipped_size(archive: Any) -> int:
    """The declared size of every file in a zip (what Lambda counts), from its directory."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise UsageError(f"not a readable zip ({exc})") from exc
    if len(infos) > _MAX_ENTRIES:
        raise UsageError(f"{len(infos)} entries is more than any Lambda zip holds")
    return sum(info.file_size for info in infos if not info.is_dir())


def _get(url: str, first: int, last: int, deadline: Deadline) -> Any:
    request = urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"})
    return open_url(request, deadline)


def _read_capped(response: Any, cap: int, deadline: Deadline) -> bytes:
    try:
        return read_body(response, deadline, cap=cap)
    except BodyTooLarge:
        raise UsageError(f"more than {cap:,} bytes") from None


def read_remote_size(url: str) -> int:
    """Unzipped size of the zip at `url`, reading only its end when the server allows.

    Within SIZE_DEADLINE seconds in all (common/deadline.py); past it, UsageError
    naming the host."""
    if urlparse(url).scheme not in {"http", "https"}:
        raise UsageError("no HTTP download location")
    try:
        with Deadline(deadline_seconds(SIZE_DEADLINE), url) as deadline:
            return _remote_size(url, deadline)
    except DeadlineExceeded as exc:
        raise UsageError(str(exc)) from exc


def _remote_size(url: str, deadline: Deadline) -> int:
    with _get_suffix(url, deadline) as response:
        if response.status != 206:
            return unzipped_size(io.BytesIO(_read_capped(response, _MAX_DOWNLOAD, deadline)))
        total = _content_length(response.headers.get("Content-Range", ""))
        tail = _read_capped(response, _TAIL, deadline)
    start = total - len(tail)
    try:
        return unzipped_size(_Tail(total, start, tail))
    except _NeedBytes as need:
        if start - need.offset > _MAX_DIRECTORY:
            raise UsageError("its central directory is implausibly large") from None
        with _get(url, need.offset, start - 1, deadline) as response:
            head = _read_capped(response, start - need.offset, deadline)
        if response.status != 206 or len(head) != start - need.offset:
            raise UsageError("the server answered the range request wrongly") from None
        return unzipped_size(_Tail(total, need.offset, head + tail))


def _get_suffix(url: str, deadline: Deadline) -> Any:
    request = urllib.request.Request(url, headers={"Range": f"bytes=-{_TAIL}"})
    return open_url(request, deadline)


_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)")


def _content_length(content_range: str) -> int:
    match = _RANGE.match(content_range.strip())
    if match is None:
        raise UsageError(f"unexpected Content-Range {content_range!r}")
    return int(match.group(1))


def _cache_file(code_sha256: str) -> Path:
    digest = base64.b64decode(code_sha256).hex()
    return cache_root() / SIZES_DIR / digest[:2] / f"{digest}.json"


def cached_size(code_sha256: str) -> int | None:
    """The figure measured earlier for these bytes, if any (never raises)."""
    try:
        data = json.loads(_cache_file(code_sha256).read_text("utf-8"))
        size = data["unzipped_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return size if isinstance(size, int) and size >= 0 else None


def remember_size(code_sha256: str, size: int) -> None:
    """Cache a measured figure; a cache that cannot be written is skipped silently."""
    from lambdalayer.common.cache import ensure_root
    from lambdalayer.common.fileio import write_atomic

    try:
        ensure_root(cache_root())  # private and marked, like the member cache
        write_atomic(_cache_file(code_sha256),
                     json.dumps({"unzipped_size": size}).encode("utf-8"))
    except (OSError, UsageError, ValueError):
        return


@dataclass(frozen=True, kw_only=True)
class _Known:
    by_arn: dict[str, int]
    by_sha: dict[str, int]


def _from_manifests(dist: Path | None) -> _Known:
    by_arn: dict[str, int] = {}
    by_sha: dict[str, int] = {}
    for path in find_manifests(dist) if dist is not None and dist.is_dir() else []:
        try:
            manifest = read_manifest(path)
        except UsageError:
            continue
        by_sha[manifest.code_sha256] = manifest.unzipped_size
        for entry in manifest.published:
            by_arn[entry.arn] = manifest.unzipped_size
    return _Known(by_arn=by_arn, by_sha=by_sha)


def _emulated(client: Any, location: str) -> bool:
    """An emulator (a custom endpoint) handing out AWS S3 links it does not serve."""
    endpoint = str(getattr(client.meta, "endpoint_url", "") or "")
    host = urlparse(location).hostname or ""
    return "amazonaws.com" not in endpoint and host.endswith("amazonaws.com")


def _measure(client: Any, label: str, code_sha256: str | None, location: str | None,
             known: _Known) -> Part:
    if code_sha256 and code_sha256 in known.by_sha:
        return Part(label=label, size=known.by_sha[code_sha256], source="manifest")
    if code_sha256:
        cached = cached_size(code_sha256)
        if cached is not None:
            return Part(label=label, size=cached, source="cache")
    if not location:
        return Part(label=label, size=None, source="AWS gave no download location")
    if _emulated(client, location):
        return Part(label=label, size=None,
                    source="the endpoint's download location is not served")
    try:
        size = read_remote_size(location)
    except UsageError as exc:
        return Part(label=label, size=None, source=f"could not read it: {exc.message}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Part(label=label, size=None, source=f"could not download it: {exc}")
    if code_sha256:
        remember_size(code_sha256, size)
    return Part(label=label, size=size, source="artifact")


def _denied(exc: BaseException, action: str) -> str:
    code = error_code(exc) or type(exc).__name__
    return f"{action} failed: {code}"


def _code_part(client: Any, function: str, known: _Known) -> Part:
    try:
        response = client.get_function(FunctionName=function)
    except Exception as exc:  # botocore errors: a warning, not a failure
        return Part(label="code", size=None, source=_denied(exc, "lambda:GetFunction"))
    config = response.get("Configuration", {})
    location = response.get("Code", {}).get("Location")
    return _measure(client, "code", config.get("CodeSha256"), location, known)


def _layer_part(client: Any, arn: str, known: _Known) -> Part:
    if arn in known.by_arn:
        return Part(label=arn, size=known.by_arn[arn], source="manifest")
    parsed = parse_layer_arn(arn)
    if parsed is None or parsed.version is None:
        return Part(label=arn, size=None, source="not a layer version ARN")
    try:
        detail = client.get_layer_version(LayerName=parsed.layer_arn,
                                          VersionNumber=parsed.version)
    except Exception as exc:  # another account's layer: usually no access
        return Part(label=arn, size=None, source=_denied(exc, "lambda:GetLayerVersion"))
    content = detail.get("Content", {})
    return _measure(client, arn, content.get("CodeSha256"), content.get("Location"), known)


def function_size(client: Any, function: str, layers: Sequence[str], *,
                  dist: Path | None = None) -> FunctionSize:
    """Measure `function`'s code and `layers` (the list it will have). Never raises for
    what it cannot measure: that part's size is None and its source says why."""
    known = _from_manifests(dist)
    parts = [_code_part(client, function, known)]
    parts.extend(_layer_part(client, arn, known) for arn in layers)
    return FunctionSize(function=function, parts=tuple(parts))
