"""Which requirement strings are local projects, as pip reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.resolve.requirements import local_path, parse_requirement_text


@pytest.mark.parametrize("spec", [
    "orjson>=3.10", "psycopg[binary]==3.2.3", "six; python_version < '3.12'",
    "pkg @ https://example.com/pkg-1.0-py3-none-any.whl", "git+https://x/y.git",
    "-r other/requirements.txt", "--index-url https://x/simple",
])
def test_requirements_are_not_local(spec: str, tmp_path: Path) -> None:
    assert local_path(spec, tmp_path) is None


@pytest.mark.parametrize(("spec", "expected"), [
    ("./libs/common", "libs/common"),
    ("libs/common", "libs/common"),
    ("-e ./libs/common", "libs/common"),
    ("--editable=libs/common", "libs/common"),
    ("../up", "../up"),
])
def test_paths_are_local_relative_to_base(spec: str, expected: str, tmp_path: Path) -> None:
    assert local_path(spec, tmp_path / "here") == (tmp_path / "here" / expected).resolve()


def test_file_urls_are_local(tmp_path: Path) -> None:
    url = (tmp_path / "my proj").as_uri()
    assert local_path(url, Path("/elsewhere")) == tmp_path / "my proj"
    assert local_path(f"common @ {url}", Path("/elsewhere")) == tmp_path / "my proj"


def test_requirement_file_lines_are_relative_to_the_file(tmp_path: Path) -> None:
    project = tmp_path / "libs" / "common"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname='common'\n", "utf-8")
    req = tmp_path / "reqs" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("six==1.16.0\n-e ../libs/common\n", "utf-8")
    parsed = parse_requirement_text(req.read_text("utf-8"), req)
    assert [str(r) for r in parsed.requirements] == ["six==1.16.0"]
    assert [r.path for r in parsed.local_projects] == [project]


def test_a_folder_without_packaging_metadata_is_not_a_project(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    req = tmp_path / "requirements.txt"
    with pytest.raises(UsageError, match="--source DIR"):
        parse_requirement_text("./plain\n", req)
