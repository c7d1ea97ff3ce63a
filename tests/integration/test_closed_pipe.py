"""A reader that closes the pipe (`lambdalayer build ... 2>&1 | head -1`) stops the
output, not the work: the command finishes, exits with its own status
(docs/exit-codes.md) and leaves whole artifacts; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.package_index import make_wheel, serve_index


def _through_head(args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                  both: bool = True) -> tuple[int, str]:
    """Run lambdalayer with stdout (and stderr, with `both`) into a pipe whose reader
    takes one line and closes it, as `| head -1` does. Returns (status, stderr kept)."""
    errors = cwd / "stderr.txt"
    with errors.open("w") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "lambdalayer", *args], cwd=cwd,
            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if both else err_file)
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()
        status = process.wait(timeout=300)
    return status, errors.read_text()


@pytest.mark.parametrize("args", [
    ["--help"], ["runtimes"], ["recipes"], ["build", "--help"], ["runtimes", "--json"],
])
def test_listing_commands_end_quietly(tmp_path: Path, args: list[str]) -> None:
    status, stderr = _through_head(args, cwd=tmp_path, both=False)
    assert status == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_build_into_a_closed_pipe_finishes_its_zip(tmp_path: Path,
                                                     json_flag: list[str]) -> None:
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "ll-fixture-pipe", "1.0",
               files={f"ll_fixture_pipe/m{i}.py": b"x = 1\n" * 200 for i in range(40)})
    env = {"UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    with serve_index(index_dir) as index:
        status, _ = _through_head(
            ["build", "piped", "-p", "ll-fixture-pipe", "--runtime", "python3.12",
             "--arch", "x86_64", "--no-proof", *json_flag],
            cwd=tmp_path, env={**env, "UV_DEFAULT_INDEX": index})
    assert status == 0
    with zipfile.ZipFile(tmp_path / "dist" / "piped.zip") as archive:
        assert archive.testzip() is None
        assert "python/ll_fixture_pipe/m39.py" in archive.namelist()
    assert (tmp_path / "dist" / "piped.json").is_file()
    assert not [p for p in (tmp_path / "dist").iterdir() if p.name.startswith(".")]
