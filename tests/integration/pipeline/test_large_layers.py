"""Large layers against the real index: numpy + pandas + pyarrow for python3.12 x86_64.

One refused build and one `--slim --strip` build are shared by the module's tests
(they download ~90 MB the first time; uv's cache serves them after that).
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.archive.zipwriter import iter_tree, write_zip
from lambdalayer.common.limits import UNZIPPED_LIMIT
from lambdalayer.pipeline.wheel_streams.members import StreamRef, open_wheel
from tests.conftest import find_python, require
from tests.helpers import assert_clean_failure, run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]

BIG = ["analytics", "-p", "numpy", "-p", "pandas", "-p", "pyarrow",
       "--runtime", "python3.12", "--arch", "x86_64"]
SITE = "python/lib/python3.12/site-packages"


def python312() -> str | None:
    """A CPython 3.12 that runs: pyenv's install first (its shim on PATH may not be active)."""
    installs = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"), reverse=True)
    for candidate in [*map(str, installs), find_python("3.12")]:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True,
                                        check=False).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"LAMBDALAYER_CACHE_DIR": str(tmp_path_factory.mktemp("ll-cache"))}


@pytest.fixture(scope="module")
def slim_build(tmp_path_factory: pytest.TempPathFactory,
               cache_env: dict[str, str]) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("big") / "dist"
    run = run_cli("build", *BIG, "--slim", "--strip", "--out", str(out), "--json",
                  env=cache_env)
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    return {"out": out, "artifact": artifact, "stderr": run.stderr}


def test_too_large_is_refused_with_a_breakdown_and_computed_savings(tmp_path: Path) -> None:
    run = run_cli("build", *BIG, "--out", str(tmp_path / "dist"))
    assert_clean_failure(run, 4)
    message = run.stderr
    assert "over Lambda's 262,144,000-byte" in message
    assert "pyarrow 26" in message or "pyarrow " in message
    assert "Largest files:" in message and "libarrow" in message
    # Every option is named with the bytes it would save on this very tree.
    for option in ("--slim", "--strip", "--exclude :runtime:"):
        assert f"  {option} " in message
    assert "saves " in message and "under the limit" in message
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_slim_and_strip_make_it_fit_and_the_audit_is_clean(slim_build: dict[str, Any]) -> None:
    artifact = slim_build["artifact"]
    assert artifact["unzipped_size"] <= UNZIPPED_LIMIT
    assert [f for f in artifact["findings"] if f["severity"] == "error"] == []
    assert "removed: --slim removed" in slim_build["stderr"]
    assert "--strip (" in slim_build["stderr"]
    with zipfile.ZipFile(artifact["path"]) as archive:
        names = archive.namelist()
    assert not any("/tests/" in n or n.endswith((".pyx", ".pxd", ".pyi", ".h")) for n in names)
    assert any(n.startswith(f"{SITE}/numpy-") and n.endswith(".dist-info/METADATA")
               for n in names)
    manifest = json.loads(Path(artifact["manifest"]).read_text())
    assert (manifest["inputs"]["slim"], manifest["inputs"]["strip"]) == (True, True)


def test_the_layer_alone_imports_on_python312(slim_build: dict[str, Any],
                                              tmp_path: Path) -> None:
    python = python312()
    require(python is not None, "CPython 3.12 (pyenv) is not installed")
    assert python is not None
    with zipfile.ZipFile(slim_build["artifact"]["path"]) as archive:
        archive.extractall(tmp_path)
    code = (f"import sys; sys.path[:0] = [{str(tmp_path / SITE)!r}, {str(tmp_path / 'python')!r}]"
            "; import numpy, pandas, pyarrow, pyarrow.parquet, pyarrow.compute"
            "; t = pyarrow.Table.from_pandas(pandas.DataFrame({'a': numpy.arange(3)}))"
            "; print(t.num_rows, numpy.__file__)")
    run = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("3 ") and str(tmp_path) in run.stdout


