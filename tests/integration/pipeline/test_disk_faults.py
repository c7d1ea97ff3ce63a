"""A full disk, a read-only directory and an unwritable cache, on real small filesystems.

Each test mounts its own tmpfs (root only; CI runs as root), so the faults are
the kernel's, not mocks: ENOSPC while the zip is written, EROFS for the
manifest or lock file, and a build cache that cannot be written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import write_atomic
from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel

SMALL = ["lay", "--runtime", "python3.12", "--arch", "x86_64"]


def mount_tmpfs(directory: Path, options: str) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    can_mount = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
        capture_output=True, check=False).returncode == 0
    require(can_mount, "mounting a tmpfs needs root (and a kernel that allows it)")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    yield from mount_tmpfs(tmp_path / "small", "size=300k")


@pytest.fixture
def read_only_fs(tmp_path: Path) -> Iterator[Path]:
    yield from mount_tmpfs(tmp_path / "ro", "ro,size=64k")


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())}


@pytest.mark.network
def test_full_disk_while_zipping_keeps_the_previous_zip_and_manifest(small_fs: Path,
                                                                      tmp_path: Path) -> None:
    out = small_fs / "dist"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    first = run_cli("build", *SMALL, "-p", "six", "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    assert set(before) == {"lay.zip", "lay.json", "lay.cdx.json"}
    # pytz zips to ~500 KB: more than the 300 KB filesystem has left.
    run = run_cli("build", *SMALL, "-p", "six", "-p", "pytz", "--out", str(out), env=env)
    assert_clean_failure(run, 2)
    assert f"Could not write {out / 'lay.zip'}: No space left on device" in run.stderr
    assert "is full" in run.stderr and "--out" in run.stderr
    assert snapshot(out) == before  # no temporary or partial file, the old pair intact
    assert list(tmpdir.iterdir()) == []


def test_full_disk_while_writing_a_manifest_or_lock_file(small_fs: Path) -> None:
    target = small_fs / "lay.json"
    target.write_bytes(b'{"old": true}')
    filler = small_fs / "filler"
    with filler.open("wb", buffering=0) as handle:  # fill the filesystem to the last block
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with pytest.raises(UsageError) as caught:
        write_atomic(target, b"x" * 100_000)
    assert f"Could not write {target}" in str(caught.value)
    assert "is full" in str(caught.value)
    assert target.read_bytes() == b'{"old": true}'
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "lay.json"]


def test_read_only_directory_names_the_path_and_the_fix(read_only_fs: Path) -> None:
    with pytest.raises(UsageError) as caught:
        write_atomic(read_only_fs / "requirements-python3.12-x86_64.lock", b"six==1.17.0\n")
    message = str(caught.value)
    assert "Read-only file system" in message and "may not write" in message
    assert list(read_only_fs.iterdir()) == []


@pytest.mark.network
def test_unwritable_cache_directory_builds_without_it_and_warns(read_only_fs: Path,
                                                               tmp_path: Path) -> None:
    run = run_cli("build", *SMALL, "-p", "six", "--out", str(tmp_path / "dist"),
                  env={"LAMBDALAYER_CACHE_DIR": str(read_only_fs)})
    assert run.returncode == 0, run.stderr
    assert f"The build cache {read_only_fs / 'zip-members'} cannot be written" in run.stderr
    assert (tmp_path / "dist" / "lay.zip").is_file()


@pytest.fixture
def tiny_tmpdir(tmp_path: Path) -> Iterator[Path]:
    yield from mount_tmpfs(tmp_path / "tiny", "size=64k")


def test_a_full_tmpdir_is_named_not_called_a_resolution_failure(tiny_tmpdir: Path,
                                                                 tmp_path: Path) -> None:
    """uv fails copying a 200 KB module into the work folder in a 64 KB TMPDIR: said as
    the full disk it is (exit 2), not "Cannot resolve the requirements"."""
    wheel = make_wheel(tmp_path / "wheels", "llbig", "1.0",
                       files={"llbig/__init__.py": b"", "llbig/big.py": b"#" * 200_000})
    run = run_cli("build", *SMALL, "-p", str(wheel), "--no-proof", "--out",
                  str(tmp_path / "dist"), env={"TMPDIR": str(tiny_tmpdir)})
    assert_clean_failure(run, 2)
    assert f"The disk holding TMPDIR ({tiny_tmpdir}) is full: free space or set TMPDIR " \
           "to another disk." in " ".join(run.stderr.split()), run.stderr
    assert "Cannot resolve" not in run.stderr


def test_a_full_tmpdir_while_check_extracts_is_not_a_corrupt_entry(tiny_tmpdir: Path,
                                                                   tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("python/big.py", b"#" * 300_000)
    run = run_cli("check", str(archive), "--runtime", "python3.12", "--arch", "x86_64",
                  env={"TMPDIR": str(tiny_tmpdir)})
    assert_clean_failure(run, 2)
    assert f"The disk holding TMPDIR ({tiny_tmpdir}) is full" in run.stderr, run.stderr
    assert "corrupt-zip-entry" not in run.stderr
    assert list(tiny_tmpdir.iterdir()) == []
