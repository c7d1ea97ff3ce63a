"""Ask the package index what it offers for a project (for error messages and the
newest-release check; answers are kept as the index allows: index_cache.py).

An index answer is input from a server, never trusted (docs/trust.md, "What an index may
answer"): only http(s) URLs are opened, a page is read only when it is at most
_MAX_RESPONSE bytes, nested at most _MAX_DEPTH levels and lists file names a file system
could hold; anything else is refused (`Refused`) with a reason that names it.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from lambdalayer.common.deadline import (
    BodyTooLarge,
    Deadline,
    DeadlineExceeded,
    deadline_seconds,
    open_url,
    read_body,
)
from lambdalayer.common.redact import redact_text, redact_url, split_credentials
from lambdalayer.resolve import index_cache
from lambdalayer.resolve.index_settings import IndexSettings, QueryPlan, query_plan

_MAX_RESPONSE = 32 * 1024 * 1024  # a project page larger than this is not read
_MAX_DEPTH = 10  # a PEP 691 page nests 4 levels ({files: [{hashes: {}}]})
_MAX_FILENAME = 255  # no file system holds a longer file name
_HTTP = ("http", "https")
# Where systems keep their CA bundle, for a Python built without one (python.org's
# macOS installer until "Install Certificates.command" is run).
_SYSTEM_CA_FILES = ("/etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt",
                    "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass(frozen=True, kw_only=True)
class IndexOffer:
    """The files of a project's newest release."""

    name: str
    version: str
    wheel_platforms: tuple[str, ...]  # distinct platform tags of its wheels
    has_sdist: bool
    wheel_tags: tuple[str, ...] = ()  # each wheel's tag triple, from its file name
    requires_python: str | None = None  # the release's Requires-Python, when the index says
    wheel_files: tuple[str, ...] = ()  # its wheels' file names, sorted


@dataclass(frozen=True, kw_only=True)
class IndexAnswer:
    """What the indexes said about a project: an offer, or why there is none."""

    offer: IndexOffer | None
    note: str | None = None  # why the index could not be asked (shown in the message)
    refused: bool = False  # the index answered with what lambdalayer does not read


def _ssl_contexts() -> tuple[ssl.SSLContext, ...]:
    """Made once per process and CA setting (loading the CA certificates costs ~30 ms
    each, with the GIL held); an SSLContext is safe to share between threads."""
    return _contexts_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _contexts_for(_cert_file: str | None, _cert_dir: str | None) -> tuple[ssl.SSLContext, ...]:
    contexts = [ssl.create_default_context()]
    contexts += [ssl.create_default_context(cafile=path) for path in _SYSTEM_CA_FILES
                 if os.path.isfile(path)]
    return tuple(contexts)


class _Unavailable(Exception):
    pass


class _Refused(_Unavailable):
    """The index answered, with something lambdalayer does not read (a page too large,
    too deep, not JSON; a URL that is not http(s)): said to you, never a traceback."""


