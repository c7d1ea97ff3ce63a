"""A project that publishes only an sdist is built once, not on every build or for every
target: uv's earlier build is used while the index, asked, still offers exactly what
uv's cache holds (docs/commands/cache.md). The index made here sends no caching
headers, as this machine's does: uv alone would build the sdist on every run."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.helpers import CliRun, run_cli
from tests.package_index import make_sdist, make_wheel, serve_index

pytestmark = pytest.mark.network  # isolated sdist builds fetch setuptools from PyPI


def build(index: str, tmp_path: Path, *args: str) -> CliRun:
    env = {"UV_DEFAULT_INDEX": index, "UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    run = run_cli("build", "src", *args, "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                  "--force", "--json", env=env)
    assert run.returncode == 0, run.stderr
    return run


def _versions(run: CliRun) -> dict[str, str]:
    [artifact] = run.json()["artifacts"]
    return {p["name"]: p["version"] for p in artifact["packages"]}


def _zip_bytes(run: CliRun) -> bytes:
    [artifact] = run.json()["artifacts"]
    return Path(artifact["path"]).read_bytes()


def test_an_sdist_is_built_again_only_when_the_index_offers_something_new(
        tmp_path: Path) -> None:
    files, log = tmp_path / "index", tmp_path / "setup-runs.log"
    make_wheel(files, "ll-fixture-dep", "1.0", files={"ll_fixture_dep/__init__.py": b"V = 1\n"})
    make_sdist(files, "ll-fixture-srconly", "1.0", module="ll_fixture_srconly",
               requires=("ll-fixture-dep",), build_log=log)
    with serve_index(files) as index:
        first = build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        runs = log.read_text()
        assert runs  # built once
        second = build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        assert log.read_text() == runs  # not again
        assert _zip_bytes(second) == _zip_bytes(first)
        assert _versions(second) == {"ll-fixture-srconly": "1.0", "ll-fixture-dep": "1.0"}

        # A new release of the dependency: the cache's page is stale, the index is asked.
        make_wheel(files, "ll-fixture-dep", "1.1",
                   files={"ll_fixture_dep/__init__.py": b"V = 2\n"})
        third = build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        assert _versions(third)["ll-fixture-dep"] == "1.1"

        # A new release of the sdist-only project: built.
        make_sdist(files, "ll-fixture-srconly", "2.0", module="ll_fixture_srconly",
                   requires=("ll-fixture-dep",), build_log=log)
        fourth = build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        assert _versions(fourth)["ll-fixture-srconly"] == "2.0"
        assert "ll-fixture-srconly 2.0" in log.read_text()
        with zipfile.ZipFile(Path(fourth.json()["artifacts"][0]["path"])) as archive:
            init = archive.read("python/ll_fixture_srconly/__init__.py")
        assert init == b"VERSION = '2.0'\n"


def test_an_sdist_replaced_under_the_same_name_is_built_again(tmp_path: Path) -> None:
    files, log = tmp_path / "index", tmp_path / "setup-runs.log"
    make_sdist(files, "ll-fixture-srconly", "1.0", module="ll_fixture_srconly", build_log=log)
    with serve_index(files) as index:
        build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        runs = log.read_text()
        build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        assert log.read_text() == runs  # taken from uv's cache
        # A private index that lets a release's file be uploaded again, other bytes.
        make_sdist(files, "ll-fixture-srconly", "1.0", module="ll_fixture_srconly",
                   build_log=log, module_text="VERSION = 'replaced'\n")
        third = build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
    assert len(log.read_text()) > len(runs)
    with zipfile.ZipFile(Path(third.json()["artifacts"][0]["path"])) as archive:
        assert archive.read("python/ll_fixture_srconly/__init__.py") == b"VERSION = 'replaced'\n"


def test_a_second_wheel_that_fits_sends_the_build_to_the_index(tmp_path: Path) -> None:
    files, log = tmp_path / "index", tmp_path / "setup-runs.log"
    make_wheel(files, "ll-fixture-dep", "1.0", files={"ll_fixture_dep/__init__.py": b""})
    make_sdist(files, "ll-fixture-srconly", "1.0", module="ll_fixture_srconly",
               requires=("ll-fixture-dep",), build_log=log)
    with serve_index(files) as index:
        build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
        runs = log.read_text()
        # The same release gains a wheel uv may prefer: uv's cache cannot say which.
        make_wheel(files, "ll-fixture-dep", "1.0", file_tag="py312-none-any",
                   files={"ll_fixture_dep/__init__.py": b""})
        build(index, tmp_path, "-p", "ll-fixture-srconly", "--runtime", "python3.12")
    assert len(log.read_text()) > len(runs)  # uv ran online, and built again


def test_every_target_uses_the_one_build_of_an_sdist(tmp_path: Path) -> None:
    files, log = tmp_path / "index", tmp_path / "setup-runs.log"
    make_wheel(files, "ll-fixture-dep", "1.0", files={"ll_fixture_dep/__init__.py": b""})
    make_sdist(files, "ll-fixture-srconly", "1.0", module="ll_fixture_srconly", build_log=log)
    asked: list[tuple[str, bool]] = []
    with serve_index(files, requests=asked) as index:
        # Markers that differ per runtime (here to the same end): a resolution per runtime.
        run = build(index, tmp_path, "-p", "ll-fixture-srconly",
                    "-p", "ll-fixture-dep; python_version >= '3.13'",
                    "-p", "ll-fixture-dep; python_version < '3.13'",
                    "--runtime", "python3.12", "--runtime", "python3.13")
    builds = {line for line in log.read_text().splitlines()}
    assert builds == {"ll-fixture-srconly 1.0"}
    runs = len(log.read_text().splitlines())
    [artifact] = run.json()["artifacts"]
    with zipfile.ZipFile(artifact["path"]) as archive:
        names = set(archive.namelist())
    for version in ("3.12", "3.13"):
        assert f"python/lib/python{version}/site-packages/ll_fixture_srconly/__init__.py" in names
    # One build: the second runtime's tree came from uv's cache, not from another build
    # (each build runs setup.py the same number of times).
    # And the second runtime asked the index nothing about it: it used what the first read.
    single = tmp_path / "single"
    single_log = single / "setup-runs.log"
    make_sdist(single / "index", "ll-fixture-srconly", "1.0", module="ll_fixture_srconly",
               build_log=single_log)
    make_wheel(single / "index", "ll-fixture-dep", "1.0",
               files={"ll_fixture_dep/__init__.py": b""})
    asked_once: list[tuple[str, bool]] = []
    with serve_index(single / "index", requests=asked_once) as index:
        build(index, single, "-p", "ll-fixture-srconly",
              "-p", "ll-fixture-dep; python_version >= '3.13'",
              "-p", "ll-fixture-dep; python_version < '3.13'", "--runtime", "python3.12")
    assert runs == len(single_log.read_text().splitlines())
    page = "/simple/ll-fixture-srconly/"
    assert [p for p, _ in asked if p == page] == [p for p, _ in asked_once if p == page]
