"""Index credentials never reach uv's command line, which every local user can read in
/proc/PID/cmdline: they go through uv's environment (docs/trust.md), and builds, locks
and locked builds still reach the private index with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.common.uvtool import uv_binary
from tests.helpers import CliRun
from tests.package_index import PrivateIndex, make_wheel, private_index


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateIndex, ...]]:
    main, extra = tmp_path_factory.mktemp("main-files"), tmp_path_factory.mktemp("extra-files")
    make_wheel(main, "llprivate-pure", "1.0")
    make_wheel(extra, "llprivate-extra", "3.0")
    with private_index(main) as first, private_index(extra, password="0ther-s3cret@x") as second:
        yield first, second


def _run_recording_uv(tmp_path: Path, *args: str, cwd: Path) -> tuple[CliRun, list[list[str]]]:
    """`lambdalayer ARGS` with uv replaced by a script that logs its argv, then runs uv."""
    log = tmp_path / "uv-argv.jsonl"
    wrapper = tmp_path / "uv-recording"
    wrapper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv) + '\\n')\n"
        f"os.execv({uv_binary()!r}, [{uv_binary()!r}, *sys.argv[1:]])\n")
    wrapper.chmod(0o755)
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys\nimport lambdalayer.common.uvtool as uvtool\n"
        f"uvtool.uv_binary = lambda: {str(wrapper)!r}\n"
        "from lambdalayer.cli import main\nsys.argv[0] = 'lambdalayer'\nmain()\n")
    run = run_cli_script(launcher, *args, cwd=cwd)
    lines = log.read_text().splitlines() if log.exists() else []
    return run, [json.loads(line) for line in lines]


def run_cli_script(script: Path, *args: str, cwd: Path) -> CliRun:
    done = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=600, check=False)
    return CliRun(done.returncode, done.stdout, done.stderr)


def _assert_no_secret(argvs: list[list[str]], *indexes: PrivateIndex) -> None:
    assert argvs, "uv was not started"
    for index in indexes:
        quoted = index.url.split("//", 1)[1].split("@", 1)[0]  # user:password as in the URL
        for argv in argvs:
            joined = " ".join(argv)
            assert index.password not in joined and quoted not in joined, argv
            assert "s3cr3t" not in joined, argv


def test_a_build_from_private_indexes_passes_no_credentials_on_uv_command_lines(
        indexes: tuple[PrivateIndex, PrivateIndex], tmp_path: Path) -> None:
    main, extra = indexes
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url {extra.url}\nllprivate-extra\n")
    args = ("build", "private", "-p", "llprivate-pure", "-r", "requirements.txt",
            "--index-url", main.url, "--extra-index-url", extra.url,
            "--runtime", "python3.12", "--arch", "x86_64", "--json")

    run, argvs = _run_recording_uv(tmp_path, *args, cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    _assert_no_secret(argvs, main, extra)
    installs = [a for a in argvs if a[1:3] == ["pip", "install"]]
    assert installs and all("--index-url" not in a and "--extra-index-url" not in a
                            for a in installs)
    [artifact] = run.json()["artifacts"]
    assert {p["name"] for p in artifact["packages"]} == {"llprivate-pure", "llprivate-extra"}
    assert "s3cr3t" not in (tmp_path / "dist" / "private.json").read_text()
    # Moving the credentials changed nothing a build compares: the second run is up to date.
    again, _ = _run_recording_uv(tmp_path, *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.json()["artifacts"][0]["up_to_date"] is True


def test_lock_and_a_locked_build_pass_no_credentials_on_uv_command_lines(
        indexes: tuple[PrivateIndex, PrivateIndex], tmp_path: Path) -> None:
    main, _ = indexes
    (tmp_path / "lambdalayer.toml").write_text(
        f'index_url = "{main.url}"\n'
        '[layers.priv]\npackages = ["llprivate-pure"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\n')

    locked, lock_argvs = _run_recording_uv(tmp_path, "lock", "--json", cwd=tmp_path)
    assert locked.returncode == 0, locked.stderr
    built, build_argvs = _run_recording_uv(tmp_path, "build", "--locked", "--json",
                                           cwd=tmp_path)

    assert built.returncode == 0, built.stderr
    assert any(a[1:3] == ["pip", "compile"] for a in lock_argvs)
    _assert_no_secret(lock_argvs + build_argvs, main)
    assert "llprivate-pure==1.0" in (tmp_path / "locks/priv/python3.12-x86_64.txt").read_text()


def test_a_direct_url_with_credentials_goes_to_uv_in_a_private_file(
        indexes: tuple[PrivateIndex, PrivateIndex], tmp_path: Path) -> None:
    main, _ = indexes
    wheel = f"{main.url.rsplit('/simple', 1)[0]}/files/llprivate_pure-1.0-py3-none-any.whl"
    args = ("build", "direct", "-p", f"llprivate-pure @ {wheel}",
            "--runtime", "python3.12", "--arch", "x86_64", "--json")

    run, argvs = _run_recording_uv(tmp_path, *args, cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    _assert_no_secret(argvs, main)
    [artifact] = run.json()["artifacts"]
    assert [p["name"] for p in artifact["packages"]] == ["llprivate-pure"]
