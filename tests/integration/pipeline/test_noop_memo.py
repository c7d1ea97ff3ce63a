"""An unchanged rebuild answered from its memo (common/noop_memo.py), and every change
that must send it back to the build: an edited input, a tampered zip, a new config
file, another environment, a forged memo.

Each run is a fresh process; the probe records whether the build's modules were loaded
(the memo answers without them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.package_index import make_wheel, serve_index

_PROBE = r"""
import json, sys
from lambdalayer.cli import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as done:
    code = done.code
sys.stdout.flush()
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "built": "lambdalayer.pipeline.layer" in sys.modules,
               "click": "click" in sys.modules}, out)
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = tmp_path_factory.mktemp("memo-index")
    for version in ("1.0", "2.0"):
        make_wheel(files, "llmemo", version, files={"llmemo/__init__.py": b"X = 1\n"})
    with serve_index(files) as url:
        yield url


def _run(tmp_path: Path, index: str, *extra: str,
         env: dict[str, str] | None = None) -> tuple[dict[str, Any], str, str]:
    record = tmp_path / "probe.json"
    args = ["build", "memo", "-r", "requirements.txt", "--index-url", index,
            "--runtime", "python3.12", "--arch", "x86_64", "--no-proof", *extra]
    done = subprocess.run([sys.executable, "-c", _PROBE, str(record), *args],
                          env={**os.environ, "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache"),
                               **(env or {})},
                          cwd=tmp_path / "project", capture_output=True, text=True,
                          check=False, timeout=300)
    seen: dict[str, Any] = json.loads(record.read_text())
    record.unlink()
    return seen, done.stdout, done.stderr


def _age(root: Path, seconds: float = 30) -> None:
    """Every file's mtime moved into the past: the memo distrusts files changed within
    2 s of it (a same-tick write could keep the times), as tests write and build at once."""
    past = time.time() - seconds
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.utime(Path(folder, name), (past, past))


def _memoized(tmp_path: Path, index: str) -> tuple[str, str]:
    """A project built, rebuilt (writing the memo), then answered from it: its output."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("llmemo==1.0\n")
    first, _, err = _run(tmp_path, index)
    assert first["code"] == 0, err
    _age(tmp_path)
    second, out, err = _run(tmp_path, index)
    assert second["code"] == 0 and second["built"], err
    assert "up to date" in out
    assert list((tmp_path / "cache" / "noop").glob("*.json")), "no memo written"
    third, out3, err3 = _run(tmp_path, index)
    assert third == {"code": 0, "built": False, "click": False}, err3
    assert (out3, err3) == (out, err)  # the same bytes, on the same streams
    return out, err


def test_an_unchanged_rebuild_is_answered_from_its_memo(index: str, tmp_path: Path) -> None:
    _memoized(tmp_path, index)
    assert len(list((tmp_path / "cache" / "noop").glob("*.json"))) == 1


def test_an_edited_requirements_file_is_built(index: str, tmp_path: Path) -> None:
    _memoized(tmp_path, index)
    requirements = tmp_path / "project" / "requirements.txt"
    before = requirements.stat()
    requirements.write_text("llmemo==2.0\n")  # same size; the times put back
    os.utime(requirements, ns=(before.st_atime_ns, before.st_mtime_ns))

    seen, out, err = _run(tmp_path, index)

    assert seen["built"] and seen["code"] == 0, err
    assert "llmemo" in out and "2.0" in out and "up to date" not in out


def test_a_zip_changed_in_place_is_not_answered_from_the_memo(
        index: str, tmp_path: Path) -> None:
    _memoized(tmp_path, index)
    archive = tmp_path / "project" / "dist" / "memo.zip"
    before = archive.stat()
    data = bytearray(archive.read_bytes())
    data[40] ^= 0xFF
    archive.write_bytes(bytes(data))
    os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns))

    seen, out, _err = _run(tmp_path, index)

    assert seen["built"], "a tampered zip must go back to the build's own check"
    assert "up to date" not in out


def test_a_new_config_file_above_the_project_is_not_answered_from_the_memo(
        index: str, tmp_path: Path) -> None:
    """The config lookup walks up from the working directory: a lambdalayer.toml made in
    the folder above (no file of the project changes) sends the run to the build."""
    _memoized(tmp_path, index)
    (tmp_path / "lambdalayer.toml").write_text('out = "elsewhere"\n')

    seen, _out, err = _run(tmp_path, index)

    assert seen["click"], err


def test_another_environment_is_another_memo(index: str, tmp_path: Path) -> None:
    _memoized(tmp_path, index)

    seen, _out, err = _run(tmp_path, index, env={"UV_HTTP_TIMEOUT": "31"})

    assert seen["built"], err


def test_a_forged_memo_is_ignored(index: str, tmp_path: Path) -> None:
    """A memo whose output was changed in a shared cache fails its signature."""
    _memoized(tmp_path, index)
    memo = next((tmp_path / "cache" / "noop").glob("*.json"))
    stored = json.loads(memo.read_text())
    stored["body"] = stored["body"].replace("up to date", "all good, deploy")
    memo.write_text(json.dumps(stored))

    seen, out, _err = _run(tmp_path, index)

    assert seen["built"] and "all good, deploy" not in out


def test_a_forced_build_leaves_no_memo_and_is_never_answered(
        index: str, tmp_path: Path) -> None:
    _memoized(tmp_path, index)

    seen, out, err = _run(tmp_path, index, "--force")

    assert seen["built"] and "up to date" not in out, err


def test_inputs_changed_just_before_leave_no_memo(index: str, tmp_path: Path) -> None:
    """A file written within 2 s of the memo could change again in the same clock tick
    without its times changing: such a run writes no memo."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("llmemo==1.0\n")
    for _ in range(2):
        seen, _out, err = _run(tmp_path, index)
        assert seen["code"] == 0, err
    assert not list((tmp_path / "cache" / "noop").glob("*.json"))


def test_ctrl_c_while_answering_from_the_memo_is_exit_130_without_a_traceback(
        tmp_path: Path) -> None:
    """Ctrl-C can land while the memo's answer is printed, before the command's own
    signal handling exists: one line and exit 130, as everywhere else."""
    script = ("from lambdalayer.common import noop_memo\n"
              "def interrupted(args):\n"
              "    raise KeyboardInterrupt\n"
              "noop_memo.replay = interrupted\n"
              "from lambdalayer.cli import main\n"
              "main(['build', 'memo'])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=60,
                          env={**os.environ, "LAMBDALAYER_CACHE_DIR": str(tmp_path / "c")})
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Interrupted (Ctrl-C)")
