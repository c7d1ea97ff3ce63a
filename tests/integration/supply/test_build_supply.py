"""`build --vulns` and `--deny-licence` (docs/supply-chain.md), outside in: the real CLI
against a loopback index whose wheels state their licences and the loopback OSV service
replaying recorded answers (tests/osv_answers.py)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.osv_answers import Service, osv_service
from tests.package_index import make_wheel, serve_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = tmp_path_factory.mktemp("supply-index")
    for version in ("5.3", "5.4"):
        make_wheel(files, "PyYAML", version, files={"yaml/__init__.py": b"VALUE = 1\n"},
                   metadata_extra="License-Expression: MIT\n")
    make_wheel(files, "llapp", "1.0", requires=("llcopyleft",),
               metadata_extra="License-Expression: MIT\n")
    make_wheel(files, "llcopyleft", "1.0",
               metadata_extra="License-Expression: MIT AND GPL-3.0-only\n")
    make_wheel(files, "lldual", "1.0",
               metadata_extra="License-Expression: GPL-3.0-only OR MIT\n")
    make_wheel(files, "llclassic", "1.0", metadata_extra=(
        "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n"))
    make_wheel(files, "llsilent", "1.0")
    with serve_index(files) as url:
        yield url


@pytest.fixture
def service() -> Iterator[Service]:
    with osv_service() as running:
        yield running


def _build(url: str, out: Path, *args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> CliRun:
    return run_cli("build", "yaml", *args, "--index-url", url, "--runtime", "python3.12",
                   "--no-proof", "--out", str(out), env=env, cwd=cwd)


def _fix_line(stderr: str) -> list[str]:
    """The -p arguments of the printed `fix:` line."""
    line = next(x for x in stderr.splitlines() if x.strip().startswith("fix: -p"))
    return shlex.split(line.split("fix:", 1)[1])


# --- build --vulns ------------------------------------------------------------------


def test_build_vulns_fails_on_high_after_writing_and_its_fix_line_builds_clean(
        index: str, service: Service, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    built = _build(index, out, "-p", "PyYAML==5.3", "--vulns", "--fail-on", "high",
                   "--vuln-service", service.url)
    assert built.returncode == 9, (built.stdout, built.stderr)
    assert "Traceback" not in built.stderr
    # Exit 9 comes after the zip, the SBOM and the manifest are written.
    assert {p.name for p in out.iterdir()} == {"yaml.zip", "yaml.json", "yaml.cdx.json"}
    said = " ".join(built.stdout.split())
    assert "licences in yaml.zip: MIT (PyYAML)" in said
    assert "2 known vulnerabilities in" in said
    assert "PyYAML 5.3: GHSA-6757-jp84-gxfx (CVE-2020-1747, PYSEC-2020-96), critical, " \
           "fixed in 5.3.1" in said
    manifest = json.loads((out / "yaml.json").read_text())
    assert [v["id"] for v in manifest["vulns"]["vulnerabilities"]] == [
        "GHSA-6757-jp84-gxfx", "GHSA-8q59-q68h-6hv4"]
    fix = _fix_line(built.stdout)
    assert fix == ["-p", "PyYAML>=5.4"]
    fixed = _build(index, out, *fix, "--vulns", "--fail-on", "any",
                   "--vuln-service", service.url, "--json")
    assert fixed.returncode == 0, fixed.stderr
    artifact = fixed.json()["artifacts"][0]
    assert artifact["vulns"]["vulnerabilities"] == [] and artifact["vulns"]["checked"] == 1
    assert artifact["licences"] == [{"name": "PyYAML", "version": "5.4", "licence": "MIT",
                                     "source": "License-Expression"}]
    assert json.loads((out / "yaml.json").read_text())["vulns"]["vulnerabilities"] == []


def test_json_carries_them_per_artifact_and_report_only_without_fail_on(
        index: str, service: Service, tmp_path: Path) -> None:
    built = _build(index, tmp_path / "dist", "-p", "PyYAML==5.3", "--vulns",
                   "--vuln-service", service.url, "--json")
    assert built.returncode == 0, built.stderr
    vulns = built.json()["artifacts"][0]["vulns"]
    assert vulns["fixes"] == ["PyYAML>=5.4"] and vulns["problem"] is None
    assert {v["severity"] for v in vulns["vulnerabilities"]} == {"critical"}
    # Not asked: the key says so.
    plain = _build(index, tmp_path / "other", "-p", "PyYAML==5.3", "--json")
    assert plain.json()["artifacts"][0]["vulns"] is None
    assert "vulns" not in json.loads((tmp_path / "other" / "yaml.json").read_text()) or \
        json.loads((tmp_path / "other" / "yaml.json").read_text())["vulns"] is None


def test_an_up_to_date_build_is_asked_again(index: str, service: Service,
                                            tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert _build(index, out, "-p", "PyYAML==5.3").returncode == 0
    again = _build(index, out, "-p", "PyYAML==5.3", "--vulns", "--fail-on", "critical",
                   "--vuln-service", service.url)
    assert again.returncode == 9, again.stderr
    assert "up to date" in again.stdout + again.stderr and "2 known vulnerabilities" in again.stdout


def test_config_and_environment_turn_it_on_and_the_flag_wins(
        index: str, service: Service, tmp_path: Path) -> None:
    config = tmp_path / "lambdalayer.toml"
    config.write_text("vulns = true\n")
    env = {"LAMBDALAYER_CONFIG": str(config), "LAMBDALAYER_VULN_SERVICE": service.url}
    on = _build(index, tmp_path / "a", "-p", "PyYAML==5.3", "--fail-on", "any", env=env)
    assert on.returncode == 9, on.stderr
    off = _build(index, tmp_path / "b", "-p", "PyYAML==5.3", "--fail-on", "any",
                 env={**env, "LAMBDALAYER_VULNS": "0"})
    assert_clean_failure(off, 2)  # --fail-on with nothing asking: said, not ignored
    assert "--fail-on and --vuln-service go with --vulns" in off.stderr
    flag = _build(index, tmp_path / "c", "-p", "PyYAML==5.3", "--vulns", "--fail-on", "any",
                  env={**env, "LAMBDALAYER_VULNS": "0"})
    assert flag.returncode == 9, flag.stderr
    quiet = _build(index, tmp_path / "d", "-p", "PyYAML==5.3", "--no-vulns", env=env)
    assert quiet.returncode == 0 and "known vulnerabilit" not in quiet.stdout + quiet.stderr
    bad = _build(index, tmp_path / "e", "-p", "PyYAML==5.3",
                 env={**env, "LAMBDALAYER_VULNS": "maybe"})
    assert_clean_failure(bad, 2)
    assert "LAMBDALAYER_VULNS: 'maybe' is not 1 or 0" in bad.stderr


def test_an_unreachable_service_is_one_line_and_fails_no_build(
        index: str, tmp_path: Path) -> None:
    built = _build(index, tmp_path / "dist", "-p", "PyYAML==5.3", "--vulns", "--fail-on",
                   "any", "--vuln-service", "http://127.0.0.1:9")
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr
    lines = [x for x in built.stderr.splitlines() if "vulnerability service" in x]
    assert len(lines) == 1 and "could not be reached" in lines[0], built.stderr
    assert (tmp_path / "dist" / "yaml.zip").is_file()


def test_a_malformed_answer_fails_no_build(index: str, service: Service,
                                           tmp_path: Path) -> None:
    service.instead = b'{"results": 3}'
    built = _build(index, tmp_path / "dist", "-p", "PyYAML==5.3", "--vulns", "--fail-on",
                   "any", "--vuln-service", service.url, "--json")
    assert built.returncode == 0, built.stderr
    assert "No vulnerability was checked" in built.json()["artifacts"][0]["vulns"]["problem"]


# --- licences and --deny-licence ---------------------------------------------------


def test_a_denied_licence_refuses_the_layer_naming_the_distribution(
        index: str, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    refused = _build(index, out, "-p", "llapp", "--deny-licence", "GPL-3.0-only")
    assert_clean_failure(refused, 4)
    said = " ".join(refused.stderr.split())
    assert "llcopyleft 1.0: MIT AND GPL-3.0-only (GPL-3.0-only denied)" in said
    assert not out.exists() or not any(out.iterdir())  # nothing written
    # The printed way out is a command that builds.
    hint = next(x for x in refused.stderr.splitlines() if "--exclude" in x)
    exclude = hint.split("(", 1)[1].split(")", 1)[0].split()
    assert exclude == ["--exclude", "llcopyleft"]
    fixed = _build(index, out, "-p", "llapp", "--deny-licence", "GPL-3.0-only", *exclude)
    assert fixed.returncode == 0, fixed.stderr
    assert "licences in yaml.zip: MIT (llapp)" in " ".join(fixed.stdout.split())


def test_a_refusal_keeps_the_previous_zip(index: str, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    first = _build(index, out, "-p", "llapp", "--json")
    assert first.returncode == 0, first.stderr
    assert {(x["name"], x["licence"]) for x in first.json()["artifacts"][0]["licences"]} == {
        ("llapp", "MIT"), ("llcopyleft", "MIT AND GPL-3.0-only")}
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = _build(index, out, "-p", "llapp", "--deny-licence", "gpl-*", "--json")
    assert refused.returncode == 4, refused.stderr
    assert refused.json()["error"]["findings"][0]["package"] == "llcopyleft"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_choice_with_an_allowed_licence_passes_and_classifiers_count(
        index: str, tmp_path: Path) -> None:
    dual = _build(index, tmp_path / "a", "-p", "lldual", "--deny-licence", "GPL-3.0-only")
    assert dual.returncode == 0, dual.stderr
    assert "GPL-3.0-only OR MIT (lldual)" in " ".join(dual.stdout.split())
    classic = _build(index, tmp_path / "b", "-p", "llclassic", "--deny-licence",
                     "GPL-3.0-only")
    assert_clean_failure(classic, 4)
    assert "llclassic 1.0: GNU General Public License v3 (GPLv3)" in classic.stdout + classic.stderr


def test_unknown_can_be_denied_from_the_config(index: str, tmp_path: Path) -> None:
    config = tmp_path / "lambdalayer.toml"
    config.write_text('deny_licences = ["unknown"]\n')
    env = {"LAMBDALAYER_CONFIG": str(config)}
    refused = _build(index, tmp_path / "dist", "-p", "llsilent", env=env)
    assert_clean_failure(refused, 4)
    assert "llsilent 1.0: unknown (unknown denied)" in " ".join(refused.stderr.split())
    config.write_text('deny_licences = ["MIT OR GPL-3.0-only"]\n')
    bad = _build(index, tmp_path / "dist", "-p", "llsilent", env=env)
    assert_clean_failure(bad, 2)
    assert "deny_licences" in bad.stderr and "repeat the option" in bad.stderr


# --- report ----------------------------------------------------------------------


def test_report_shows_licences_and_the_vulnerabilities_the_manifest_has(
        index: str, service: Service, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert _build(index, out, "-p", "PyYAML==5.3", "--vulns", "--vuln-service",
                  service.url).returncode == 0
    page = tmp_path / "yaml.html"
    made = run_cli("report", str(out / "yaml.zip"), "-o", str(page))
    assert made.returncode == 0, made.stderr
    text = page.read_text()
    assert "<h2>Licences</h2>" in text and "<td>PyYAML</td><td>5.3</td><td>MIT</td>" in text
    assert "GHSA-8q59-q68h-6hv4, CVE-2020-14343, PYSEC-2021-142" in text
    assert "Fix: <code>-p &#x27;PyYAML&gt;=5.4&#x27;</code>" in text


def test_report_vulns_asks_now_and_fail_on_exits_9_after_writing(
        index: str, service: Service, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert _build(index, out, "-p", "PyYAML==5.3").returncode == 0
    page = tmp_path / "yaml.html"
    made = run_cli("report", str(out / "yaml.zip"), "-o", str(page))
    assert "Known vulnerabilities" not in page.read_text()  # never asked: not shown
    made = run_cli("report", str(out / "yaml.zip"), "-o", str(page), "--vulns",
                   "--vuln-service", service.url, "--fail-on", "critical")
    assert made.returncode == 9, made.stderr
    assert "GHSA-6757-jp84-gxfx" in page.read_text()
    assert "fix: -p 'PyYAML>=5.4'" in made.stdout
