"""The index's answers are kept as its HTTP caching headers allow, on a loopback index."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lambdalayer.resolve.index_query import ask_indexes
from lambdalayer.resolve.index_settings import IndexSettings, QueryPlan, query_plan


@dataclass
class _Index:
    """What the loopback index answers, and what it was asked."""

    version: str = "1.0"
    cache_control: str | None = "max-age=600"
    etag: bool = True
    bodies: int = 0  # full answers sent
    conditional: list[str | None] = field(default_factory=list)  # If-None-Match per request

    def page(self) -> bytes:
        return json.dumps({"meta": {"api-version": "1.0"}, "files": [
            {"filename": f"demo-{self.version}-py3-none-any.whl", "url": "x"}]}).encode()


@contextmanager
def _serve(index: _Index) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = index.page()
            tag = f'"v{index.version}"'
            asked = self.headers.get("If-None-Match")
            index.conditional.append(asked)
            if index.etag and asked == tag:
                self.send_response(304)
                if index.cache_control:
                    self.send_header("Cache-Control", index.cache_control)
                self.end_headers()
                return
            index.bodies += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            if index.cache_control:
                self.send_header("Cache-Control", index.cache_control)
            if index.etag:
                self.send_header("ETag", tag)
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


def _ask(url: str) -> str | None:
    answer = ask_indexes("demo", QueryPlan(urls=(url,)), timeout=5)
    return answer.offer.version if answer.offer else None


def test_within_max_age_the_index_is_not_asked_again() -> None:
    index = _Index()
    with _serve(index) as url:
        assert _ask(url) == "1.0"
        index.version = "2.0"  # changed, but the index said 1.0 stays fresh for 600 s
        assert _ask(url) == "1.0"
    assert len(index.conditional) == 1


def test_after_max_age_an_etag_revalidates_without_a_body() -> None:
    index = _Index(cache_control="max-age=0")
    with _serve(index) as url:
        assert _ask(url) == "1.0"
        assert _ask(url) == "1.0"  # 304: the kept answer
        assert index.conditional == [None, '"v1.0"'] and index.bodies == 1
        index.version = "2.0"
        assert _ask(url) == "2.0"  # the ETag no longer matches: a fresh answer
        assert index.bodies == 2


def test_no_store_and_a_cache_turned_off_keep_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _Index(cache_control="no-store")
    with _serve(index) as url:
        assert _ask(url) == "1.0" and _ask(url) == "1.0"
    assert index.conditional == [None, None] and index.bodies == 2
    monkeypatch.setenv("LAMBDALAYER_CACHE_MAX", "0")
    index = _Index()
    with _serve(index) as url:
        assert _ask(url) == "1.0" and _ask(url) == "1.0"
    assert index.bodies == 2


def test_a_damaged_kept_answer_is_a_miss(tmp_path: Path) -> None:
    index = _Index()
    with _serve(index) as url:
        assert _ask(url) == "1.0"
        import os

        kept = list(Path(os.environ["LAMBDALAYER_CACHE_DIR"], "index-answers").iterdir())
        assert len(kept) == 1
        kept[0].write_bytes(kept[0].read_bytes()[:-5])  # truncated
        index.version = "2.0"
        assert _ask(url) == "2.0"
    assert index.bodies == 2


def test_offline_asks_no_index(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = query_plan(IndexSettings(offline=True))
    assert plan.urls == () and plan.skipped and "offline" in plan.skipped
    monkeypatch.setenv("UV_OFFLINE", "1")
    assert query_plan(IndexSettings()).skipped
    assert "--offline" in IndexSettings(offline=True).uv_args()
