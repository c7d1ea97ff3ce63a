"""Messages that agree with themselves.

Each test is a journey a user took that printed two things that cannot both be
true: "import FAILED" then "built", "imported natively" for an arm64 target on an
x86_64 host, a traceback instead of saying the layer is empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import host_machine
from tests.conftest import find_python, require
from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index

ROOT = Path(__file__).resolve().parents[2]


def _index(files: Path) -> None:
    make_wheel(files, "six", "1.17.0", files={"six.py": b"X = 1\n"})
    make_wheel(files, "ll-fixture-uses-six", "1.0", requires=("six",),
               files={"ll_fixture_uses_six/__init__.py": b"import six\n"})


def _build(tmp_path: Path, *args: str) -> CliRun:
    files = tmp_path / "index"
    _index(files)
    with serve_index(files) as index:
        return run_cli("build", *args, "--out", str(tmp_path / "dist"),
                       env={"UV_DEFAULT_INDEX": index,
                            "UV_CACHE_DIR": str(tmp_path / "uvcache")})


def test_a_module_needing_what_was_left_out_for_the_runtime_is_imported_with_its_sdk(
        tmp_path: Path) -> None:
    """six is left out for the runtime to provide: the proof imports the layer with the
    runtime's SDK after it (six among its dependencies), never "import FAILED"."""
    require(find_python("3.11") is not None, "CPython 3.11")
    run = _build(tmp_path, "rt", "-p", "ll-fixture-uses-six", "--exclude", ":runtime:",
                 "--runtime", "python3.11", "--arch", host_arch())
    assert run.returncode == 0, run.stderr
    assert "FAILED" not in run.stdout + run.stderr
    assert "built " in run.stdout
    assert "with the runtime's boto3 1.34.126? at /var/runtime" in run.stdout
    assert "not tried here" not in run.stdout + run.stderr


def _sdk_index(files: Path) -> None:
    """The runtime's SDK as AWS's table lists it for python3.11, and a package needing it."""
    from lambdalayer.targets.runtime_sdk import listed_release

    boto3, botocore, _ = listed_release("python3.11")
    assert boto3 and botocore
    make_wheel(files, "botocore", botocore,
               files={"botocore/__init__.py": f"__version__ = {botocore!r}\n".encode()})
    make_wheel(files, "boto3", boto3, requires=(f"botocore=={botocore}",),
               files={"boto3/__init__.py": f"__version__ = {boto3!r}\n".encode()})
    make_wheel(files, "ll-fixture-uses-boto3", "1.0", requires=("boto3",),
               files={"ll_fixture_uses_boto3/__init__.py":
                      b"import boto3\nassert boto3.__file__.startswith('/var/runtime/')\n"})


def test_the_proof_places_the_runtime_sdk_where_lambda_has_it(tmp_path: Path) -> None:
    """--exclude :runtime: leaves boto3 out; the proof imports the layer with the
    runtime's own boto3 release after it (at /var/runtime), and says so."""
    require(find_python("3.11") is not None, "CPython 3.11")
    files = tmp_path / "index"
    _sdk_index(files)
    with serve_index(files) as index:
        run = run_cli("build", "aws", "-p", "ll-fixture-uses-boto3", "--exclude", ":runtime:",
                      "--runtime", "python3.11", "--arch", host_arch(),
                      "--out", str(tmp_path / "dist"), "--json",
                      env={"UV_DEFAULT_INDEX": index,
                           "UV_CACHE_DIR": str(tmp_path / "uvcache")})
    assert run.returncode == 0, run.stderr
    target = json.loads(run.stdout)["artifacts"][0]["import_test"]["targets"][0]
    assert target["status"] == "passed", target
    assert target["left_out"] == []
    assert target["runtime_sdk"].startswith("with the runtime's boto3 1.34.126"), target
    assert target["runtime_sdk"].endswith("at /var/runtime")
    with zipfile.ZipFile(tmp_path / "dist" / "aws.zip") as archive:
        assert not [n for n in archive.namelist() if "boto3" in n.split("/")[1:3]]


def test_without_the_runtime_sdk_the_proof_says_why(tmp_path: Path) -> None:
    """No SDK to place (here: the cache is off): what needs it is "not tried", and why;
    still not a failure."""
    require(find_python("3.11") is not None, "CPython 3.11")
    files = tmp_path / "index"
    _index(files)
    with serve_index(files) as index:
        run = run_cli("build", "rt", "-p", "ll-fixture-uses-six", "--exclude", ":runtime:",
                      "--runtime", "python3.11", "--arch", host_arch(),
                      "--out", str(tmp_path / "dist"),
                      env={"UV_DEFAULT_INDEX": index, "LAMBDALAYER_CACHE_MAX": "0",
                           "UV_CACHE_DIR": str(tmp_path / "uvcache")})
    assert run.returncode == 0, run.stderr
    assert "FAILED" not in run.stdout + run.stderr
    assert "without the runtime's SDK (the cache is off" in run.stdout
    assert "not tried here: ll_fixture_uses_six" in run.stdout
    assert "left out with --exclude for the runtime to provide; not tried here" in run.stderr


def test_a_layer_the_excludes_leave_empty_is_refused(tmp_path: Path) -> None:
    run = _build(tmp_path, "rt", "-p", "six", "--exclude", ":runtime:",
                 "--runtime", "python3.12", "--arch", "x86_64")
    assert_clean_failure(run, 2)
    assert "Nothing is left in layer rt: --exclude :runtime: leaves out every package" \
        in " ".join(run.stderr.split())
    assert not (tmp_path / "dist" / "rt.zip").exists()


def host_arch() -> str:
    return "arm64" if host_machine() == "aarch64" else "x86_64"


def test_a_pure_layer_for_the_other_architecture_does_not_say_natively(
        tmp_path: Path) -> None:
    require(find_python("3.11") is not None, "CPython 3.11")
    other = "x86_64" if host_arch() == "arm64" else "arm64"
    run = _build(tmp_path, "pure", "-p", "six", "--runtime", "python3.11", "--arch", other)
    assert run.returncode == 0, run.stderr
    assert "natively" not in run.stdout
    assert (f"python3.11/{other}: imported on {host_arch()} CPython 3.11" in run.stdout
            and f"(pure Python: the same bytes on {other})" in run.stdout), run.stdout


@pytest.mark.parametrize(("skipped", "said"), [
    (True, "Nothing changed: the newest published version already has these bytes."),
    (False, "No earlier published version to compare with."),
])
def test_the_action_summary_agrees_with_its_release_rows(tmp_path: Path, skipped: bool,
                                                         said: str) -> None:
    zip_path = str(tmp_path / "dist" / "demo.zip")
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:demo:1"
    (tmp_path / "lambdalayer-build.json").write_text(json.dumps({"artifacts": [{
        "name": "demo", "path": zip_path, "runtimes": ["python3.12"],
        "architectures": ["x86_64"], "size": 10, "unzipped_size": 20,
        "import_test": {"status": "skipped", "reason": "--no-proof", "targets": []}}]}))
    (tmp_path / "lambdalayer-publish.json").write_text(json.dumps({"layers": [{
        "name": "demo", "region": "us-east-1", "arn": arn, "skipped": skipped,
        "zip": zip_path}]}))
    done = subprocess.run([sys.executable, str(ROOT / "action" / "summary.py"),
                           str(tmp_path)], capture_output=True, text=True, check=True)
    assert said in done.stdout
    other = ("No earlier published version" if skipped else "Nothing changed")
    assert other not in done.stdout
