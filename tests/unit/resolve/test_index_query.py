"""The index query behind error messages: never a traceback, never a credential shown."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambdalayer.common.redact import redact_text, split_credentials
from lambdalayer.resolve.index_query import ask_indexes
from lambdalayer.resolve.index_settings import DEFAULT_INDEX, IndexSettings, QueryPlan, query_plan
from tests.conftest import require

SECRET = "tok3n-Secret"


def test_redact_hides_userinfo_in_any_url_in_text() -> None:
    text = (f"failed: https://aws:{SECRET}@host.example/simple/x/ and "
            f"'git+https://{SECRET}@github.com/o/r' but not user@example.com")
    shown = redact_text(text)
    assert SECRET not in shown
    assert "https://****@host.example/simple/x/" in shown
    assert "git+https://****@github.com/o/r" in shown
    assert "user@example.com" in shown


def test_credentials_become_a_header_not_part_of_the_url() -> None:
    bare, auth = split_credentials(f"https://aws:{SECRET}%40x@host/simple")
    assert bare == "https://host/simple"
    assert auth == "Basic YXdzOnRvazNuLVNlY3JldEB4"  # aws:tok3n-Secret@x
    assert split_credentials("https://host/simple") == ("https://host/simple", None)


def test_query_plan_follows_uv_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX",
                 "UV_NO_INDEX", "UV_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    assert query_plan(IndexSettings(), start=tmp_path).urls == (DEFAULT_INDEX,)
    from_file = "--index-url https://file.example/simple\n--extra-index-url https://x.example/s\n"
    assert query_plan(IndexSettings(), [from_file], start=tmp_path).urls == (
        "https://x.example/s", "https://file.example/simple")
    monkeypatch.setenv("UV_INDEX_URL", "https://env.example/simple/")
    assert query_plan(IndexSettings(), [from_file], start=tmp_path).urls[-1] == \
        "https://env.example/simple"
    flags = IndexSettings(index_url="https://flag.example/simple")
    assert query_plan(flags, [from_file], start=tmp_path).urls[-1] == \
        "https://flag.example/simple"
    assert query_plan(IndexSettings(), ["--no-index\nx\n"], start=tmp_path).skipped
    monkeypatch.delenv("UV_INDEX_URL")
    monkeypatch.delenv("UV_NO_CONFIG")
    (tmp_path / "uv.toml").write_text('[[index]]\nurl = "https://uvtoml.example/simple"\n'
                                      'default = true\n')
    assert query_plan(IndexSettings(), start=tmp_path).urls == (
        "https://uvtoml.example/simple",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_or_malformed_index_is_a_note_without_the_token() -> None:
    port = _free_port()  # nothing listens there
    for url in (f"http://aws:{SECRET}@127.0.0.1:{port}/simple",
                f"http://aws:{SECRET}@[::1/simple",  # not a URL urllib can parse
                f"ftp://aws:{SECRET}@127.0.0.1:{port}/simple"):
        answer = ask_indexes("pg8000", QueryPlan(urls=(url,)), timeout=5)
        assert answer.offer is None
        assert answer.note and SECRET not in answer.note


@contextmanager
def _serve(handler: type[http.server.BaseHTTPRequestHandler], *, tls: Path | None = None
           ) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


class _Truncated(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b'{"files": [')  # then hang up: IncompleteRead


def test_truncated_answer_is_a_note() -> None:
    with _serve(_Truncated) as url:
        answer = ask_indexes("pg8000", QueryPlan(urls=(url,)), timeout=5)
    assert answer.offer is None and answer.note and "could not" in answer.note


def test_certificate_this_python_cannot_verify_is_a_clear_note(tmp_path: Path) -> None:
    """python.org's macOS Python has no CA certificates: every HTTPS index looks like this."""
    openssl = shutil.which("openssl")
    require(openssl is not None, "needs the openssl command to make a certificate")
    assert openssl is not None
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    with _serve(_Truncated, tls=tmp_path) as url:
        answer = ask_indexes("pg8000", QueryPlan(urls=(url,)), timeout=5)
    assert answer.offer is None
    assert answer.note and "certificate" in answer.note


def _recording(seen: list[str | None], location: str | None = None
               ) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler that records each request's Authorization header, then redirects to
    `location` (when given) or answers an empty project page."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if location is not None:
                self.send_response(302)
                self.send_header("Location", location + self.path.removeprefix("/simple"))
                self.end_headers()
                return
            body = b'{"files": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    return Handler


def test_a_redirect_to_another_origin_carries_no_credentials() -> None:
    """Loopback on another port is another origin: the token stays with the first."""
    first: list[str | None] = []
    second: list[str | None] = []
    with _serve(_recording(second)) as other, _serve(_recording(first, other)) as url:
        with_token = url.replace("http://", f"http://aws:{SECRET}@")
        answer = ask_indexes("pg8000", QueryPlan(urls=(with_token,)), timeout=5)
    assert first and first[0] and first[0].startswith("Basic ")
    assert second == [None]  # asked, without the header
    assert answer.note and SECRET not in answer.note


def test_a_redirect_within_the_origin_keeps_the_credentials() -> None:
    seen: list[str | None] = []

    class Moved(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if self.path.startswith("/simple/"):
                self.send_response(301)
                self.send_header("Location", "/moved/" + self.path.removeprefix("/simple/"))
                self.end_headers()
                return
            self.send_response(404)
            self.end_headers()

    with _serve(Moved) as url:
        ask_indexes("pg8000", QueryPlan(urls=(url.replace("http://", f"http://aws:{SECRET}@"),)),
                    timeout=5)
    assert len(seen) == 2 and seen[0] == seen[1] and seen[1] and seen[1].startswith("Basic ")


def test_a_redirect_from_https_to_http_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    openssl = shutil.which("openssl")
    require(openssl is not None, "needs the openssl command to make a certificate")
    assert openssl is not None
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    first: list[str | None] = []
    plain: list[str | None] = []
    with _serve(_recording(plain)) as http_url, \
            _serve(_recording(first, http_url), tls=tmp_path) as url:
        with_token = url.replace("https://", f"https://aws:{SECRET}@")
        answer = ask_indexes("pg8000", QueryPlan(urls=(with_token,)), timeout=5)
    assert first, "the https index was asked"
    assert plain == []  # never followed to http
    assert answer.note and "redirected" in answer.note and SECRET not in answer.note
