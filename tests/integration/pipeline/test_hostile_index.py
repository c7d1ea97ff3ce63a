"""An index that answers lambdalayer's own queries with hostile pages (docs/trust.md,
"What an index may answer"): uv gets the real pages, so the build goes on, and each
hostile answer ends as a named warning, quickly, never a traceback or a hang.

Run as a user would: the installed CLI against a loopback index."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, serve_index

PROJECT = "llhost"
PAGE_PATH = f"/simple/{PROJECT}/"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-index")
    make_wheel(folder, PROJECT, "1.0", deflate_level=9)
    return folder


def _page(files: Path, *, url: str | None = None, extra: tuple[str, ...] = ()) -> bytes:
    """The real page of PROJECT, its wheel's URL replaced by `url`, `extra` file names
    added (with some hash)."""
    wheel = next(files.glob("*.whl"))
    entries = [{"filename": wheel.name, "url": url or f"/files/{wheel.name}",
                "hashes": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}}]
    entries += [{"filename": name, "url": f"/files/{name}", "hashes": {"sha256": "0" * 64}}
                for name in extra]
    return json.dumps({"meta": {"api-version": "1.0"}, "name": PROJECT,
                       "files": entries}).encode()


def _build(files: Path, tmp: Path, answer: Callable[[str], bytes | None],
           requests: list[tuple[str, bool]] | None = None) -> tuple[CliRun, float]:
    started = time.monotonic()
    with serve_index(files, to_others=answer, requests=requests) as url:
        run = run_cli("build", "x", "-p", PROJECT, "--index-url", url, "--runtime",
                      "python3.12", "--arch", "x86_64", "--no-proof", "--out",
                      str(tmp / "dist"), "--force",
                      env={"LAMBDALAYER_CACHE_DIR": str(tmp / "cache")}, timeout=120)
    return run, time.monotonic() - started


def _only_page(body: bytes) -> Callable[[str], bytes | None]:
    return lambda path: body if path.split("?")[0] == PAGE_PATH else None


def _clean(run: CliRun, seconds: float) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert seconds < 90, seconds


@pytest.mark.parametrize("where", ["dev-zero", "fifo"])
def test_a_wheel_url_that_is_not_http_is_never_opened(files: Path, tmp_path: Path,
                                                      where: str) -> None:
    """file:///dev/zero wrote 512 MiB per wheel; a file:// FIFO hung the zip stage."""
    if where == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
        url = target.as_uri()
    else:
        url = "file:///dev/zero"
    run, seconds = _build(files, tmp_path, _only_page(_page(files, url=url)))
    _clean(run, seconds)
    warning = " ".join(run.stderr.split())
    assert f"The wheels of {PROJECT}==1.0 could not be had" in warning, run.stderr
    assert "gives its wheel a file:// URL, which lambdalayer never opens" in warning, \
        run.stderr
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()
                and p.stat().st_size > 1 << 20]  # nothing read from /dev/zero kept


@pytest.mark.parametrize(("case", "answer", "said"), [
    ("brackets", lambda files: b"[" * 500_000, "is nested deeper than"),
    ("digits", lambda files: _page(files, extra=(f"{PROJECT}-{'1' * 5000}-py3-none-any.whl",)),
     "lists a file name of 5,"),
    ("huge", lambda files: b" " * (33 << 20), "larger than 33,554,432 bytes"),
])
def test_a_page_lambdalayer_refuses_is_named_never_a_traceback(
        files: Path, tmp_path: Path, case: str, answer: Callable[[Path], bytes],
        said: str) -> None:
    """A page of 500,000 `[` was a RecursionError traceback, a 5000-digit version a
    ValueError one: now each is a warning naming the index, the project and what was
    wrong, and the build goes on with uv's (real) answer."""
    run, seconds = _build(files, tmp_path, _only_page(answer(files)))
    _clean(run, seconds)
    warning = " ".join(run.stderr.split())
    assert said in warning, run.stderr
    assert f"{PROJECT}" in warning and "http://127.0.0.1:" in warning, run.stderr
    assert f"Whether {PROJECT} has a newer release was not checked" in warning, run.stderr
