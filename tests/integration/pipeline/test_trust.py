"""Trust boundaries through the real CLI (docs/trust.md): links out of your folders,
/proc, FIFOs, and a config planted in a shared directory never reach a layer."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli

FAKE_SECRET = "ghp_FAKEfakeFAKE0123456789"


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("X = 1\n")
    return src


def _build(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    run = run_cli("build", "mine", *args, "--no-proof", "--out", "dist", cwd=tmp_path,
                  env={"GITHUB_TOKEN": FAKE_SECRET}, timeout=120)
    return run.returncode, run.stderr, tmp_path / "dist" / "mine.zip"


def _zip_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_a_link_to_proc_environ_is_refused_even_with_follow_links(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (src / "pkg" / "settings.txt").symlink_to("/proc/self/environ")
    for extra in ((), ("--follow-links",)):
        run = run_cli("build", "mine", "--source", "src", *extra, "--no-proof", "--out", "dist",
                      cwd=tmp_path, env={"GITHUB_TOKEN": FAKE_SECRET}, timeout=120)
        assert_clean_failure(run, 2)
        assert "pkg/settings.txt is a link to /proc/" in run.stderr
        assert not (tmp_path / "dist" / "mine.zip").exists()


def test_a_link_to_a_file_outside_the_folder_is_named_and_refused(tmp_path: Path) -> None:
    src = _source(tmp_path)
    outside = tmp_path / "deploy-key.pem"
    outside.write_text("PRIVATE KEY outside the source folder\n")
    (src / "pkg" / "key.pem").symlink_to(outside)
    code, stderr, zip_path = _build(tmp_path, "--source", "src")
    assert code == 2 and "Traceback" not in stderr
    assert f"pkg/key.pem is a link to {outside}" in stderr and "--follow-links" in stderr
    assert not zip_path.exists()
    code, stderr, zip_path = _build(tmp_path, "--source", "src", "--follow-links")
    assert code == 0, stderr
    assert b"PRIVATE KEY" in _zip_bytes(zip_path)


def test_an_include_folder_with_an_outside_link_or_a_fifo_is_refused(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "run.sh").write_text("#!/bin/sh\n")
    (tools / "passwd").symlink_to("/etc/passwd")
    code, stderr, zip_path = _build(tmp_path, "--include", "tools:bin/")
    assert code == 2 and "--include tools:bin/: passwd is a link to /etc/passwd" in stderr
    (tools / "passwd").unlink()
    os.mkfifo(tools / "pipe")  # reading it would block the build forever
    code, stderr, zip_path = _build(tmp_path, "--include", "tools:bin/")
    assert code == 2 and "pipe is a FIFO" in stderr
    assert not zip_path.exists()
    code, stderr, _ = _build(tmp_path, "--include", "/proc/self/environ:etc/env")
    assert code == 2 and "a file of the running system" in stderr


def test_a_link_inside_the_folder_is_stored_as_the_file(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (src / "pkg" / "alias.py").symlink_to("__init__.py")
    code, stderr, zip_path = _build(tmp_path, "--source", "src")
    assert code == 0, stderr
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo("python/pkg/alias.py")
        assert archive.read(info) == b"X = 1\n"
        assert (info.external_attr >> 16) & 0o170000 == 0o100000  # a regular file


def test_a_config_linked_into_a_shared_directory_is_not_adopted(tmp_path: Path) -> None:
    """Another user links pyproject.toml to our real config in a sticky world-writable
    directory and plants common/ beside it: a build below must not ship it."""
    ours = tmp_path / "ours"
    (ours / "common").mkdir(parents=True)
    (ours / "common" / "mine.py").write_text("X = 1\n")
    (ours / "pyproject.toml").write_text('[tool.lambdalayer.layers.app]\nsources = ["common"]\n')
    shared = tmp_path / "shared"
    (shared / "common").mkdir(parents=True)
    (shared / "common" / "planted.py").write_text("import os  # runs in your function\n")
    (shared / "work").mkdir()
    shared.chmod(0o1777)
    link = shared / "pyproject.toml"
    link.symlink_to(ours / "pyproject.toml")
    try:
        os.lchown(link, 65534, 65534)
    except PermissionError:
        require(False, "needs root to give a link another owner")
    run = run_cli("build", "--no-proof", "--out", str(tmp_path / "dist"), cwd=shared / "work",
                  timeout=120)
    assert_clean_failure(run, 2)  # no configuration found: name a recipe or a layer
    assert not (tmp_path / "dist").exists()
    # Linked from a directory of our own, it is adopted, with paths from the real file.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "pyproject.toml").symlink_to(ours / "pyproject.toml")
    run = run_cli("build", "--no-proof", "--out", str(tmp_path / "dist"), cwd=mine,
                  timeout=120)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "app.zip") as archive:
        assert archive.namelist() == ["python/mine.py"]