def test_rebuilds_and_worker_counts_give_the_same_bytes(
    slim_build: dict[str, Any], cache_env: dict[str, str], tmp_path: Path
) -> None:
    first = Path(slim_build["artifact"]["path"]).read_bytes()
    # A forced rebuild elsewhere, served by the (now warm) member cache...
    run = run_cli("build", *BIG, "--slim", "--strip", "--force", "--out",
                  str(tmp_path / "again"), env=cache_env)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "again" / "analytics.zip").read_bytes() == first
    # ...and the same tree zipped again on one worker without any cache.
    with zipfile.ZipFile(slim_build["artifact"]["path"]) as archive:
        archive.extractall(tmp_path / "tree")
        for info in archive.infolist():  # extractall drops the modes; the zip records them
            (tmp_path / "tree" / info.filename).chmod((info.external_attr >> 16) & 0o777)
    # The zip copies the wheels' own deflate streams (docs/zip-format.md): the same
    # wheels, from the cache the build kept them in, give the same bytes on one worker.
    wheels = [open_wheel(path, path.stem) for path in
              sorted(Path(cache_env["LAMBDALAYER_CACHE_DIR"], "wheels").rglob("*.whl"))]
    streams = {f"{SITE}/{name}": StreamRef(wheel=wheel, name=name, member=member, dist="")
               for wheel in wheels if wheel is not None
               for name, member in wheel.members.items()}
    assert len(wheels) >= 3 and streams
    stats = write_zip(iter_tree(tmp_path / "tree"), tmp_path / "one.zip", workers=1,
                      streams=streams)
    assert (tmp_path / "one.zip").read_bytes() == first and stats.reused > 1000
    # A stripped shared object is not its wheel's member any more: deflated here, its
    # entry not the wheel's stream; an untouched module is the wheel's stream.
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = {i.filename: i for i in archive.infolist()}
    stripped = [n for n in streams if n.endswith(".so") and n in infos
                and streams[n].member.crc != infos[n].CRC]
    assert stripped, "--strip changed some shared objects"
    for wheel in wheels:
        if wheel is not None:
            wheel.close()


def test_exclude_takes_exclusive_dependencies_and_keeps_shared_ones(tmp_path: Path) -> None:
    run = run_cli("build", "api", "-p", "boto3", "-p", "requests", "--exclude", "boto3",
                  "--runtime", "python3.12", "--arch", "x86_64", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    packages = {p["name"] for p in artifact["packages"]}
    assert packages.isdisjoint({"boto3", "botocore", "s3transfer", "jmespath"})
    assert {"requests", "urllib3", "idna", "certifi"} <= packages
    with zipfile.ZipFile(artifact["path"]) as archive:
        tops = {n[len(SITE) + 1:].split("/")[0] for n in archive.namelist()}
    assert "boto3" not in tops and "botocore" not in tops and "urllib3" in tops
    assert "excluded boto3, botocore" in run.stderr


def test_exclude_runtime_and_compression_level(tmp_path: Path) -> None:
    runs = {level: run_cli("build", "api", "-p", "boto3", "-p", "requests",
                           "--exclude", ":runtime:", "--runtime", "python3.12", "--arch", "x86_64",
                           "--compression-level", str(level), "--out", str(tmp_path / str(level)),
                           "--json")
            for level in (1, 9)}
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    artifacts = {level: run.json()["artifacts"][0] for level, run in runs.items()}
    packages = {p["name"] for p in artifacts[9]["packages"]}
    assert packages == {"requests", "idna", "certifi", "charset-normalizer"}
    assert artifacts[9]["size"] < artifacts[1]["size"]
    assert artifacts[9]["unzipped_size"] == artifacts[1]["unzipped_size"]


def test_bad_exclude_and_level_are_usage_errors(tmp_path: Path) -> None:
    bad_name = run_cli("build", "api", "-p", "six", "--exclude", "six>=1", "--out",
                       str(tmp_path))
    assert_clean_failure(bad_name, 2)
    assert ":runtime:" in bad_name.stderr
    bad_level = run_cli("build", "api", "-p", "six", "--compression-level", "12")
    assert bad_level.returncode == 2 and "Traceback" not in bad_level.stderr
