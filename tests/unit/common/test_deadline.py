"""Wall-clock deadlines hold during reads: a loopback server trickling one byte at a time
stops every download (layer by ARN, size probe, index query) at its total, naming the host."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdalayer.aws.download import check_layer_arn
from lambdalayer.aws.function_size import read_remote_size
from lambdalayer.common.deadline import DEADLINE_VARIABLE, Deadline, DeadlineExceeded, open_url
from lambdalayer.common.errors import AwsError, UsageError
from lambdalayer.resolve.index_query import ask_indexes
from lambdalayer.resolve.index_settings import QueryPlan
from lambdalayer.targets.target import Target

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:slow:1"
DEADLINE = 1.0  # seconds: the tiny total the tests set
# Only a hang waits this long: a download the deadline did not stop runs to the server's end.
HANG = 90.0
# Far shorter than the 20 s per-read timeout: a socket timeout alone never trips.
GAP = 0.05


class _Server(socketserver.ThreadingTCPServer):
    """Says how each answer ended: `left` when the client closed the connection while
    bytes were still to come, `finished` when the server got to its own end."""

    daemon_threads = True

    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.left = threading.Event()
        self.finished = threading.Event()


class _Trickle(socketserver.BaseRequestHandler):
    """Answers any request one byte every GAP seconds, for up to 60 s."""

    headers_too = False
    server: _Server

    def handle(self) -> None:
        try:
            self._trickle()
        except OSError:
            self.server.left.set()  # the client gave up: what the deadline is for
        else:
            self.server.finished.set()

    def _trickle(self) -> None:
        self.request.recv(65536)
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nX-Pad: "
                + b"p" * 1000 + b"\r\nContent-Length: 10000000\r\n\r\n")
        body_start = 0 if self.headers_too else len(head)
        stream = head + b"P" * 2000
        if body_start:
            self.request.sendall(stream[:body_start])
        ended = time.monotonic() + 60
        for index in range(body_start, len(stream)):
            if time.monotonic() > ended:
                return
            self.request.sendall(stream[index:index + 1])
            time.sleep(GAP)


class _TrickleHeaders(_Trickle):
    headers_too = True


@dataclass
class Served:
    url: str
    server: _Server

    def assert_the_client_left_first(self) -> None:
        """The download stopped while the server still had bytes to send: the deadline
        cut it, not the server's end (order, not a stopwatch: a slow machine agrees)."""
        self.server.left.wait(HANG)
        assert self.server.left.is_set() and not self.server.finished.is_set()


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[Served]:
    server = _Server(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trickle(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv(DEADLINE_VARIABLE, str(DEADLINE))
    yield from _serve(_Trickle)


@pytest.fixture
def trickle_headers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv(DEADLINE_VARIABLE, str(DEADLINE))
    yield from _serve(_TrickleHeaders)


def _stub_layer_location(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    import boto3

    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("get_layer_version_by_arn",
                         {"Content": {"Location": url, "CodeSize": 1}}, {"Arn": ARN})
    stubber.activate()

    def make_client(service: str, **_: Any) -> Any:
        return client

    monkeypatch.setattr("lambdalayer.aws.client.make_client", make_client)


def test_check_arn_download_stops_at_its_total_deadline(trickle: Served,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _stub_layer_location(monkeypatch, f"{trickle.url}/layer.zip")
    with pytest.raises(AwsError) as stopped:
        check_layer_arn(ARN, [Target.parse("python3.12", "x86_64")])
    trickle.assert_the_client_left_first()
    message = str(stopped.value)
    assert "127.0.0.1" in message and f"within {DEADLINE:g} s" in message, message


def test_size_probe_stops_at_its_total_deadline(trickle: Served) -> None:
    with pytest.raises(UsageError) as stopped:
        read_remote_size(f"{trickle.url}/layer.zip")
    trickle.assert_the_client_left_first()
    assert "127.0.0.1 did not finish sending" in stopped.value.message


def test_index_query_stops_at_its_total_deadline(trickle: Served) -> None:
    answer = ask_indexes("pg8000", QueryPlan(urls=(f"{trickle.url}/simple",)), timeout=30)
    trickle.assert_the_client_left_first()
    assert answer.offer is None
    assert answer.note and "127.0.0.1 did not finish sending" in answer.note, answer.note


def test_the_deadline_holds_while_the_headers_trickle_in(trickle_headers: Served) -> None:
    """Cut wherever the read is: the status line and headers too, not only the body."""
    with pytest.raises(UsageError, match="did not finish sending"):
        read_remote_size(f"{trickle_headers.url}/layer.zip")
    trickle_headers.assert_the_client_left_first()


def test_open_url_past_the_deadline_raises_without_connecting() -> None:
    with Deadline(0.0001, "http://127.0.0.1:9/x") as deadline:
        time.sleep(0.01)
        with pytest.raises(DeadlineExceeded, match=r"127\.0\.0\.1"):
            open_url("http://127.0.0.1:9/x", deadline)


@pytest.mark.parametrize("url", ["file:///dev/zero", "ftp://127.0.0.1/x", "data:,x"])
def test_only_http_urls_are_opened(url: str) -> None:
    """urllib's default opener reads file:// (a FIFO blocks in open, /dev/zero never ends)."""
    import urllib.error

    from lambdalayer.common.deadline import Deadline, open_url

    with Deadline(5, url) as deadline, pytest.raises(urllib.error.URLError,
                                                     match="only http"):
        open_url(url, deadline)
