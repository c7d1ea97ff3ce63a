"""Your names stay yours (docs/own-code.md, "Your names stay yours"): a local project
named like a public one is never asked of an index, nor replaced by the index's release
of that name, however much newer. Run as a user would: the installed CLI against a
loopback index that offers `common` 9.0 as an sdist whose setup.py writes a marker."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.package_index import make_sdist, make_wheel, serve_index

pytestmark = pytest.mark.network  # the local project's build backend comes from PyPI


def _local_common(root: Path) -> Path:
    files = {
        "pyproject.toml": '[project]\nname = "common"\nversion = "0.1.0"\n'
                          '[build-system]\nrequires = ["hatchling"]\n'
                          'build-backend = "hatchling.build"\n',
        "src/common/__init__.py": "WHOSE = 'ours'\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    return root


def test_a_local_project_named_like_a_public_one_is_never_asked_of_the_index(
        tmp_path: Path) -> None:
    offered = tmp_path / "index"
    marker = tmp_path / "public-setup-py-ran"
    make_sdist(offered, "common", "9.0", module="common", build_log=marker,
               module_text="WHOSE = 'public'\n")
    make_wheel(offered, "llother", "1.0")  # something else the layer asks the index for
    _local_common(tmp_path / "common")
    requests: list[tuple[str, bool]] = []
    with serve_index(offered, requests=requests) as url:
        run = run_cli("build", "x", "-p", "./common", "-p", "llother", "--index-url", url,
                      "--runtime", "python3.12", "--arch", "x86_64", "--no-proof",
                      "--out", "dist", "--json", cwd=tmp_path,
                      env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}, timeout=300)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "x.zip") as archive:
        assert archive.read("python/common/__init__.py") == b"WHOSE = 'ours'\n"
        assert "python/common-0.1.0.dist-info/METADATA" in archive.namelist()
    [artifact] = run.json()["artifacts"]
    assert {p["name"]: p["version"] for p in artifact["packages"]} == \
        {"common": "0.1.0", "llother": "1.0"}
    paths = [path for path, _ in requests]
    assert any("/simple/llother/" in p for p in paths), paths  # the index was asked
    assert not marker.exists(), run.stderr
    assert not [p for p in paths if "common" in p], (paths, run.stderr)
    assert "newest release" not in run.stderr, run.stderr
