"""Interpreters named in the project config ([tool.lambdalayer.interpreters]) prove targets.

Each test runs the CLI in a project directory whose pyproject.toml names the
interpreter, with every other place lambdalayer looks made empty (no root
filesystems, an empty cache), so what is found can only come from the config.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.network

ROOTS = os.environ.get("LAMBDALAYER_TEST_INTERPRETERS", "")


def _project(directory: Path, table: dict[str, str]) -> Path:
    lines = ["[project]", 'name = "app"', "", "[tool.lambdalayer.interpreters]"]
    lines += [f'"{key}" = "{value}"' for key, value in table.items()]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return directory


def _isolated(scratch: Path, **extra: str) -> dict[str, str]:
    """No root filesystems, an empty cache, no explicit LAMBDALAYER_PYTHON_* variables."""
    (scratch / "no-roots").mkdir(parents=True, exist_ok=True)
    env = {"LAMBDALAYER_INTERPRETERS": str(scratch / "no-roots"),
           "LAMBDALAYER_CACHE_DIR": str(scratch / "cache")}
    for name in os.environ:
        if name.startswith("LAMBDALAYER_PYTHON_"):
            env[name] = ""
    return {**env, **extra}


def _pyenv_python(version: str) -> Path:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{version}.*/bin/python{version}"))
    require(bool(found), f"a pyenv CPython {version} (~/.pyenv/versions)")
    return found[-1]


def _arm64_root(version: str) -> Path:
    for directory in [Path(p) for p in ROOTS.split(os.pathsep) if p]:
        for root in [directory, *(directory.iterdir() if directory.is_dir() else [])]:
            if (root / "usr" / "bin" / f"python{version}").is_file() and "arm64" in root.name:
                return root
    require(False, f"an arm64 CPython {version} root filesystem in "
                   "$LAMBDALAYER_TEST_INTERPRETERS (`lambdalayer interpreters add`)")
    raise AssertionError  # unreachable: require fails or skips


def _rows(run_dir: Path, env: dict[str, str], *args: str) -> dict[str, dict[str, object]]:
    run = run_cli("interpreters", *args, "--json", cwd=run_dir, env=env)
    assert run.returncode == 0, run.stderr
    return {f"{r['runtime']}/{r['arch']}": r for r in run.json()["interpreters"]}


def test_an_arm64_root_filesystem_named_in_the_config_proves_the_layer(
        tmp_path: Path) -> None:
    require(platform.machine() == "x86_64", "emulating arm64 is tested from an x86_64 host")
    require(shutil.which("qemu-aarch64") is not None, "qemu-user (qemu-aarch64) not installed")
    root = _arm64_root("3.11")
    env = _isolated(tmp_path)
    bare = tmp_path / "elsewhere"  # the same machine without the config
    bare.mkdir()
    assert _rows(bare, env, "--runtime", "python3.11", "--arch", "arm64")[
        "python3.11/arm64"]["found"] is False

    project = _project(tmp_path / "app", {
        "python3.11-arm64": str(root / "usr" / "bin" / "python3.11")})
    row = _rows(project, env, "--runtime", "python3.11", "--arch", "arm64")["python3.11/arm64"]
    assert (row["found"], row["source"], row["how"]) == (True, "config", "qemu-aarch64")
    listing = run_cli("interpreters", "--runtime", "python3.11", "--arch", "arm64",
                      cwd=project, env=env)
    assert "named by config" in listing.stdout + listing.stderr

    build = run_cli("build", "oj", "-p", "orjson", "--runtime", "python3.11", "--arch",
                    "arm64", "--json", cwd=project, env=env)
    assert build.returncode == 0, build.stderr
    proof = build.json()["artifacts"][0]["import_test"]
    assert proof["status"] == "passed"
    assert "python3.11/arm64: imported under qemu-aarch64, CPython 3.11" in build.stderr
    test = run_cli("test", "dist/oj.zip", "--json", cwd=project, env=env)
    assert test.returncode == 0, test.stderr
    assert [t["how"] for t in test.json()["targets"]] == ["qemu-aarch64"]


def test_a_named_interpreter_is_used_as_named_and_the_environment_wins(
        tmp_path: Path) -> None:
    python = _pyenv_python("3.12")
    link = tmp_path / "app" / "bin" / "python3.12"
    link.parent.mkdir(parents=True)
    link.symlink_to(python)
    project = _project(tmp_path / "app", {"python3.12-x86_64": "bin/python3.12"})
    env = _isolated(tmp_path)
    row = _rows(project, env, "--runtime", "python3.12", "--arch", "x86_64")[
        "python3.12/x86_64"]
    assert (row["source"], row["interpreter"]) == ("config", str(link))

    other = _pyenv_python("3.12")  # the same CPython, reached through the environment
    row = _rows(project, {**env, "LAMBDALAYER_PYTHON_3_12_X86_64": str(other)},
                "--runtime", "python3.12", "--arch", "x86_64")["python3.12/x86_64"]
    assert (row["source"], row["interpreter"]) == ("env", str(other))


def test_a_named_interpreter_that_cannot_serve_is_reported_not_replaced(
        tmp_path: Path) -> None:
    _pyenv_python("3.12")  # a CPython the finder would otherwise pick for python3.12/x86_64
    x86_python = _pyenv_python("3.11")
    project = _project(tmp_path / "app", {"python3.12-x86_64": "bin/gone",
                                          "python3.11-arm64": str(x86_python)})
    env = _isolated(tmp_path)
    rows = _rows(project, env, "--runtime", "python3.12", "--runtime", "python3.11",
                 "--arch", "x86_64", "--arch", "arm64")
    missing = rows["python3.12/x86_64"]
    assert missing["found"] is False
    assert f"{project / 'bin' / 'gone'}, which does not exist" in str(missing["reason"])
    assert str(project / "pyproject.toml") in str(missing["reason"])
    wrong = rows["python3.11/arm64"]
    assert wrong["found"] is False
    assert "is an x86_64 executable, not aarch64" in str(wrong["reason"])

    build = run_cli("build", "six", "-p", "six==1.17.0", "--runtime", "python3.12",
                    "--json", cwd=project, env=env)
    assert build.returncode == 0, build.stderr  # the audit gated it; the proof says why not
    targets = build.json()["artifacts"][0]["import_test"]["targets"]
    assert targets[0]["status"] == "skipped" and "does not exist" in targets[0]["reason"]


def test_a_config_key_that_is_not_a_target_is_a_usage_error(tmp_path: Path) -> None:
    project = _project(tmp_path / "app", {"python3.12-sparc": "/usr/bin/python3"})
    run = run_cli("interpreters", cwd=project, env=_isolated(tmp_path))
    assert_clean_failure(run, 2)
    assert "Unknown architecture 'sparc'" in run.stderr
