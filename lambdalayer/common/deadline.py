"""HTTP reads with a wall-clock deadline that holds during the reads themselves.

A socket timeout bounds one `recv`, not a download: a server sending a byte every
few seconds never trips it, and `response.read(1 MiB)` keeps calling `recv` until
it has the whole MiB. So every download (a layer by ARN, a size probe, an index
query) gets a `Deadline`: a timer that shuts the connection's socket down when the
total is spent, wherever the read is (TLS handshake, headers, body), plus a
per-read socket timeout; `read_body` reads with `read1` (at most one `recv`) and
checks the deadline after each. The message names the host.

LAMBDALAYER_DOWNLOAD_DEADLINE (seconds) overrides every caller's total
(docs/sandbox-and-limits.md).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterable
from typing import IO, Any, ClassVar
from urllib.parse import urlparse

PER_READ_TIMEOUT = 20.0  # seconds one socket operation may wait
DEADLINE_VARIABLE = "LAMBDALAYER_DOWNLOAD_DEADLINE"


class DeadlineExceeded(TimeoutError):
    """The whole transfer took longer than its deadline."""


class BodyTooLarge(ValueError):
    """The response is longer than the caller's cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"more than {cap:,} bytes")
        self.cap = cap


def deadline_seconds(default: float) -> float:
    """`default`, or LAMBDALAYER_DOWNLOAD_DEADLINE when it is a positive number."""
    try:
        value = float(os.environ.get(DEADLINE_VARIABLE, ""))
    except ValueError:
        return default
    return value if value > 0 else default


class Deadline:
    """A total for one transfer (redirects included); use as a context manager."""

    # Every deadline not yet left, so that expire_all can end their transfers at exit.
    active: ClassVar[weakref.WeakSet[Deadline]] = weakref.WeakSet()

    def __init__(self, seconds: float, url: str, *,
                 per_read: float = PER_READ_TIMEOUT) -> None:
        self.seconds = seconds
        self.host = _host(url)
        self.per_read = per_read
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        Deadline.active.add(self)

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        Deadline.active.discard(self)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.host} did not finish sending within "
                                f"{self.seconds:g} s (a total deadline, not per read)")

    def check(self) -> None:
        """DeadlineExceeded once the total is spent."""
        if self.expired or time.monotonic() >= self.end:
            raise self.error()

    def timeout(self) -> float:
        """The socket timeout for the next operation: per read, within what is left."""
        self.check()
        return max(0.001, min(self.per_read, self.end - time.monotonic()))


def expire_all() -> None:
    """End every transfer still under a deadline now (their sockets shut down): a process
    that is exiting must not leave a thread in the middle of a TLS read, which can crash
    the interpreter as it finalizes."""
    for deadline in list(Deadline.active):
        deadline._expire()


def _host(url: str) -> str:
    """The host name alone: never the userinfo a URL may carry."""
    try:
        return urlparse(url).hostname or "the server"
    except ValueError:
        return "the server"


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _watched(base: type[http.client.HTTPConnection],
             deadline: Deadline) -> type[http.client.HTTPConnection]:
    """`base` whose socket is handed to `deadline` as soon as it is connected."""

    class Watched(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

            def create(*c_args: Any, **c_kwargs: Any) -> socket.socket:
                sock = socket.create_connection(*c_args, **c_kwargs)
                deadline.watch(sock)
                return sock

            self._create_connection = create

    return Watched


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPConnection, self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline, context: ssl.SSLContext | None) -> None:
        super().__init__(context=context)
        self.deadline = deadline
        self.context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPSConnection, self.deadline), req,
                            context=self.context)


class _OnlyHTTP(urllib.request.BaseHandler):
    """Refuses every scheme but http(s) before any handler opens it (urllib's default
    opener reads file://, ftp:// and data: URLs, also when a redirect leads there): a
    deadline cannot end a read of `file:///dev/zero` or block in the open of a FIFO."""

    handler_order = 0  # before the proxy handler and every *_open

    def default_open(self, req: urllib.request.Request) -> None:
        if req.type not in ("http", "https"):
            raise urllib.error.URLError(f"{req.type}:// URLs are not fetched, only http(s)")


def open_url(request: urllib.request.Request | str, deadline: Deadline, *,
             context: ssl.SSLContext | None = None,
             handlers: Iterable[urllib.request.BaseHandler] = ()) -> Any:
    """urlopen under `deadline`, http(s) only (URLError for any other scheme, redirects
    included); `handlers` are added to the opener (e.g. a redirect policy). HTTPError
    and URLError propagate as from urlopen; DeadlineExceeded when the deadline cut the
    connection."""
    opener = urllib.request.build_opener(_OnlyHTTP(), _HTTPHandler(deadline),
                                         _HTTPSHandler(deadline, context), *handlers)
    try:
        return opener.open(request, timeout=deadline.timeout())
    except Exception as exc:
        if deadline.expired or time.monotonic() >= deadline.end:
            raise deadline.error() from exc
        raise


def read_body(response: Any, deadline: Deadline, *, cap: int,
              sink: IO[bytes] | None = None, chunk: int = 1 << 16) -> bytes:
    """The body (or, with `sink`, b"" after writing it there), at most `cap` bytes.

    BodyTooLarge past `cap`; DeadlineExceeded when the total is spent, even if the cut
    connection looks like a clean end; http.client.IncompleteRead when the body is
    shorter than its Content-Length.
    """
    body = bytearray()
    copied = 0
    reader = getattr(response, "read1", None) or response.read
    while True:
        try:
            data = reader(chunk)
        except Exception as exc:
            if deadline.expired or time.monotonic() >= deadline.end:
                raise deadline.error() from exc
            raise
        deadline.check()
        if not data:
            break
        copied += len(data)
        if copied > cap:
            raise BodyTooLarge(cap)
        if sink is None:
            body += data
        else:
            sink.write(data)
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and copied < int(length):
        raise http.client.IncompleteRead(bytes(body), int(length) - copied)
    return bytes(body)
