"""Credentials in URLs never leave the process: not printed, recorded or logged.

A private index is usually reached as `https://USER:TOKEN@host/simple`
(AWS CodeArtifact, Artifactory, GitLab); a direct reference may carry a token
the same way (`pkg @ https://user:TOKEN@host/pkg.whl`). Everything shown to a
person, written to a manifest or printed as JSON goes through `redact_text`;
a lock file, meant to be committed, gets the URL with no userinfo at all
(`strip_credentials`: uv then takes the credentials from its own sources);
a query that needs the credentials gets them as an Authorization header
(`split_credentials`), never as part of a URL that may end up in a message.

The authority is parsed as URL parsers do (RFC 3986 §3.2, WHATWG URL): it ends
at the first `/`, `?` or `#`, and the userinfo is everything before its LAST
`@`, so a password holding a raw `@` or `:` is cut whole, not at its first `@`.
See docs/trust.md.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable

REDACTED = "****"
# scheme:// then the authority: everything up to a path, query or fragment, or to
# whitespace, a quote or an angle bracket (where a URL ends inside prose or JSON).
# A backslash does not end it here (WHATWG would for http): a password holding one
# must still be hidden whole.
_AUTHORITY = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#\s'\"<>]*)")


def _rewrite(text: str, userinfo: Callable[[str], str]) -> str:
    def one(match: re.Match[str]) -> str:
        authority = match.group("authority")
        cut = authority.rfind("@")
        if cut < 0:
            return match.group(0)
        return match.group("scheme") + userinfo(authority[:cut]) + authority[cut:]
    return _AUTHORITY.sub(one, text)


def redact_text(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by ****."""
    return _rewrite(text, lambda _: REDACTED)


def redact_url(url: str) -> str:
    """One URL with its userinfo (user and password) replaced by ****."""
    return redact_text(url)


def strip_credentials(text: str) -> str:
    """`text` with the userinfo of every URL in it removed, `@` included."""
    return _AUTHORITY.sub(
        lambda m: m.group("scheme") + m.group("authority").rpartition("@")[2], text)


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without userinfo, a Basic Authorization header value or None)."""
    match = _AUTHORITY.match(url)
    if not match or "@" not in match.group("authority"):
        return url, None
    userinfo, _, host = match.group("authority").rpartition("@")
    user, _, password = userinfo.partition(":")
    token = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    bare = match.group("scheme") + host + url[match.end():]
    return bare, "Basic " + base64.b64encode(token.encode()).decode()
