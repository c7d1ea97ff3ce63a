"""`build --test-report` imports the layer once: the build's own proof run is the test report.

The interpreter for python3.12/x86_64 is named through LAMBDALAYER_PYTHON_3_12_X86_64
as a wrapper script that logs every start, so the tests count what a user could count:
how often the layer was imported (`-I -S -B` with an import runner's config, which has
"paths"; `-I -S -c` is the finder's one probe of the interpreter, and a first build's
helper that compiles beside the proof gets a config with "precompile").
"""

from __future__ import annotations

import base64
import hashlib
import platform
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.helpers import run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture
def counted(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """(environment, log): python3.12/x86_64 proven by a CPython 3.12 that logs each start."""
    from lambdalayer.interpreters.find import find_interpreter

    require(platform.system() == "Linux" and platform.machine() == "x86_64",
            "a Linux x86_64 host (the layer is built for python3.12/x86_64)")
    found = find_interpreter("3.12")
    require(found is not None, "CPython 3.12 (pyenv install 3.12)")
    assert found is not None
    log = tmp_path / "starts.log"
    wrapper = tmp_path / "python3.12"
    # $6 is the runner's config (script.config_argument): "paths" imports, "precompile"
    # only compiles.
    wrapper.write_text(f'#!/bin/sh\necho "$1 $2 $3 $6" >> {log}\n'
                       f'exec {found.path} "$@"\n')
    wrapper.chmod(0o755)
    # The wrapper writes its log on the host: a box shows the host's files read-only or
    # not at all (docs/sandbox-and-limits.md), so these runs are unboxed.
    return {"LAMBDALAYER_PYTHON_3_12_X86_64": str(wrapper), "LAMBDALAYER_SANDBOX": "none"}, log


def _imports(log: Path) -> int:
    """How many times the layer was imported (runs of the import runner)."""
    import marshal

    lines = log.read_text().splitlines() if log.exists() else []
    runs = [line.split(" ", 3) for line in lines if line.startswith("-I -S -B ")]
    return sum("paths" in marshal.loads(base64.b64decode(run[3])) for run in runs)


def _report(document: dict[str, Any]) -> dict[str, Any]:
    """A test report without its timings (they differ from run to run)."""
    return {
        "status": document["status"], "imports_from": document["imports_from"],
        "problems": document["problems"], "check": document["check"],
        "targets": [{**{k: v for k, v in t.items() if k not in ("seconds", "imports")},
                     "imports": [{k: v for k, v in i.items() if k != "seconds"}
                                 for i in t["imports"]]} for t in document["targets"]],
    }


def _project(root: Path, cli_module: str) -> Path:
    """A local project whose main module imports and whose second one runs `cli_module`."""
    files = {
        "pyproject.toml": '[project]\nname = "mainpkg"\nversion = "1.0"\n'
                          '[build-system]\nrequires = ["hatchling"]\n'
                          'build-backend = "hatchling.build"\n'
                          '[tool.hatch.build.targets.wheel]\n'
                          'packages = ["src/mainpkg", "src/mainpkg_cli"]\n',
        "src/mainpkg/__init__.py": "VALUE = 1\n",
        "src/mainpkg_cli/__init__.py": cli_module,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    return root


def test_build_proof_imports_a_native_layer_once(counted: tuple[dict[str, str], Path],
                                                 tmp_path: Path) -> None:
    env, log = counted
    out = tmp_path / "dist"
    # orjson is native; scramp brings asn1crypto, which was not asked for, but which
    # `lambdalayer test` imports too (every top-level package of the layer).
    run = run_cli("build", "oj", "-p", "orjson", "-p", "scramp", "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(out), "--test-report", "--json", env=env)
    assert run.returncode == 0, run.stderr
    assert _imports(log) == 1  # the proof's run serves the test report: no second import
    [artifact] = run.json()["artifacts"]
    assert artifact["import_test"]["status"] == "passed"
    report = artifact["test_report"]
    [target] = report["targets"]
    assert [i["module"] for i in target["imports"]] == ["asn1crypto", "orjson", "scramp"]
    assert target["seconds"] > 0 and target["how"] == "native"
    assert report["source"] == str(out / "oj.zip")

    # The same report `lambdalayer test` makes of the zip (what --test-report ran before).
    test = run_cli("test", str(out / "oj.zip"), "--json", env=env)
    assert test.returncode == 0, test.stderr
    assert _imports(log) == 2
    assert _report(report) == _report(test.json())


def test_an_up_to_date_zip_is_tested_itself(counted: tuple[dict[str, str], Path],
                                            tmp_path: Path) -> None:
    env, log = counted
    args = ("build", "oj", "-p", "orjson==3.11.5", "--runtime", "python3.12", "--arch",
            "x86_64", "--out", str(tmp_path / "dist"), "--test-report", "--json")
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert _imports(log) == 1
    # Exact pins, nothing changed: not rebuilt, so nothing was proven in this run and
    # --test-report imports the zip.
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert _imports(log) == 2
    [artifact] = again.json()["artifacts"]
    assert artifact["up_to_date"]
    assert artifact["import_test"]["reason"] == "the zip was up to date; not rebuilt"
    assert _report(artifact["test_report"]) == _report(first.json()["artifacts"][0]["test_report"])


def test_build_test_report_failures_keep_their_exit_codes(counted: tuple[dict[str, str], Path],
                                                    tmp_path: Path) -> None:
    env, log = counted
    # A secondary module needing an extra: the build's proof only warns (the zip is
    # written), the test report fails it as `test` does: exit 6, the zip stays.
    extra = _project(tmp_path / "extra", "import yaml  # the [cli] extra\n")
    out = tmp_path / "dist"
    run = run_cli("build", "ok", "-p", str(extra), "--runtime", "python3.12", "--arch",
                  "x86_64", "--out", str(out), "--test-report", "--json", env=env)
    assert run.returncode == 6, run.stderr
    assert _imports(log) == 1
    document = run.json()
    [artifact] = document["artifacts"]
    assert artifact["import_test"]["status"] == "passed"
    assert any("mainpkg_cli" in w and "optional extra" in w for w in document["warnings"])
    assert (out / "ok.zip").exists()
    report = artifact["test_report"]
    assert report["status"] == "failed"
    test = run_cli("test", str(out / "ok.zip"), "--json", env=env)
    assert test.returncode == 6
    assert _report(report) == _report(test.json())

    # Your own --source module fails: the build's proof judges it as your code (exit 6,
    # no zip), in the same one run that serves as the test report.
    source = tmp_path / "src"
    source.mkdir()
    (source / "helper.py").write_text("import numpy\n", "utf-8")
    before = _imports(log)
    run = run_cli("build", "own", "-p", "orjson", "--source", str(source), "--runtime",
                  "python3.12", "--arch", "x86_64", "--out", str(out), "--test-report", "--json",
                  env=env)
    assert run.returncode == 6, run.stderr
    assert _imports(log) == before + 1
    assert (f"import helper (your code (--source {source})): ModuleNotFoundError: "
            "No module named 'numpy'") in run.stderr
    assert not (out / "own.zip").exists()

    # The main module fails: the build's proof stops it, no zip, exit 6, one import.
    broken = _project(tmp_path / "broken", "")
    (broken / "src" / "mainpkg" / "__init__.py").write_text("import numpy\n", "utf-8")
    before = _imports(log)
    run = run_cli("build", "broken", "-p", str(broken), "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(out), "--test-report", env=env)
    assert run.returncode == 6, run.stderr
    assert "mainpkg imports numpy, which is not in the layer" in run.stderr
    assert not (out / "broken.zip").exists()
    assert _imports(log) == before + 1


def test_build_test_report_that_cannot_run_exits_7(tmp_path: Path) -> None:
    require(platform.system() == "Linux", "a Linux host")
    # A named interpreter that is not there: the target cannot be tried; nothing starts.
    env = {"LAMBDALAYER_PYTHON_3_12_X86_64": str(tmp_path / "gone" / "python3.12")}
    out = tmp_path / "dist"
    run = run_cli("build", "oj", "-p", "orjson", "--runtime", "python3.12", "--arch",
                  "x86_64", "--out", str(out), "--test-report", "--json", env=env)
    assert run.returncode == 7, run.stderr
    assert (out / "oj.zip").exists()  # the build itself succeeded
    [artifact] = run.json()["artifacts"]
    [target] = artifact["test_report"]["targets"]
    assert target["status"] == "not-run" and "does not exist" in target["reason"]
    assert artifact["import_test"]["targets"][0]["status"] == "skipped"


def test_build_test_report_with_the_proof_off_tests_the_zip(
        counted: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, log = counted
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.oj]\npackages = ["orjson"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\nproof = false\n', "utf-8")
    run = run_cli("build", "--test-report", "--json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["import_test"]["status"] == "skipped"
    assert artifact["test_report"]["status"] == "passed"
    assert _imports(log) == 1  # the zip's test: the proof did not run


def _wheel_with_an_empty_directory(folder: Path) -> Path:
    """emptyd 1.0: a pure wheel whose `emptyd/data/` is a directory entry with nothing in
    it (uv makes the directory; a zip of the tree has no entry for it)."""
    files = {
        "emptyd/__init__.py": b"VALUE = 1\n",
        "emptyd-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: emptyd\nVersion: 1.0\n\n",
        "emptyd-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
                                      b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    wheel = folder / "emptyd-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        archive.writestr(zipfile.ZipInfo("emptyd/data/"), b"")
        record.append("emptyd-1.0.dist-info/RECORD,,")
        archive.writestr("emptyd-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def test_a_tree_the_zip_does_not_hold_as_is_is_tested_as_zipped(
        counted: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, log = counted
    # An empty directory in the tree: the zip cannot hold it, so the proof's run on the
    # tree does not stand for the zip, which --test-report then imports itself.
    wheel = _wheel_with_an_empty_directory(tmp_path)
    out = tmp_path / "dist"
    run = run_cli("build", "emptyd", "-p", str(wheel), "--runtime", "python3.12", "--arch",
                  "x86_64", "--out", str(out), "--test-report", "--json", env=env)
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["import_test"]["status"] == "passed"
    assert artifact["test_report"]["status"] == "passed"
    assert _imports(log) == 2  # the proof's on the tree, then the zip's own


def test_uv_told_to_install_by_symlink_still_gives_real_files(
        counted: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    """UV_LINK_MODE=symlink (a user's speed setting) would fill the tree with links into
    uv's cache, which a zip leaves out; lambdalayer installs real files regardless."""
    env, log = counted
    out = tmp_path / "dist"
    run = run_cli("build", "linked", "-p", "six", "--runtime", "python3.12", "--arch",
                  "x86_64", "--out", str(out), "--test-report", "--json",
                  env={**env, "UV_LINK_MODE": "symlink"})
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["test_report"]["status"] == "passed"
    with zipfile.ZipFile(out / "linked.zip") as layer:
        assert "python/six.py" in layer.namelist()
    assert _imports(log) == 1  # the tree is the zip: imported once
