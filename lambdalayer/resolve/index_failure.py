"""uv's failures that are the index's, not the requirements': a refused connection, an
unknown host, a timeout, a 5xx or 401/403 answer. Those are `IndexUnreachable` (exit 10),
never "Cannot resolve the requirements", and they say which index failed and how.

uv retries such requests (3 times by default, 8-13 s against a closed port);
`common/uvtool.py` sets UV_HTTP_RETRIES=1 unless the user chose a number, so the answer
comes after one quick retry (docs/exit-codes.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lambdalayer.common.errors import IndexUnreachable
from lambdalayer.common.redact import redact_text, strip_credentials

_FETCH = re.compile(r"Failed to (?:fetch|download|read):?\s+`?(?P<url>[A-Za-z][\w+.-]*://[^\s`]+)")
_RETRIES = re.compile(r"Request failed after (?P<n>\d+) retr(?:y|ies)(?: in (?P<s>[\d.]+m?s))?")
# uv's causes, from the innermost, with what to tell a person.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Connection refused", re.I), "connection refused"),
    (re.compile(r"dns error|failed to lookup address|Name or service not known", re.I),
     "the host name does not resolve"),
    (re.compile(r"timed? ?out|operation timed out", re.I), "the request timed out"),
    (re.compile(r"HTTP status server error \((?P<status>5\d\d[^)]*)\)"), "it answered {status}"),
    (re.compile(r"HTTP status client error \((?P<status>40[137][^)]*)\)"),
     "it answered {status}"),
    (re.compile(r"certificate|\bTLS\b|\bSSL\b", re.I), "the TLS handshake failed (certificate)"),
    (re.compile(r"Connection reset|connection closed|error sending request", re.I),
     "the connection failed"),
)


def _reason(stderr: str) -> str | None:
    for pattern, text in _REASONS:
        found = pattern.search(stderr)
        if found:
            return text.format(**found.groupdict())
    return None


def _index_of(url: str, indexes: Iterable[str]) -> str:
    """The configured index `url` belongs to, else the URL's scheme://host/."""
    for index in sorted(indexes, key=len, reverse=True):
        # uv names the page without the index's user:token@; the message shows ****.
        if strip_credentials(url).startswith(strip_credentials(index).rstrip("/")):
            return index.rstrip("/")
    match = re.match(r"[A-Za-z][\w+.-]*://[^/]+", url)
    return match.group(0) if match else url


def index_failure(stderr: str, indexes: Iterable[str] = (),
                  source: str | None = None) -> IndexUnreachable | None:
    """The IndexUnreachable that uv's `stderr` reports, or None when uv failed otherwise.

    `indexes`: the indexes the build asks (to name the one that failed rather than the
    page); `source`: where the index was chosen ("PIP_INDEX_URL", "--index-url"), named
    in the hint."""
    fetched = _FETCH.search(stderr)
    reason = _reason(stderr)
    if fetched is None or reason is None:
        return None
    index = redact_text(_index_of(fetched.group("url"), indexes))
    retries = _RETRIES.search(stderr)
    tried = ""
    if retries:
        count = int(retries.group("n"))
        took = f" over {retries.group('s')}" if retries.group("s") else ""
        tried = f" (tried {count + 1} times{took})"
    where = f" (from {source})" if source else ""
    return IndexUnreachable(
        f"Cannot reach the package index {index}: {reason}{tried}. Nothing was built.",
        hint=(f"Check the index URL{where}, the network and proxy settings, and that the "
              "index server is up; credentials go in the URL, .netrc or UV_INDEX_* "
              "(docs/trust.md). UV_HTTP_RETRIES sets how often uv retries."))
