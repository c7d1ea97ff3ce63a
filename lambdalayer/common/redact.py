"""Credentials in URLs never leave the process: not printed, recorded or logged.

A private index is usually reached as `https://USER:TOKEN@host/simple`
(AWS CodeArtifact, Artifactory, GitLab); a direct reference may carry a token
the same way (`pkg @ https://user:TOKEN@host/pkg.whl`). Everything shown to a
person, written to a manifest or printed as JSON goes through `redact_text`;
a query that needs the credentials gets them as an Authorization header
(`split_credentials`), never as part of a URL that may end up in a message.
"""

from __future__ import annotations

import base64
import re
import urllib.parse

REDACTED = "****"
# scheme://userinfo@ — userinfo is anything up to the first @ that has no '/', space
# or quote before it (RFC 3986 §3.2.1).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"<>]+)@")


def redact_text(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by ****."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def redact_url(url: str) -> str:
    """One URL with its userinfo (user and password) replaced by ****."""
    return redact_text(url)


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without userinfo, a Basic Authorization header value or None)."""
    match = _USERINFO.match(url)
    if not match:
        return url, None
    user, _, password = match.group("userinfo").partition(":")
    token = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    bare = match.group("scheme") + url[match.end():]
    return bare, "Basic " + base64.b64encode(token.encode()).decode()
