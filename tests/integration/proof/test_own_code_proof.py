"""The import proof covers your own code (--source, local projects) and the underscore-named
modules a distribution installs when they are all it has, or are extension modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdalayer.proof.prove import dist_modules
from tests.conftest import require
from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so

pytestmark = pytest.mark.network

# An extension module whose init returns NULL without an exception: it cannot import
# (SystemError), and needs no Python headers to build.
_BROKEN_INIT = "void *PyInit_{name}(void) {{ return 0; }}\n"
_SO = ".cpython-312-x86_64-linux-gnu.so"


@pytest.fixture(autouse=True)
def _host_python() -> None:
    from lambdalayer.interpreters.find import find_interpreter

    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv)")


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def _build(cwd: Path, *args: str, index: str | None = None) -> CliRun:
    env = {"UV_CACHE_DIR": str(cwd / "uvcache"), "LAMBDALAYER_CACHE_DIR": str(cwd / "llcache")}
    if index:
        env["UV_DEFAULT_INDEX"] = index
    return run_cli("build", *args, "--runtime", "python3.12", "--arch", "x86_64",
                   "--out", "dist", cwd=cwd, env=env)


def test_a_source_module_that_fails_at_import_stops_the_build(tmp_path: Path) -> None:
    _write(tmp_path, {"src/mymod/__init__.py": "from mymod import helpers\n",
                      "src/mymod/helpers.py": "X = 1\nraise RuntimeError('no config')\n"})
    run = _build(tmp_path, "app", "-p", "six", "--source", "./src")
    assert_clean_failure(run, 6)
    assert ("python3.12/x86_64: import mymod (your code (--source src)): "
            "RuntimeError: no config") in run.stderr
    assert "at: /opt/python/mymod/helpers.py, line 2" in run.stderr
    assert "Fix your code or the requirements" in " ".join(run.stderr.split())
    assert not (tmp_path / "dist" / "app.zip").exists()

    (tmp_path / "src" / "mymod" / "helpers.py").write_text("X = 1\n", "utf-8")
    _write(tmp_path, {"src/tool.py": "import six\n", "src/_private.py": "Y = 2\n"})
    fixed = _build(tmp_path, "app", "-p", "six", "--source", "./src")
    assert fixed.returncode == 0, fixed.stderr
    assert "imported your code (--source src): _private, mymod, tool" in fixed.stdout


def test_a_source_of_data_files_only_has_nothing_to_import(tmp_path: Path) -> None:
    _write(tmp_path, {"data/settings.json": "{}\n", "data/templates/page.html": "<p>\n",
                      "data/not-a-package/mod.py": "raise RuntimeError('never imported')\n"})
    run = _build(tmp_path, "app", "-p", "six", "--source", "./data")
    assert run.returncode == 0, run.stderr
    assert "imported natively" in run.stdout and "imported your code" not in run.stdout


def test_an_included_module_in_python_is_imported(tmp_path: Path) -> None:
    _write(tmp_path, {"extra/plugin.py": "raise ImportError('plugin is broken')\n"})
    run = _build(tmp_path, "app", "-p", "six", "--include", "./extra/plugin.py:python/")
    assert_clean_failure(run, 6)
    assert ("import plugin (your code (--include ./extra/plugin.py:python/)): "
            "ImportError: plugin is broken") in run.stderr


def test_a_local_project_that_fails_at_import_stops_the_build(tmp_path: Path) -> None:
    _write(tmp_path / "libs" / "common", {
        "pyproject.toml": '[project]\nname = "common"\nversion = "0.1.0"\n'
                          '[build-system]\nrequires = ["hatchling"]\n'
                          'build-backend = "hatchling.build"\n',
        "src/common/__init__.py": "raise ValueError('bad default')\n",
    })
    run = _build(tmp_path, "app", "-p", "six", "-p", "./libs/common")
    assert_clean_failure(run, 6)
    assert "import common (common): ValueError: bad default" in run.stderr


def _underscore_wheels(index: Path, cc: Path) -> None:
    """ll-clib: only a broken extension `_ll_clib`; ll-clibpy: only a broken `_ll_clibpy.py`;
    ll-fast: a public module and a broken extension `_ll_fast` beside it."""
    tag = "cp312-cp312-manylinux_2_17_x86_64"
    for name in ("_ll_clib", "_ll_fast"):
        compile_so(cc, f"{name}{_SO}", _BROKEN_INIT.format(name=name))
    make_wheel(index, "ll-clib", "1.0", file_tag=tag,
               files={f"_ll_clib{_SO}": (cc / f"_ll_clib{_SO}").read_bytes()})
    make_wheel(index, "ll-clibpy", "1.0",
               files={"_ll_clibpy.py": b"import ll_yaml  # the package it serves\n"})
    make_wheel(index, "ll-fast", "1.0", file_tag=tag, files={
        "ll_fast/__init__.py": b"VALUE = 1\n",
        f"_ll_fast{_SO}": (cc / f"_ll_fast{_SO}").read_bytes()})


@pytest.mark.parametrize(("dist", "module", "error"), [
    ("ll-clib", "_ll_clib", "SystemError"),
    ("ll-clibpy", "_ll_clibpy", "No module named 'll_yaml'"),
])
def test_a_distribution_whose_only_module_is_underscore_named_is_imported(
        tmp_path: Path, dist: str, module: str, error: str) -> None:
    _underscore_wheels(tmp_path / "index", tmp_path / "cc")
    with serve_index(tmp_path / "index") as index:
        run = _build(tmp_path, "app", "-p", dist, index=index)
    assert_clean_failure(run, 6)
    assert f"import {module} ({dist}): " in run.stderr and error in run.stderr


def test_a_broken_extension_beside_a_public_module_is_a_warning(tmp_path: Path) -> None:
    _underscore_wheels(tmp_path / "index", tmp_path / "cc")
    with serve_index(tmp_path / "index") as index:
        run = _build(tmp_path, "app", "-p", "ll-fast", index=index)
    assert run.returncode == 0, run.stderr
    assert "import _ll_fast (ll-fast): SystemError" in run.stderr
    assert "main module imports" in run.stderr


def test_dist_modules_takes_extensions_and_leaves_private_python_out(tmp_path: Path) -> None:
    site = _write(tmp_path / "site", {"pkg/__init__.py": "", "_helper.py": "",
                                      "_inner/__init__.py": "", f"_speed{_SO}": "",
                                      "_plain.so": ""})
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    assert dist_modules(site, "pkg-1.0.dist-info", files) == ["_plain", "_speed", "pkg"]
    only_private = [f for f in files if not f.startswith("pkg/")]
    os.remove(site / "pkg" / "__init__.py")
    (site / "pkg").rmdir()
    assert dist_modules(site, "x-1.0.dist-info", only_private) == [
        "_helper", "_inner", "_plain", "_speed"]
