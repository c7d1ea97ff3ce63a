"""Leftover work directories: a killed run's are removed later, a live or young one is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambdalayer.common.workdirs import (
    make_workdir,
    pid_alive,
    remove_own,
    sweep,
    swept_notice,
    workdir,
)
from tests.conftest import require

HOUR = 3600


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not pid_alive(process.pid)
    return process.pid


def leftover(root: Path, pid: int, *, age: float, size: int = 10_000) -> Path:
    path = root / f"lambdalayer-{pid}-abc123"
    (path / "resolve-0" / "numpy").mkdir(parents=True)
    (path / "resolve-0" / "numpy" / "core.so").write_bytes(b"\0" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_dead_owner_and_old_is_removed_and_counted(tmp_path: Path) -> None:
    stale = leftover(tmp_path, dead_pid(), age=2 * HOUR, size=123_456)
    swept = sweep(tmp_path)
    assert not stale.exists()
    assert (swept.directories, swept.freed) == (1, 123_456)


def test_live_owner_is_kept_even_when_old(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as live:
        try:
            kept = leftover(tmp_path, live.pid, age=5 * HOUR)
            assert sweep(tmp_path).directories == 0
            assert kept.exists()
        finally:
            live.kill()


def test_young_directory_of_a_dead_owner_is_kept(tmp_path: Path) -> None:
    kept = leftover(tmp_path, dead_pid(), age=60)
    assert sweep(tmp_path).directories == 0
    assert kept.exists()


def test_other_users_directory_and_unrelated_names_are_kept(tmp_path: Path) -> None:
    require(os.getuid() == 0, "chown to another user needs root")
    foreign = leftover(tmp_path, dead_pid(), age=2 * HOUR)
    os.chown(foreign, 4242, 4242)
    then = time.time() - 2 * HOUR
    os.utime(foreign, (then, then))
    unrelated = tmp_path / "lambdalayer-check-xyz"  # no pid: not ours to judge
    unrelated.mkdir()
    os.utime(unrelated, (then, then))
    assert sweep(tmp_path).directories == 0
    assert foreign.exists() and unrelated.exists()


def test_workdir_names_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    work = make_workdir()
    assert work.parent == tmp_path
    assert work.name.startswith(f"lambdalayer-{os.getpid()}-")
    # Our own directory is never swept, whatever its age.
    os.utime(work, (0, 0))
    assert sweep(tmp_path).directories == 0


def test_notice_says_what_was_freed(tmp_path: Path) -> None:
    leftover(tmp_path, dead_pid(), age=2 * HOUR, size=2_500_000)
    notice = swept_notice(tmp_path)
    assert notice is not None
    assert "Removed 1 work directory" in notice and "2.5 MB freed" in notice
    assert swept_notice(tmp_path) is None


def test_remove_own_takes_only_this_process_directories(tmp_path: Path) -> None:
    mine = leftover(tmp_path, os.getpid(), age=0)
    other = leftover(tmp_path, dead_pid(), age=0)
    prefix_of_mine = tmp_path / f"lambdalayer-{os.getpid()}0-abc"  # pid 1234 vs 12340
    prefix_of_mine.mkdir()
    assert remove_own(tmp_path) == 1
    assert not mine.exists() and other.exists() and prefix_of_mine.exists()


_SIGNALLED_EXIT = """
import os, subprocess, sys, time
from lambdalayer.common.workdirs import make_workdir
work = make_workdir()
(work / "resolve-0").mkdir()
# A child started outside any tracking (as when a signal lands between Popen and track)
# that keeps writing into the work directory.
child = subprocess.Popen([sys.executable, "-c",
    "import os, sys, time\\n"
    "while True:\\n"
    "    os.makedirs(sys.argv[1], exist_ok=True); time.sleep(0.01)",
    str(work / "resolve-0" / "numpy")])
print(child.pid, flush=True)
time.sleep(0.3)
from lambdalayer.cli import _terminated
_terminated(15)
"""


def test_a_signalled_exit_ends_children_and_removes_its_work_directory(tmp_path: Path) -> None:
    """The last step of a signalled run (after `finally` blocks a signal may have cut short):
    an untracked child still writing is ended and the run's work directory is gone."""
    run = subprocess.run([sys.executable, "-c", _SIGNALLED_EXIT], capture_output=True,
                         text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=60)
    assert run.returncode == 143, run.stderr
    assert "Terminated (SIGTERM)" in run.stderr
    time.sleep(0.2)
    assert list(tmp_path.iterdir()) == []
    child = int(run.stdout.split()[0])
    assert not pid_alive(child) or _zombie(child)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_remove_own_leaves_a_symlink_with_our_name(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "keep").mkdir(parents=True)
    root = tmp_path / "tmp"
    root.mkdir()
    (root / f"lambdalayer-{os.getpid()}-planted").symlink_to(elsewhere)
    assert remove_own(root) == 0
    assert (elsewhere / "keep").is_dir()


def test_a_proofs_scratch_folder_is_one_the_last_cleanup_removes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import proof stages its layer in `workdir("test")`: removed when its block ends,
    and by `remove_own` (a signalled process's last cleanup) when the block never does."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with workdir("test") as folder:
        assert folder.parent == tmp_path
        assert folder.name.startswith(f"lambdalayer-{os.getpid()}-test-")
        (folder / "opt").mkdir()
    assert not folder.exists()
    unfinished = workdir("test")
    stuck = unfinished.__enter__()  # a block a forced exit never leaves
    assert remove_own(tmp_path) == 1 and not stuck.exists()