def scheme_of(url: str) -> str:
    """The URL's scheme, lower case ("" when it has none); never raises."""
    head, colon, _ = url.partition(":")
    return head.lower() if colon and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else ""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects that keep the credentials at home (docs/trust.md).

    urllib copies every header, Authorization included, onto the redirected request,
    whatever host it goes to. Here the header goes only to the same origin (scheme,
    host, port); a move from https to anything else is refused, as is any scheme
    but http(s).
    """

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        old, new = _origin(req.full_url), _origin(newurl)
        if new[0] not in _HTTP or (old[0] == "https" and new[0] != "https"):
            raise _Unavailable(f"the index redirected from {old[0]}:// to "
                               f"{redact_url(newurl)}, which lambdalayer does not follow")
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and new != old:
            redirected.remove_header("Authorization")
        return redirected


def _fetch(url: str, *, deadline: Deadline) -> bytes | None:
    """The JSON project page at `url` (credentials sent as a header), None on 404.

    Raises _Unavailable with a redacted reason for every other failure; `deadline`
    holds during the reads (common/deadline.py).
    """
    bare, auth = split_credentials(url)
    if scheme_of(bare) not in _HTTP:  # a file:// index of yours is uv's to read
        raise _Unavailable(f"lambdalayer asks only http(s) indexes, not "
                           f"{scheme_of(bare) or 'scheme-less'} ones")
    kept = index_cache.fresh(bare, auth)
    if kept is not None:  # the index said this answer stays fresh for now
        return kept
    headers = {"Accept": "application/vnd.pypi.simple.v1+json",
               **index_cache.validators(bare, auth)}
    if auth:
        headers["Authorization"] = auth
    failure = "no answer"
    for context in _ssl_contexts():
        try:
            request = urllib.request.Request(bare, headers=headers)
            with open_url(request, deadline, context=context,
                          handlers=(_GuardedRedirects(),)) as response:
                body = read_body(response, deadline, cap=_MAX_RESPONSE)
                return index_cache.remember(bare, auth, response.headers, body)
        except BodyTooLarge:
            raise _Refused(f"its answer is larger than {_MAX_RESPONSE:,} bytes") from None
        except DeadlineExceeded as exc:
            raise _Unavailable(str(exc)) from None
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and (kept := index_cache.not_modified(bare, auth,
                                                                      exc.headers)) is not None:
                return kept
            if exc.code == 404:
                return None
            raise _Unavailable(f"the index answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                failure = ("this Python cannot verify the index's certificate (no CA "
                           "certificates: on macOS run Python's 'Install Certificates.command')")
                continue  # try the system's CA bundle
            raise _Unavailable(f"the index could not be reached ({exc.reason})") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # InvalidURL, IncompleteRead, RemoteDisconnected, timeouts, resets...
            raise _Unavailable(f"the index could not be read ({type(exc).__name__})") from None
    raise _Unavailable(failure)


def project_files(project: str, plan: QueryPlan, *, offline: bool = False,
                  timeout: float = 30.0) -> tuple[str, str | None, list[dict[str, Any]]]:
    """(page URL, credentials header, file entries) of the first index, in uv's order,
    that lists `project` (PEP 691). Offline, only answers kept from earlier runs are
    read. Raises _Unavailable (a redacted reason) when no index can say."""
    name = canonicalize_name(project)
    for url in plan.urls:
        page = f"{url}/{name}/"
        bare, auth = split_credentials(page)
        if offline:
            body = index_cache.kept(bare, auth)
            if body is None:
                raise _Unavailable("offline, and the index's page was not kept")
        try:
            if not offline:
                with Deadline(deadline_seconds(timeout), url) as deadline:
                    body = _fetch(page, deadline=deadline)
            if body is None:
                continue
            return bare, auth, read_page(body)
        except _Refused as exc:
            raise _Refused(f"the index {redact_url(url)} answered about {name} with what "
                           f"lambdalayer does not read: {exc}") from None
    raise _Unavailable(f"no index lists {name}")


_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # a backslash and the byte it escapes
_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, a string has no quote inside
_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def _nested_within(body: bytes, depth: int) -> bool:
    """Whether the JSON text `body` nests at most `depth` arrays and objects, told in
    linear time without parsing (json.loads recurses once per level: 500,000 `[` are a
    RecursionError). Brackets inside strings do not count; each pass removes the
    innermost empty pairs, so a text of depth d is empty after d passes."""
    shape = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    for _ in range(depth):
        if not shape:
            return True
        shape = _PAIR.sub(b"", shape)
    return not shape


def read_page(body: bytes) -> list[dict[str, Any]]:
    """The file entries of a PEP 691 project page, each with a string file name.

    Raises Refused (its reason reads after "the page"/"it") when the page is nested
    deeper than _MAX_DEPTH, is not a JSON object with a list of files, or names a file
    longer than _MAX_FILENAME characters (a 5000-digit version is a ValueError in
    packaging)."""
    if not _nested_within(body, _MAX_DEPTH):
        raise _Refused(f"its page is nested deeper than {_MAX_DEPTH} levels "
                       "(or its brackets do not pair)")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # ValueError: also UnicodeDecodeError, long ints
        raise _Refused("its page is not JSON (PEP 691)") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise _Refused("its page lists no files")
    entries = [f for f in files if isinstance(f, dict) and isinstance(f.get("filename"), str)]
    for entry in entries:
        if len(entry["filename"]) > _MAX_FILENAME:
            raise _Refused(f"its page lists a file name of "
                           f"{len(entry['filename']):,} characters (a file name has at most "
                           f"{_MAX_FILENAME})")
    return entries


def download(url: str, auth: str | None, sink: Any, *, cap: int, timeout: float) -> None:
    """Write the file at `url` to `sink` (at most `cap` bytes, within `timeout` seconds in
    all), with the index query's rules: http(s) only (Refused otherwise: an index's
    `file:///dev/zero` or FIFO is never opened), the credentials header only to its own
    origin, redirects guarded (_GuardedRedirects). Raises _Unavailable with a redacted
    reason."""
    if scheme_of(url) not in _HTTP:
        raise _Refused(f"its URL is a {scheme_of(url) or 'scheme-less'} URL, which "
                       "lambdalayer never opens (only http and https)")
    headers = {"Authorization": auth} if auth else {}
    failure = "no answer"
    for context in _ssl_contexts():
        try:
            with Deadline(deadline_seconds(timeout), url) as deadline:
                request = urllib.request.Request(url, headers=headers)
                with open_url(request, deadline, context=context,
                              handlers=(_GuardedRedirects(),)) as response:
                    read_body(response, deadline, cap=cap, sink=sink)
                    return
        except BodyTooLarge:
            raise _Unavailable(f"the file is larger than {cap:,} bytes") from None
        except DeadlineExceeded as exc:
            raise _Unavailable(str(exc)) from None
        except urllib.error.HTTPError as exc:
            raise _Unavailable(f"the index answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                failure = "this Python cannot verify the index's certificate"
                continue
            raise _Unavailable(f"the file could not be fetched ({exc.reason})") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _Unavailable(f"the file could not be read ({type(exc).__name__})") from None
    raise _Unavailable(failure)


Unavailable = _Unavailable  # for pipeline/wheel_streams/fetch.py
Refused = _Refused
HTTP_SCHEMES = _HTTP


def ask_once(project: str, plan: QueryPlan) -> Future[IndexAnswer]:
    """ask_indexes in the background, once per run and (plan, project): the newest-release
    check and resolve/still_current.py share the answers."""
    name = canonicalize_name(project)
    return index_cache.once((plan, name), functools.partial(ask_indexes, name, plan))


def ask_indexes(project: str, plan: QueryPlan, *, timeout: float = 20.0) -> IndexAnswer:
    """What the first index (in uv's order) that knows `project` offers.

    Never raises: an index that cannot be asked becomes a note, redacted.
    """
    name = canonicalize_name(project)
    local = _find_links_files(name, plan.find_links)
    if plan.skipped:
        if local:
            return IndexAnswer(offer=_newest(name, {"files": local}))
        return IndexAnswer(offer=None, note=f"The index was not asked: {plan.skipped}.")
    started = time.monotonic()
    for url in plan.urls:
        try:
            # One total for all the indexes asked: this only improves an error message.
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                raise _Unavailable("no time was left to ask it")
            with Deadline(deadline_seconds(left), url) as deadline:
                body = _fetch(f"{url}/{name}/", deadline=deadline)
            if body is None:
                continue
            files = read_page(body)
        except _Refused as exc:
            return IndexAnswer(offer=None, refused=True, note=redact_text(
                f"The index {redact_url(url)} answered about {name} with what lambdalayer "
                f"does not read: {exc}."))
        except _Unavailable as exc:
            return IndexAnswer(offer=None, note=redact_text(
                f"The index {redact_url(url)} could not be asked: {exc}."))
        offer = _newest(name, {"files": [*files, *local]})
        return IndexAnswer(offer=offer, note=None if offer else
                           f"The index {redact_url(url)} lists no usable files for {name}.")
    if local:
        return IndexAnswer(offer=_newest(name, {"files": local}))
    return IndexAnswer(offer=None, note=f"No index lists {name}.")


def _find_links_files(name: str, directories: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The files of `name` in local --find-links directories, as index entries."""
    found: list[dict[str, Any]] = []
    for directory in directories:
        try:
            entries = sorted(p.name for p in directory.iterdir() if p.is_file())
        except OSError:
            continue
        for filename in entries:
            try:
                if filename.endswith(".whl"):
                    project = parse_wheel_filename(filename)[0]
                elif filename.endswith((".tar.gz", ".zip")):
                    project = parse_sdist_filename(filename)[0]
                else:
                    continue
            except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
                continue
            if canonicalize_name(project) == name:
                found.append({"filename": filename})
    return found


def newest_offer(project: str, *, timeout: float = 20.0) -> IndexOffer | None:
    """What the newest release on the default index configuration offers, or None."""
    return ask_indexes(project, query_plan(IndexSettings()), timeout=timeout).offer


def _newest(name: str, data: dict[str, Any]) -> IndexOffer | None:
    by_version: dict[Version, list[str]] = {}
    requires_python: dict[Version, str] = {}
    files = data.get("files")
    for entry in files if isinstance(files, list) else []:
        if not isinstance(entry, dict):
            continue
        filename = str(entry.get("filename", ""))
        if entry.get("yanked"):
            continue
        try:
            if filename.endswith(".whl"):
                version = parse_wheel_filename(filename)[1]
            else:
                version = parse_sdist_filename(filename)[1]
        except ValueError:  # Invalid*, and the int limits of very long version numbers
            continue
        by_version.setdefault(version, []).append(filename)
        if isinstance(entry.get("requires-python"), str) and entry["requires-python"]:
            requires_python[version] = entry["requires-python"]
    if not by_version:
        return None
    newest = max(v for v in by_version if not v.is_prerelease) if any(
        not v.is_prerelease for v in by_version) else max(by_version)
    platforms: set[str] = set()
    wheel_tags: set[str] = set()
    has_sdist = False
    for filename in by_version[newest]:
        if filename.endswith(".whl"):
            for tag in parse_wheel_filename(filename)[3]:
                platforms.add(tag.platform)
                wheel_tags.add(str(tag))
        else:
            has_sdist = True
    return IndexOffer(name=name, version=str(newest), wheel_platforms=tuple(sorted(platforms)),
                      has_sdist=has_sdist, wheel_tags=tuple(sorted(wheel_tags)),
                      requires_python=requires_python.get(newest),
                      wheel_files=tuple(sorted(f for f in by_version[newest]
                                               if f.endswith(".whl"))))
