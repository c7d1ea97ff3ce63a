"""Several targets, one look at the index: a later target installs from uv's cache alone
when the pages the first target just read decide it, and asks the index otherwise."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.helpers import run_cli
from tests.package_index import PrivateIndex, make_wheel, private_index


def _page_reads(index: PrivateIndex, project: str) -> int:
    return sum(1 for path, ok in index.requests if ok and path.startswith(f"/simple/{project}"))


def _build(index: PrivateIndex, out: Path, *runtimes: str) -> dict[str, object]:
    args = [arg for runtime in runtimes for arg in ("--runtime", runtime)]
    run = run_cli("build", "reuse", "-p", "llreuse-app", "--index-url", index.url, *args,
                  "--arch", "x86_64", "--no-proof", "--force", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = run.json()
    return result


def _packages(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name.split("/")[-2].removesuffix(".dist-info") for name in archive.namelist()
                if name.endswith(".dist-info/METADATA")}


def test_second_runtime_reads_no_page_the_first_just_read(tmp_path: Path) -> None:
    files = tmp_path / "files"
    make_wheel(files, "llreuse-app", "1.0", requires=('llreuse-dep; python_version < "3.13"',))
    make_wheel(files, "llreuse-dep", "1.0")
    with private_index(files) as index:
        _build(index, tmp_path / "one", "python3.12")
        one = _page_reads(index, "llreuse-app")
        index.requests.clear()
        _build(index, tmp_path / "two", "python3.12", "python3.13")
        # The python3.13 target chose only what python3.12's resolution had just read.
        assert _page_reads(index, "llreuse-app") == one
    manifest = json.loads((tmp_path / "two" / "reuse.json").read_text())
    assert manifest["runtimes"] == ["python3.12", "python3.13"]
    assert _packages(tmp_path / "two" / "reuse.zip") == {"llreuse_app-1.0", "llreuse_dep-1.0"}


def test_a_page_not_read_this_build_is_asked_for(tmp_path: Path) -> None:
    """python3.13 alone needs llreuse-new, whose page the first target never read: the
    index is asked (a cached page could be days old), and 2.0, published after an earlier
    build cached 1.0's page, is what the layer holds."""
    files = tmp_path / "files"
    make_wheel(files, "llreuse-app", "1.0",
               requires=('llreuse-new; python_version >= "3.13"',))
    make_wheel(files, "llreuse-new", "1.0")
    with private_index(files) as index:
        _build(index, tmp_path / "early", "python3.13")  # uv caches llreuse-new's page
        make_wheel(files, "llreuse-new", "2.0")
        index.requests.clear()
        _build(index, tmp_path / "late", "python3.12", "python3.13")
        assert _page_reads(index, "llreuse-new") >= 1
    assert "llreuse_new-2.0" in _packages(tmp_path / "late" / "reuse.zip")


def test_a_project_page_is_read_once_for_all_its_wheels(tmp_path: Path) -> None:
    """Two runtimes, two wheels of one project (for their deflate streams): its index
    page is fetched once per build, not once per wheel (a page can be megabytes)."""
    files = tmp_path / "files"
    for tag in ("cp312-cp312", "cp313-cp313"):
        make_wheel(files, "llreuse-app", "1.0", file_tag=f"{tag}-manylinux_2_17_x86_64")
    with private_index(files) as index:
        _build(index, tmp_path / "warm", "python3.12", "python3.13")  # both wheels cached
        index.requests.clear()
        _build(index, tmp_path / "one", "python3.12")
        one = _page_reads(index, "llreuse-app")
        index.requests.clear()
        _build(index, tmp_path / "two", "python3.12", "python3.13")
        assert _page_reads(index, "llreuse-app") == one
