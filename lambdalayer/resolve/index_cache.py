"""The index's answers about projects, kept between builds as the index's own HTTP caching
headers allow (RFC 9111), so the newest-release check asks only when an answer can have
changed.

PyPI answers a project page with `Cache-Control: max-age=600` and an `ETag`: within
max-age the kept answer is used without a request; after it, the request carries
`If-None-Match` and a `304 Not Modified` costs no body. `no-store` is never kept;
`no-cache` is revalidated every time. Answers live in lambdalayer's cache
(common/cache.py, `index-answers/`), one file per URL and credential, private like
the rest; `LAMBDALAYER_CACHE_MAX=0` keeps none. Like every cache entry, a file
that cannot be read or parsed is a miss, never an error.

Within one run, the same question is asked once (`once`): ten targets resolving
the same requirements share one answer per project.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lambdalayer.common.cache import INDEX_ANSWERS_DIR, cache_root, ensure_root, max_size, trim

_T = TypeVar("_T")


class Headers(Protocol):
    """An HTTP answer's headers (http.client's message, or a plain dict in tests)."""

    def get(self, name: str, /) -> str | None: ...

_LOCK = threading.Lock()
_ASKED: dict[object, Future[object]] = {}
_WAITED = [0.0]  # seconds callers spent blocked on answers (`build --verbose` shows it)
_THREADS: list[threading.Thread] = []  # every question started, joined at exit


def _path(url: str, auth: str | None) -> Path | None:
    if max_size() <= 0:
        return None
    key = hashlib.sha256(f"{url}\0{auth or ''}".encode()).hexdigest()[:40]
    return cache_root() / INDEX_ANSWERS_DIR / key


def _read(url: str, auth: str | None) -> tuple[dict[str, object], bytes] | None:
    path = _path(url, auth)
    if path is None:
        return None
    try:
        header, _, body = path.read_bytes().partition(b"\n")
        meta = json.loads(header)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("url") != url or meta.get("length") != len(body):
        return None
    return meta, body


def fresh(url: str, auth: str | None) -> bytes | None:
    """The kept answer for `url` while the index said it stays fresh, else None."""
    kept = _read(url, auth)
    if kept is None:
        return None
    until = kept[0].get("fresh_until")
    return kept[1] if isinstance(until, (int, float)) and time.time() < until else None


def kept(url: str, auth: str | None) -> bytes | None:
    """The kept answer for `url`, fresh or not: what an offline build may look at."""
    found = _read(url, auth)
    return found[1] if found is not None else None


def validators(url: str, auth: str | None) -> dict[str, str]:
    """Headers that make the next request conditional on the kept answer's ETag."""
    kept = _read(url, auth)
    etag = kept[0].get("etag") if kept else None
    return {"If-None-Match": etag} if isinstance(etag, str) and etag else {}


def _freshness(headers: Headers) -> float | None:
    """Seconds the answer stays fresh; None when it must not be kept (no-store)."""
    directives = [d.strip().lower() for d in (headers.get("Cache-Control") or "").split(",")]
    if "no-store" in directives:
        return None
    if "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age" and value.strip().isdigit():
            age = (headers.get("Age") or "0").strip()
            return max(0.0, float(value) - (float(age) if age.isdigit() else 0.0))
    return 0.0  # no lifetime given: keep it for revalidation only


def remember(url: str, auth: str | None, headers: Headers, body: bytes) -> bytes:
    """Keep `body` (the index's 200 answer for `url`) as its headers allow; returns it."""
    seconds = _freshness(headers)
    path = _path(url, auth)
    if seconds is None or path is None:
        return body
    meta = {"url": url, "etag": headers.get("ETag"), "fresh_until": time.time() + seconds,
            "length": len(body)}
    _write(path, json.dumps(meta).encode() + b"\n" + body)
    return body


def not_modified(url: str, auth: str | None, headers: Headers) -> bytes | None:
    """The kept answer after a 304 (its lifetime renewed), or None when none is kept."""
    kept = _read(url, auth)
    if kept is None:
        return None
    meta, body = kept
    merged = {"Cache-Control": headers.get("Cache-Control") or "", "Age": headers.get("Age") or "",
              "ETag": headers.get("ETag") or str(meta.get("etag") or "")}
    return remember(url, auth, merged, body)


def _write(path: Path, blob: bytes) -> None:
    temporary: Path | None = None
    try:
        ensure_root(path.parent.parent)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(blob)
        os.replace(temporary, path)
        trim(path.parent, max_size() // 16)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def once(key: object, ask: Callable[[], _T]) -> Future[_T]:
    """`ask()` run in the background the first time `key` is asked for in this process;
    the same future every later time. The thread is a daemon: a build that fails
    meanwhile does not wait for the index to exit."""
    with _LOCK:
        found = _ASKED.get(key)
        if found is None:
            found = _started(ask)
            _ASKED[key] = found
    return found  # type: ignore[return-value]


def background(ask: Callable[[], _T]) -> Future[_T]:
    """`ask()` run in a daemon thread now, every time (nothing kept for later callers),
    ended like `once`'s at exit."""
    with _LOCK:
        return _started(ask)


def _started(ask: Callable[[], _T]) -> Future[_T]:
    found: Future[_T] = Future()
    thread = threading.Thread(target=_settle, args=(found, ask), daemon=True)
    if not _THREADS:
        atexit.register(_end_at_exit)
    _THREADS.append(thread)
    thread.start()
    return found


def _end_at_exit() -> None:
    """At exit, end the questions still in flight and let their threads finish (a daemon
    thread inside a TLS read while the interpreter finalizes can crash it, exit -11)."""
    from lambdalayer.common.deadline import expire_all

    expire_all()
    ends = time.monotonic() + 2.0  # in all: signals are ignored by now (interrupt.finishing)
    for thread in _THREADS:
        thread.join(timeout=max(0.0, ends - time.monotonic()))


def wait(future: Future[_T]) -> _T:
    """The answer of a future from `once`, counting the time spent waiting for it."""
    started = time.perf_counter()
    try:
        return future.result()
    finally:
        with _LOCK:
            _WAITED[0] += time.perf_counter() - started


def waited_seconds() -> float:
    """Seconds spent in `wait` so far in this process."""
    with _LOCK:
        return _WAITED[0]


def _settle(future: Future[Any], ask: Callable[[], object]) -> None:
    try:
        future.set_result(ask())
    except BaseException as exc:  # handed to whoever waits on it
        future.set_exception(exc)
