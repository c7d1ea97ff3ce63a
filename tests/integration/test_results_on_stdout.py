"""Results on stdout, progress and diagnostics on stderr, as uv, git and pip do.

Every command here runs with its output piped (not a terminal), as in
`lambdalayer recipes | wc -l` or `lambdalayer diff a.zip b.zip > diff.txt`: its
results must reach stdout, its progress lines ("… resolving") and warnings stderr,
and with --json the JSON document must be stdout's only content.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.aws_fixtures import Aws
from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, serve_index


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two builds of a small pure layer (v1, then v2 into another folder), piped."""
    root = tmp_path_factory.mktemp("piped")
    files = root / "index"
    for version in ("1.0", "2.0"):
        make_wheel(files, "ll-fixture-piped", version,
                   files={"ll_fixture_piped/__init__.py": f"V = {version!r}\n".encode()})
    env = {"UV_CACHE_DIR": str(root / "uvcache")}
    runs = {}
    with serve_index(files) as index:
        env["UV_DEFAULT_INDEX"] = index
        for version in ("1.0", "2.0"):
            runs[version] = run_cli(
                "build", "piped", "-p", f"ll-fixture-piped=={version}", "--runtime",
                "python3.12", "--arch", "x86_64", "--out", str(root / version), env=env)
        runs["json"] = run_cli(
            "build", "piped", "-p", "ll-fixture-piped==2.0", "--runtime", "python3.12",
            "--arch", "x86_64", "--out", str(root / "2.0"), "--force", "--json", env=env)
    return {"root": root, "runs": runs,
            "old": root / "1.0" / "piped.zip", "new": root / "2.0" / "piped.zip"}


def _results_on_stdout(run: CliRun, *expected: str) -> None:
    assert run.returncode == 0, (run.stdout, run.stderr)
    for text in expected:
        assert text in run.stdout, (text, run.stdout, run.stderr)
        assert text not in run.stderr, (text, run.stderr)


def test_build_summary_is_on_stdout_and_progress_on_stderr(built: dict[str, object]) -> None:
    run = built["runs"]["1.0"]  # type: ignore[index]
    _results_on_stdout(run, "built ", "CodeSha256:", "ll-fixture-piped")
    assert "… resolving" in run.stderr and "… " not in run.stdout


def test_recipes_piped_counts_the_recipes() -> None:
    run = run_cli("recipes")
    _results_on_stdout(run, "pg8000")
    assert len(_lines(run.stdout)) > 3


def test_runtimes_piped_lists_every_runtime() -> None:
    run = run_cli("runtimes")
    _results_on_stdout(run, "python3.12", "Amazon Linux 2023")


def test_diff_redirected_to_a_file_holds_the_diff(built: dict[str, object]) -> None:
    run = run_cli("diff", str(built["old"]), str(built["new"]))
    _results_on_stdout(run, "ll-fixture-piped", "upgraded", "1.0 → 2.0")


def test_check_findings_summary_is_on_stdout(built: dict[str, object]) -> None:
    run = run_cli("check", str(built["new"]))
    _results_on_stdout(run, "no errors", "python3.12/x86_64")


def test_report_says_what_it_wrote_on_stdout(built: dict[str, object], tmp_path: Path) -> None:
    page = tmp_path / "piped.html"
    run = run_cli("report", str(built["new"]), "-o", str(page))
    _results_on_stdout(run, f"wrote {page}")


def test_test_report_is_on_stdout(built: dict[str, object]) -> None:
    run = run_cli("test", str(built["new"]))
    assert run.returncode in (0, 7), run.stderr  # 7: no CPython 3.12 on this host
    assert f"lambdalayer test {built['new']}" in run.stdout
    assert "(exit " in run.stdout and "(exit " not in run.stderr


def test_versions_piped_lists_the_versions(aws: Aws, aws_env: dict[str, str]) -> None:
    aws.publish_raw("piped-layer", b"1")
    aws.publish_raw("piped-layer", b"22")
    run = run_cli("versions", "piped-layer", env=aws_env)
    _results_on_stdout(run, "piped-layer (us-east-1)")
    assert len(_lines(run.stdout)) >= 4  # title, header, two versions


def test_json_stays_the_only_stdout_content(built: dict[str, object]) -> None:
    """With --json the people's lines move to stderr: stdout parses as one document."""
    build = built["runs"]["json"]  # type: ignore[index]
    assert build.returncode == 0, build.stderr
    assert json.loads(build.stdout)["artifacts"][0]["name"] == "piped"
    assert "CodeSha256:" in build.stderr  # the summary, for people
    run = run_cli("diff", str(built["old"]), str(built["new"]), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["schema"] == 1
    run = run_cli("check", str(built["new"]), "--json")
    assert json.loads(run.stdout)["ok"] is True
