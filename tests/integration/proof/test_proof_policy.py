"""`build --proof required|best-effort` (config `proof`, LAMBDALAYER_PROOF): whether a
target the import proof cannot run on this host is "skipped" (best-effort, the default)
or refuses the build, exit 7, naming why and the fix (required).

Local wheels (no network); no CPython for any runtime is findable (without_interpreters),
so every target is one this host cannot prove, on any machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli, without_interpreters
from tests.package_index import make_wheel

_BUILD = ["--runtime", "python3.12", "--arch", "arm64", "--out", "dist"]
_NO_POLICY = {"LAMBDALAYER_PROOF": "", "LAMBDALAYER_PROOF_SANDBOX": ""}


def _build(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str,
                                                                                   str]:
    make_wheel(tmp_path, "probepkg", "1.0")
    run = run_cli("build", "probe", "-p", "./probepkg-1.0-py3-none-any.whl", *_BUILD, *extra,
                  cwd=tmp_path, env={**_NO_POLICY, **without_interpreters(tmp_path),
                                     **(env or {})})
    return run.returncode, run.stdout, run.stderr


def test_best_effort_is_the_default_and_skips_with_the_reason(tmp_path: Path) -> None:
    code, out, err = _build(tmp_path, "--json")
    assert code == 0, err
    [artifact] = json.loads(out)["artifacts"]
    assert artifact["import_test"]["status"] == "skipped"
    assert "python3.12/arm64" in artifact["import_test"]["reason"]
    assert (tmp_path / "dist" / "probe.zip").exists()


@pytest.mark.parametrize("how", [["--proof", "required"], "env", "config"])
def test_required_refuses_a_target_it_cannot_prove_naming_why_and_the_fix(
        tmp_path: Path, how: list[str] | str) -> None:
    extra = how if isinstance(how, list) else []
    env = {"LAMBDALAYER_PROOF": "required"} if how == "env" else {}
    if how == "config":
        (tmp_path / "lambdalayer.toml").write_text('proof = "required"\n')
    run = _build(tmp_path, *extra, env=env)
    code, _, err = run
    assert code == 7, err
    assert "Traceback" not in err
    assert "The import proof of probe is required" in err, err
    assert "python3.12/arm64: " in err and "no zip was written" in err, err
    assert "lambdalayer interpreters add" in err and "docs/ci.md" in err, err
    assert "--proof best-effort" in err
    assert not (tmp_path / "dist" / "probe.zip").exists()


def test_required_in_json_is_exit_7_in_the_error_document(tmp_path: Path) -> None:
    code, out, err = _build(tmp_path, "--proof", "required", "--json")
    assert code == 7, err
    error = json.loads(out)["error"]
    assert error["exit_code"] == 7 and "python3.12/arm64" in error["message"]


def test_the_flag_wins_over_the_environment(tmp_path: Path) -> None:
    code, _, err = _build(tmp_path, "--proof", "best-effort",
                          env={"LAMBDALAYER_PROOF": "required"})
    assert code == 0, err


def test_an_up_to_date_zip_proven_only_in_part_is_not_enough_for_required(
        tmp_path: Path) -> None:
    code, _, err = _build(tmp_path, "--proof", "best-effort")
    assert code == 0, err
    # Same pinned inputs: "up to date", but its manifest records a skipped target.
    code, _, err = _build(tmp_path, "--proof", "required")
    assert code == 7, err


def test_bad_values_and_contradictions_are_usage_errors(tmp_path: Path) -> None:
    run = run_cli("build", "x", "-p", "six", "--proof", "maybe", cwd=tmp_path)
    assert run.returncode == 2 and "'maybe' is not one of 'required', 'best-effort'" \
        in run.stderr, run.stderr
    run = run_cli("build", "x", "-p", "six", *_BUILD, cwd=tmp_path,
                  env={"LAMBDALAYER_PROOF": "always"})
    assert_clean_failure(run, 2)
    assert "LAMBDALAYER_PROOF: 'always' is not a proof policy; use 'required' or " \
           "'best-effort'." in run.stderr, run.stderr
    run = run_cli("build", "x", "-p", "six", *_BUILD, "--proof", "required", "--no-proof",
                  cwd=tmp_path)
    assert_clean_failure(run, 2)
    (tmp_path / "lambdalayer.toml").write_text(
        'proof = "required"\n[layers.x]\npackages = ["six"]\nproof = false\n')
    run = run_cli("build", "x", *_BUILD, cwd=tmp_path, env=_NO_POLICY)
    assert_clean_failure(run, 2)
    assert "required" in run.stderr and "turned off" in run.stderr, run.stderr
