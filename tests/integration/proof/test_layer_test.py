"""`lambdalayer test` and `build --test-report` on the real interpreters of this machine."""

from __future__ import annotations

import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli, without_interpreters

pytestmark = [pytest.mark.network, pytest.mark.slow]

# The Lambda architecture this host can run natively (None: not a Linux Lambda machine).
HOST_ARCH = ({"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
             if platform.system() == "Linux" else None)


@pytest.fixture(scope="module")
def pg8000_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pg8000")
    run = run_cli("build", "pg8000", "--runtime", "python3.11", "--runtime", "python3.12",
                  "--out", str(out))
    assert run.returncode == 0, run.stderr
    return out / "pg8000.zip"


@pytest.fixture(autouse=True)
def _interpreters() -> None:
    require(find_interpreter("3.11") is not None and find_interpreter("3.12") is not None,
            "CPython 3.11 and 3.12 are needed (pyenv install 3.11 3.12)")


def _zip_tree(root: Path, destination: Path) -> Path:
    """A zip of `root`'s contents, made the way people make layers by hand."""
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return destination


def test_layer_imports_as_lambda_would(pg8000_zip: Path) -> None:
    run = run_cli("test", str(pg8000_zip), "--json")
    assert run.returncode == 0, run.stderr
    document = run.json()
    assert document["schema"] == 1 and document["status"] == "passed" and document["ok"]
    # Runtimes and architectures come from the manifest; the imports from the recipe.
    assert document["imports_from"] == "manifest"
    targets = {t["target"]: t for t in document["targets"]}
    assert set(targets) == {"python3.11/x86_64", "python3.11/arm64", "python3.12/x86_64",
                            "python3.12/arm64"}
    for name in ("python3.11/x86_64", "python3.12/x86_64"):
        target = targets[name]
        assert target["python_version"].startswith(name[6:10] + ".")
        assert [i["module"] for i in target["imports"]] == ["pg8000", "pg8000.native", "scramp"]
        assert all(i["ok"] for i in target["imports"])
        assert target["imports"][0]["seconds"] > 0  # scramp is then already loaded
        assert target["imports"][0]["origin"] == "/opt/python/pg8000/__init__.py"
    # Pure Python: the arm64 result is the x86_64 run (same files), and says so.
    assert targets["python3.11/arm64"]["covered_by"] == "python3.11/x86_64"
    assert targets["python3.11/arm64"]["status"] == "passed"


def test_host_packages_are_invisible(pg8000_zip: Path) -> None:
    """click is installed where lambdalayer runs; the layer's interpreter must not see it."""
    run = run_cli("test", str(pg8000_zip), "--runtime", "python3.11", "--arch", "x86_64",
                  "--import", "click", "--import", "pg8000")
    assert run.returncode == 6, run.stderr
    assert "ModuleNotFoundError: No module named 'click'" in run.stdout
    assert "lambdalayer check" in run.stdout


def test_default_imports_are_every_top_level_package(pg8000_zip: Path, tmp_path: Path) -> None:
    bare = tmp_path / "layer.zip"
    bare.write_bytes(pg8000_zip.read_bytes())  # no manifest beside it: no recipe imports
    run = run_cli("test", str(bare), "--runtime", "python3.12", "--json")
    assert run.returncode == 0, run.stderr
    document = run.json()
    assert document["imports_from"] == "layer"
    [target] = document["targets"]
    assert [i["module"] for i in target["imports"]] == [
        "asn1crypto", "dateutil", "pg8000", "scramp", "tzdata"]


def test_a_layer_directory_can_be_tested(pg8000_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pg8000_zip) as archive:
        archive.extractall(tmp_path / "layer")
    run = run_cli("test", str(tmp_path / "layer"), "--runtime", "python3.11", "--import",
                  "pg8000.native", "--json")
    assert run.returncode == 0, run.stderr
    assert not list((tmp_path / "layer").rglob("__pycache__"))  # /opt is read-only on Lambda


def test_files_zipped_without_python_prefix_fail(pg8000_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pg8000_zip) as archive:
        archive.extractall(tmp_path / "layer")
    flat = _zip_tree(tmp_path / "layer" / "python", tmp_path / "flat.zip")
    run = run_cli("test", str(flat), "--runtime", "python3.11", "--json")
    assert run.returncode == 6
    [target] = run.json()["targets"]
    assert target["status"] == "failed" and "python/ prefix" in target["reason"]


def test_usage_errors_are_clean(pg8000_zip: Path, tmp_path: Path) -> None:
    bare = tmp_path / "layer.zip"
    bare.write_bytes(pg8000_zip.read_bytes())
    assert_clean_failure(run_cli("test", str(bare)), 2)  # which runtime?
    assert_clean_failure(run_cli("test", str(tmp_path / "missing.zip"), "--runtime",
                                 "python3.11"), 2)
    assert_clean_failure(run_cli("test", str(bare), "--runtime", "python3.11", "--handler",
                                 "handler.handler"), 2)  # --handler without --code
    assert_clean_failure(run_cli("test", str(bare), "--runtime", "python9.1"), 2)


def test_a_broken_handler_fails_with_its_error(pg8000_zip: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import pg8000\n\ndef handler(event, context):\n"
                                 "    return {'got': event, 'left': "
                                 "context.get_remaining_time_in_millis() > 0}\n\n"
                                 "def broken(event, context):\n    raise KeyError('x')\n")
    ok = run_cli("test", str(pg8000_zip), "--runtime", "python3.11", "--arch", "x86_64",
                 "--code", str(code), "--handler", "app.handler", "--event", '{"a": 1}',
                 "--json")
    assert ok.returncode == 0, ok.stderr
    assert ok.json()["targets"][0]["handler"]["result"] == {"got": {"a": 1}, "left": True}
    bad = run_cli("test", str(pg8000_zip), "--runtime", "python3.11", "--arch", "x86_64",
                  "--code", str(code), "--handler", "app.broken", "--event", "{}")
    assert bad.returncode == 6
    assert "KeyError: 'x'" in bad.stdout and 'File "/var/task/app.py"' in bad.stdout


def test_build_test_report(tmp_path: Path) -> None:
    run = run_cli("build", "pg8000", "--runtime", "python3.11", "--test-report", "--json",
                  "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["test_report"]["status"] == "passed"
    assert artifact["test_report"]["check"] is None  # build audited already


def test_build_test_report_cannot_run_a_missing_runtime(tmp_path: Path) -> None:
    run = run_cli("build", "pg8000", "--runtime", "python3.14", "--test-report", "--out",
                  str(tmp_path / "dist"), env=without_interpreters(tmp_path))
    assert run.returncode == 7, run.stderr
    assert "no CPython 3.14 on this host" in run.stdout
    assert (tmp_path / "dist" / "pg8000.zip").exists()  # the build itself succeeded


# --- the failure this project exists for ----------------------------------------------


@pytest.fixture(scope="module")
def macos_psycopg2_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer zipped on a Mac: psycopg2-binary's macOS arm64 wheel unpacked into python/."""
    base = tmp_path_factory.mktemp("macos")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--platform", "macosx_11_0_arm64", "--python-version", "3.11",
         "--implementation", "cp", "-d", str(base / "wheels"), "psycopg2-binary==2.9.11"],
        check=True, timeout=300)
    [wheel] = (base / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(base / "layer" / "python")
    return _zip_tree(base / "layer", base / "psycopg2-macos.zip")


def test_macos_layer_fails_as_on_lambda(macos_psycopg2_zip: Path) -> None:
    require(HOST_ARCH is not None, "needs a Linux x86_64 or aarch64 host")
    assert HOST_ARCH is not None
    run = run_cli("test", str(macos_psycopg2_zip), "--runtime", "python3.11", "--arch",
                  HOST_ARCH, "--import", "psycopg2")
    assert run.returncode == 6, run.stderr
    assert "No module named 'psycopg2._psycopg'" in run.stdout
    assert 'File "/opt/python/psycopg2/__init__.py"' in run.stdout

    check = run_cli("check", str(macos_psycopg2_zip), "--runtime", "python3.11", "--arch",
                    HOST_ARCH, "--json")
    assert check.returncode == 4
    findings = check.json()["findings"]
    macho = [f for f in findings if f["path"].endswith("_psycopg.cpython-311-darwin.so")]
    assert macho and macho[0]["code"] == "foreign-binary-macho"
    assert "No module named 'psycopg2._psycopg'" in macho[0]["message"]


def test_foreign_architecture_falls_back_to_check(macos_psycopg2_zip: Path) -> None:
    other = "arm64" if HOST_ARCH != "arm64" else "x86_64"
    run = run_cli("test", str(macos_psycopg2_zip), "--runtime", "python3.11", "--arch",
                  other, "--json")
    assert run.returncode == 7, run.stderr
    document = run.json()
    assert document["status"] == "not-run"
    # No interpreter of the other architecture was provisioned (the test's own cache):
    # the reason says how to get one.
    reason = document["targets"][0]["reason"]
    assert "lambdalayer interpreters add" in reason or "install qemu-user" in reason
    assert document["check"]["ok"] is False
    assert "foreign-binary-macho" in {f["code"] for f in document["check"]["findings"]}
