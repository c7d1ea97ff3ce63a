"""Redaction cuts the whole userinfo: at the LAST `@` of the authority, whatever the
password holds (`@`, `:`, percent-escapes)."""

from __future__ import annotations

import base64
import urllib.parse

from hypothesis import given
from hypothesis import strategies as st

from lambdalayer.common.redact import redact_text, split_credentials, strip_credentials

# What may appear raw in userinfo: anything but the characters that end an authority
# (those must be percent-escaped for the URL to parse at all).
_USERINFO_CHARS = st.characters(blacklist_characters="/?#'\"<>",
                                blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))
userinfo = st.text(_USERINFO_CHARS, min_size=1, max_size=40)
hosts = st.sampled_from(["host.example", "127.0.0.1:8080", "[::1]:3141", "h"])


@given(userinfo, hosts)
def test_every_userinfo_is_cut_whole(secret: str, host: str) -> None:
    text = f"failed: https://{secret}@{host}/simple/x/ (and more)"
    assert redact_text(text) == f"failed: https://****@{host}/simple/x/ (and more)"
    assert strip_credentials(text) == f"failed: https://{host}/simple/x/ (and more)"


def test_passwords_with_at_colon_and_escapes() -> None:
    for password in ("p@ss@word", "p:a:ss", "p%40ss%3Aw", "@:%40@", "a@b.example"):
        url = f"https://aws:{password}@host.example/simple"
        assert redact_text(url) == "https://****@host.example/simple"
        assert strip_credentials(f"pkg @ {url}") == "pkg @ https://host.example/simple"
        assert "ss" not in redact_text(f"--extra-index-url={url}\n").replace("simple", "")


def test_what_is_not_userinfo_stays() -> None:
    text = "mail user@example.com, see https://host/path/user@example.com?a=b@c#d@e"
    assert redact_text(text) == text
    assert strip_credentials(text) == text


@given(st.text(min_size=1, max_size=20), st.text(max_size=20))
def test_split_credentials_sends_the_decoded_pair(user: str, password: str) -> None:
    quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    bare, auth = split_credentials(f"https://{quoted}@host.example/simple")
    assert bare == "https://host.example/simple"
    assert auth is not None
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == f"{user}:{password}"


def test_split_credentials_with_a_raw_at_in_the_password() -> None:
    bare, auth = split_credentials("https://aws:p@ss@host.example/simple")
    assert bare == "https://host.example/simple"
    assert auth == "Basic " + base64.b64encode(b"aws:p@ss").decode()
