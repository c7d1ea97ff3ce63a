"""`interpreters add --from-debian SUITE`: SUITE reaches mmdebstrap only when it is a plain
Debian suite name, never as an option or a path (docs/commands/interpreters.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli


def _witness(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose mmdebstrap only records that it ran (and fails, making nothing)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ran = tmp_path / "mmdebstrap-ran"
    script = bin_dir / "mmdebstrap"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {ran}\nexit 1\n")
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, ran


@pytest.mark.parametrize("suite", ["--version", "-v", "--help", "../../etc", "a/b",
                                   "trixie main", "", "Trixie", "x" * 60, "trixie\n"])
def test_a_suite_that_is_not_a_suite_name_never_reaches_mmdebstrap(
        tmp_path: Path, suite: str) -> None:
    env, ran = _witness(tmp_path)
    into = tmp_path / "roots"
    run = run_cli("interpreters", "add", "--runtime", "python3.12", "--arch", "x86_64",
                  f"--from-debian={suite}", "--into", str(into), env=env)
    assert_clean_failure(run, 2)
    assert "is not a Debian suite name" in run.stderr, run.stderr
    assert not ran.exists()
    assert not into.exists()


def test_a_suite_name_reaches_mmdebstrap_as_its_suite(tmp_path: Path) -> None:
    env, ran = _witness(tmp_path)
    run = run_cli("interpreters", "add", "--runtime", "python3.12", "--arch", "x86_64",
                  "--from-debian=bookworm-backports", "--into", str(tmp_path / "roots"),
                  env=env)
    assert_clean_failure(run, 2)  # the witness makes nothing
    assert "mmdebstrap could not make a bookworm-backports" in run.stderr, run.stderr
    assert ran.read_text().split()[-2] == "bookworm-backports"


def test_a_failed_uv_install_leaves_no_python_folder_behind(tmp_path: Path) -> None:
    """`interpreters add` through uv that fails (downloads forbidden here) removes the
    folders it made for it (~/.local/share/uv/python), and says what to do."""
    home = tmp_path / "home"
    home.mkdir()
    share = home / ".local" / "share"
    env = {"HOME": str(home), "UV_PYTHON_DOWNLOADS": "never", "XDG_DATA_HOME": str(share),
           "UV_PYTHON_INSTALL_DIR": str(share / "uv" / "python")}
    run = run_cli("interpreters", "add", "--runtime", "python3.12", "--arch", "arm64",
                  env=env)
    assert run.returncode == 2, run.stderr
    assert "uv could not install" in run.stderr and "Traceback" not in run.stderr
    assert not (home / ".local").exists()
