"""An index that cannot be reached or fails is said as such (exit 10), quickly, with
uv's lines kept apart; pip's index settings are passed on to uv or warned about
(docs/exit-codes.md, docs/trust.md)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index

# Never the real index: a test about a private one must not reach PyPI by accident.
NO_PIP = {"PIP_INDEX_URL": "", "PIP_EXTRA_INDEX_URL": "", "UV_INDEX_URL": "",
          "UV_DEFAULT_INDEX": "", "UV_INDEX": "", "UV_EXTRA_INDEX_URL": "",
          "PIP_CONFIG_FILE": "/dev/null", "UV_HTTP_RETRIES": ""}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"boom")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def failing_index() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


def env(**more: str) -> dict[str, str]:
    chosen = {**NO_PIP, **more}
    return {k: v for k, v in chosen.items() if v or k == "PIP_CONFIG_FILE"}


def test_a_closed_port_is_an_unreachable_index_after_one_quick_retry(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/simple"
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.12",
                  "--out", str(tmp_path / "dist"), env={**env(), "UV_INDEX_URL": url})
    assert_clean_failure(run, 10)
    assert f"Cannot reach the package index {url}: connection refused" in run.stderr
    # uv's own count ("failed after 1 retry"): one retry, not uv's default three, which
    # take 8.8-13.5 s against a closed port.
    assert "tried 2 times" in run.stderr
    assert "Cannot resolve" not in run.stderr
    assert not (tmp_path / "dist" / "x.zip").exists()


def test_an_index_answering_500_is_exit_10_with_credentials_hidden(tmp_path: Path) -> None:
    with failing_index() as bare:
        url = bare.replace("http://", "http://ci:s3cr3t-token@")
        run = run_cli("build", "x", "-p", "six", "--runtime", "python3.12", "--json",
                      "--out", str(tmp_path / "dist"), env={**env(), "PIP_INDEX_URL": url})
    assert run.returncode == 10, run.stderr
    error = run.json()["error"]
    assert error["type"] == "IndexUnreachable" and error["exit_code"] == 10
    assert "500 Internal Server Error" in error["message"]
    assert bare.replace("http://", "http://****@") in error["message"]
    assert "(from PIP_INDEX_URL)" in error["message"]
    assert "s3cr3t" not in run.stdout + run.stderr


def test_pip_index_variables_are_passed_to_uv_and_named(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    make_wheel(files, "llpipenv-pure", "1.0")
    with serve_index(files) as url:
        run = run_cli("build", "pipenv", "-p", "llpipenv-pure", "--runtime", "python3.12",
                      "--out", str(tmp_path / "dist"),
                      env={**env(), "PIP_INDEX_URL": url})
    assert run.returncode == 0, run.stderr
    assert run.stderr.count(f"index: {url} (from PIP_INDEX_URL)") == 1
    manifest = json.loads((tmp_path / "dist" / "pipenv.json").read_text())
    assert manifest["inputs"]["index"]["index_url"] == url


def test_an_index_url_flag_wins_over_pip_index_url(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    make_wheel(files, "llpipenv-pure", "1.0")
    with serve_index(files) as url:
        run = run_cli("build", "pipenv", "-p", "llpipenv-pure", "--runtime", "python3.12",
                      "--out", str(tmp_path / "dist"), "--index-url", url,
                      env={**env(), "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port()}/x"})
    assert run.returncode == 0, run.stderr
    assert "PIP_INDEX_URL" not in run.stderr


def test_an_unused_pip_conf_index_url_is_warned_about_once(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    make_wheel(files, "llpipconf-pure", "1.0")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example.com/simple\n")
    with serve_index(files) as url:
        run = run_cli("build", "pipconf", "-p", "llpipconf-pure", "--runtime", "python3.12",
                      "--arch", "x86_64", "--arch", "arm64", "--extra-index-url", url,
                      "--out", str(tmp_path / "dist"),
                      env={**env(), "PIP_CONFIG_FILE": str(conf)})
    assert run.returncode == 0, run.stderr
    assert run.stderr.count(f"{conf} sets pip's index-url https://mirror.example.com") == 1


def test_uv_lines_are_kept_apart_in_a_resolution_failure(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    make_wheel(files, "llconflict-pure", "1.0")
    with serve_index(files) as url:
        run = run_cli("build", "x", "-p", "llconflict-pure>5", "--runtime", "python3.12",
                      "--index-url", url, "--out", str(tmp_path / "dist"), env=env())
    assert_clean_failure(run, 3)
    headline, cause = run.stderr.split("Cannot resolve the requirements for python3.12/x86_64:",
                                       1)[1].split("\n")[:2]
    assert headline == ""
    assert cause.startswith("  ") and "llconflict-pure" in cause


@pytest.mark.parametrize("command", [["lock"]])
def test_lock_says_the_index_cannot_be_reached(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.api]\npackages = ["six"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\n')
    url = f"http://127.0.0.1:{closed_port()}/simple"
    run = run_cli(*command, cwd=tmp_path, env={**env(), "UV_INDEX_URL": url})
    assert_clean_failure(run, 10)
    assert f"Cannot reach the package index {url}" in run.stderr
