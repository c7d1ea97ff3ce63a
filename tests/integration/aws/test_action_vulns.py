"""The Action's `vulns` and `fail-on` inputs, run as the runner runs action.yml
(test_action_runner.Runner) against moto, the loopback index and the loopback OSV
service: the build asks, the job summary lists the advisories and the fix, and
`fail-on` stops the job before anything is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.aws_fixtures import Aws
from tests.integration.aws.test_action_runner import (  # noqa: F401 (runner_env: a fixture)
    Runner,
    _summary_of,
    runner_env,
)
from tests.osv_answers import osv_service
from tests.package_index import make_wheel, serve_index

pytestmark = pytest.mark.network


def test_fail_on_stops_the_job_before_publishing_and_the_summary_gives_the_fix(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:  # noqa: F811
    files = tmp_path / "index"
    for version in ("5.3", "5.4"):
        make_wheel(files, "PyYAML", version, files={"yaml/__init__.py": b"VALUE = 1\n"},
                   metadata_extra="License-Expression: MIT\n")
    common = {"layer": "yaml", "runtimes": "python3.12", "architectures": "x86_64"}
    with serve_index(files) as index, osv_service() as service:
        env = {**runner_env, "UV_INDEX_URL": index, "LAMBDALAYER_VULN_SERVICE": service.url}
        temp = tmp_path / "temp-vulnerable"
        temp.mkdir()
        artifacts = tmp_path / "workflow-artifacts"
        artifacts.mkdir()
        stopped = Runner(workspace=tmp_path, temp=temp, env=env, artifact_store=artifacts,
                         inputs={**common, "packages": "PyYAML==5.3", "fail-on": "high"})
        stopped.run()
        assert stopped.failed == ["Build"], stopped.log()
        assert not stopped.steps.get("publish"), "a vulnerable layer was published"
        summary = stopped.summary.read_text()
        assert "| vulnerabilities | **2 known**; fix: `-p 'PyYAML>=5.4'` |" in summary, summary
        assert ("| PyYAML 5.3 | GHSA-8q59-q68h-6hv4, CVE-2020-14343, PYSEC-2021-142 | "
                "critical | 5.4 |") in summary
        assert "| licences | MIT (PyYAML) |" in summary
        temp = tmp_path / "temp-fixed"
        temp.mkdir()
        fixed = Runner(workspace=tmp_path, temp=temp, env=env, artifact_store=artifacts,
                       inputs={**common, "packages": "PyYAML>=5.4", "vulns": "true"})
        outputs = fixed.run()
        assert not fixed.failed, fixed.log()
    assert outputs["layer-arn"].endswith(":layer:yaml:1")
    assert "| vulnerabilities | none known (1 distributions checked) |" in \
        fixed.summary.read_text()


def test_the_summary_says_when_the_service_could_not_be_asked(tmp_path: Path) -> None:
    manifest = tmp_path / "dist" / "x.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"vulns": {
        "service": "https://api.osv.dev", "checked": 0, "fixes": [], "vulnerabilities": [],
        "problem": "The vulnerability service https://api.osv.dev was not asked: it "
                   "could not be reached | offline. No vulnerability was checked."}}))
    artifact = {"name": "x", "path": str(tmp_path / "dist" / "x.zip"),
                "manifest": str(manifest), "runtimes": ["python3.12"],
                "architectures": ["x86_64"], "size": 10, "unzipped_size": 20,
                "import_test": {"status": "skipped", "interpreter": None, "targets": [],
                                "reason": "the zip was up to date; not rebuilt"}}
    summary = _summary_of(tmp_path, {"artifacts": [artifact]})
    assert ("| vulnerabilities | not checked: The vulnerability service https://api.osv.dev "
            "was not asked: it could not be reached \\| offline. No vulnerability was "
            "checked. |") in summary, summary
    # Not asked at all (no `vulns` in the JSON nor the manifest): no row.
    manifest.write_text("{}")
    assert "vulnerabilities" not in _summary_of(tmp_path, {"artifacts": [artifact]})
