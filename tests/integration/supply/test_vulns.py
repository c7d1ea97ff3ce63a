"""`check --vulns` against a loopback OSV service replaying recorded answers
(tests/osv_answers.py): PyYAML 5.3's advisories with their fixed versions, the fix line
that builds a layer with none, `--fail-on`'s exit code, the cache, and answers that are
malformed or huge."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, run_cli
from tests.osv_answers import osv_service
from tests.package_index import make_wheel, serve_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = tmp_path_factory.mktemp("yaml-index")
    for version in ("5.3", "5.4"):
        make_wheel(files, "PyYAML", version, files={"yaml/__init__.py": b"VALUE = 1\n"},
                   metadata_extra="License: MIT\n")
    with serve_index(files) as url:
        yield url


def _build(url: str, out: Path, *packages: str) -> CliRun:
    args = [a for p in packages for a in ("-p", p)]
    return run_cli("build", "yaml", *args, "--index-url", url, "--runtime", "python3.12",
                   "--no-proof", "--out", str(out))


def test_pyyaml_5_3_is_reported_and_the_fix_line_builds_a_clean_layer(
        index: str, tmp_path: Path) -> None:
    built = _build(index, tmp_path / "dist", "PyYAML==5.3")
    assert built.returncode == 0, built.stderr
    with osv_service() as service:
        check = run_cli("check", str(tmp_path / "dist" / "yaml.zip"), "--vulns",
                        "--vuln-service", service.url, "--fail-on", "high")
        assert check.returncode == 9, (check.stdout, check.stderr)
        assert "Traceback" not in check.stdout + check.stderr
        out = " ".join(check.stdout.split())  # results: stdout, piped or not
        assert "PyYAML 5.3: GHSA-6757-jp84-gxfx (CVE-2020-1747, PYSEC-2020-96), critical, " \
               "fixed in 5.3.1" in out
        assert "GHSA-8q59-q68h-6hv4 (CVE-2020-14343, PYSEC-2021-142), critical, fixed in " \
               "5.4" in out
        fix_line = next(line for line in check.stdout.splitlines()
                        if line.strip().startswith("fix: -p"))
        assert fix_line.strip() == "fix: -p 'PyYAML>=5.4'"
        fixed = _build(index, tmp_path / "dist", *shlex.split(fix_line.split("fix:")[1])[1::2])
        assert fixed.returncode == 0, fixed.stderr
        again = run_cli("check", str(tmp_path / "dist" / "yaml.zip"), "--vulns",
                        "--vuln-service", service.url, "--fail-on", "any", "--json")
        assert again.returncode == 0, again.stdout
        assert again.json()["vulns"]["vulnerabilities"] == []
        assert again.json()["vulns"]["checked"] == 1


def test_report_only_without_fail_on_and_advisories_come_from_the_cache(
        index: str, tmp_path: Path) -> None:
    assert _build(index, tmp_path / "dist", "PyYAML==5.3").returncode == 0
    with osv_service() as service:
        for _ in range(2):
            check = run_cli("check", str(tmp_path / "dist" / "yaml.zip"), "--vulns",
                            "--vuln-service", service.url, "--json")
            assert check.returncode == 0, check.stdout
            found = check.json()["vulns"]
            assert [v["id"] for v in found["vulnerabilities"]] == [
                "GHSA-6757-jp84-gxfx", "GHSA-8q59-q68h-6hv4"]
            assert found["fixes"] == ["PyYAML>=5.4"]
    # Each advisory was fetched once: the second run's batch answer named the same
    # `modified`, so the cached records stood.
    assert sorted(a for a in service.asked if a.startswith("GET")) == [
        "GET /v1/vulns/GHSA-6757-jp84-gxfx", "GET /v1/vulns/GHSA-8q59-q68h-6hv4"]
    assert service.asked.count("POST /v1/querybatch") == 2


@pytest.mark.parametrize("answer", [b"<html>rate limited</html>", b'{"results": 3}',
                                    b'{"results": [' + b" " * (9 << 20) + b"]}"],
                         ids=["not-json", "malformed", "huge"])
def test_an_unusable_answer_is_one_line_and_fails_nothing(index: str, tmp_path: Path,
                                                          answer: bytes) -> None:
    assert _build(index, tmp_path / "dist", "PyYAML==5.3").returncode == 0
    with osv_service() as service:
        service.instead = answer
        check = run_cli("check", str(tmp_path / "dist" / "yaml.zip"), "--vulns",
                        "--vuln-service", service.url, "--fail-on", "any")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr
    assert "was not asked" in check.stderr and "No vulnerability was checked" in check.stderr


def test_an_unreachable_service_says_so(index: str, tmp_path: Path) -> None:
    assert _build(index, tmp_path / "dist", "PyYAML==5.3").returncode == 0
    check = run_cli("check", str(tmp_path / "dist" / "yaml.zip"), "--vulns",
                    "--vuln-service", "http://127.0.0.1:9", "--fail-on", "any")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "could not be reached" in check.stderr
