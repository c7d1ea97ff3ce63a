"""Messages that say what happened, for the mistakes a new user makes first."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli


def test_lock_without_a_config_says_what_lock_locks(tmp_path: Path) -> None:
    run = run_cli("lock", cwd=tmp_path)
    assert_clean_failure(run, 2)
    assert "Nothing to lock" in run.stderr and "lambdalayer.toml" in run.stderr
    assert "Name a recipe" not in run.stderr  # that is build's message


def test_test_of_a_missing_zip_says_it_does_not_exist(tmp_path: Path) -> None:
    run = run_cli("test", "nothere.zip", cwd=tmp_path)
    assert_clean_failure(run, 2)
    assert "nothere.zip does not exist" in run.stderr
    assert "Which runtime" not in run.stderr


def test_diff_of_a_missing_zip_says_it_does_not_exist(tmp_path: Path) -> None:
    run = run_cli("diff", "nothere.zip", "x.zip", cwd=tmp_path)
    assert_clean_failure(run, 2)
    assert "nothere.zip does not exist" in run.stderr
    assert "not a layer this can read" not in run.stderr


def test_interpreters_list_is_the_bare_command(tmp_path: Path) -> None:
    bare = run_cli("interpreters", "--arch", "x86_64", "--json")
    listed = run_cli("interpreters", "list", "--arch", "x86_64", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.json() == bare.json()


@pytest.mark.parametrize("typed", ["3.12", "py312", "312"])
def test_a_bare_version_suggests_the_runtime(tmp_path: Path, typed: str) -> None:
    run = run_cli("build", "x", "-p", "six", "--runtime", typed, "--out", str(tmp_path))
    assert_clean_failure(run, 2)
    assert "did you mean 'python3.12'?" in run.stderr


def test_cache_says_clean_keeps_the_interpreters(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "interpreters" / "noble-arm64").mkdir(parents=True)
    (cache / "interpreters" / "noble-arm64" / "python").write_bytes(b"x" * 5000)
    (cache / "zip-members").mkdir()
    (cache / "zip-members" / "m").write_bytes(b"y" * 3000)
    (cache / ".lambdalayer-cache").write_text("made by lambdalayer\n")
    env = {"LAMBDALAYER_CACHE_DIR": str(cache)}
    cleaned = run_cli("cache", "clean", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "kept 5.0 KB of interpreters" in cleaned.stdout
    shown = run_cli("cache", env=env)
    assert "5.0 KB of it interpreters" in shown.stdout and "cache clean` keeps" in shown.stdout
    assert run_cli("cache", "--json", env=env).json()["cache"]["interpreters"] == 5000


@pytest.fixture
def html_error_endpoint() -> Iterator[str]:
    """An endpoint that answers everything with a proxy's HTML error page."""
    page = (b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
            b"<body>\n<h1>Service Unavailable</h1>\n<p>maintenance</p>\n</body></html>\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_an_html_error_page_is_summarised(html_error_endpoint: str) -> None:
    run = run_cli("check", "arn:aws:lambda:us-east-1:123456789012:layer:x:3",
                  "--runtime", "python3.12", "--endpoint-url", html_error_endpoint,
                  env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_MAX_ATTEMPTS": "1"})
    assert_clean_failure(run, 5)
    assert "<html" not in run.stderr and "<h1>" not in run.stderr
    assert "HTTP 503" in run.stderr and "503 Service Unavailable" in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 2


def test_help_is_consistent() -> None:
    """--out is a DIRECTORY everywhere; the proof reads as on by default; publish says
    which of --layer and --layer-name does what."""
    for command in ("build", "publish", "attach"):
        text = run_cli(command, "--help").stdout
        assert "--out DIRECTORY" in text, (command, text)
    build = run_cli("build", "--help").stdout
    assert "--proof [required|best-effort]" in build and "On by default" in build
    assert "--no-proof" in build
    assert "--test-report" in build and "Old name" not in build
    publish = " ".join(run_cli("publish", "--help").stdout.split())
    assert "--layer-name NAME The name to publish one ZIP under" in publish
    assert "--layer NAME Which layer to publish" in publish
    assert "--all" in publish
    assert run_cli("recipes", "show", "--help").stdout.count("--recipes DIRECTORY") == 1


def test_recipes_show_takes_recipes(tmp_path: Path) -> None:
    mine = tmp_path / "recipes"
    mine.mkdir()
    (mine / "mytool.toml").write_text(
        'name = "mytool"\ndescription = "my tool"\nrequirements = ["six"]\n', "utf-8")
    run = run_cli("recipes", "show", "mytool", "--recipes", str(mine), "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["recipe"]["name"] == "mytool"
