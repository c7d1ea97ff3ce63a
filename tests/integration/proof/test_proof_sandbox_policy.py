"""The proof's sandbox policy: `--proof-sandbox auto|required` (config
`proof_sandbox`, LAMBDALAYER_PROOF_SANDBOX), and which sandbox each proof ran in, for
machines (`sandbox_kind` in --json and the manifest) and for people (a warning, not a
note, when the layer's code ran without one).

Local wheels (no network), CPython 3.12 on this host.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel

_BUILD = ["--runtime", "python3.12", "--arch", "x86_64", "--out", "dist"]
# Not set by whoever runs the tests: each test says what it wants.
_NO_POLICY = {"LAMBDALAYER_PROOF_SANDBOX": ""}


def _wheel(tmp_path: Path) -> str:
    make_wheel(tmp_path, "probepkg", "1.0")
    return "./probepkg-1.0-py3-none-any.whl"


@pytest.mark.parametrize("command", [["build", "x", "-p", "six"], ["test", "."]])
def test_an_unknown_policy_is_a_usage_error_naming_the_valid_values(
        tmp_path: Path, command: list[str]) -> None:
    run = run_cli(*command, "--proof-sandbox", "maybe", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "'maybe' is not one of 'auto', 'required'" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_an_unknown_policy_in_the_environment_or_config_names_the_valid_values(
        tmp_path: Path) -> None:
    run = run_cli("build", "x", "-p", "six", *_BUILD, cwd=tmp_path,
                  env={"LAMBDALAYER_PROOF_SANDBOX": "maybe"})
    assert_clean_failure(run, 2)
    assert "LAMBDALAYER_PROOF_SANDBOX: 'maybe' is not a proof sandbox policy; use 'auto' " \
           "or 'required'." in run.stderr, run.stderr
    (tmp_path / "lambdalayer.toml").write_text('proof_sandbox = "strict"\n')
    run = run_cli("build", "x", "-p", "six", *_BUILD, cwd=tmp_path, env=_NO_POLICY)
    assert_clean_failure(run, 2)
    assert "lambdalayer.toml.proof_sandbox: 'strict' is not a proof sandbox policy" \
        in run.stderr, run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("chosen", "kind"),
                         [("bwrap", "bwrap"), ("box", "box"), ("none", "none")])
def test_build_json_and_manifest_say_which_sandbox_each_target_ran_in(
        tmp_path: Path, chosen: str, kind: str) -> None:
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    run = run_cli("build", "probe", "-p", _wheel(tmp_path), *_BUILD, "--json",
                  cwd=tmp_path, env={**_NO_POLICY, "LAMBDALAYER_SANDBOX": chosen})
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    [target] = artifact["import_test"]["targets"]
    require(kind == "none" or not target["sandbox"].startswith("NOT sandboxed"),
            f"the {chosen} sandbox working on this host ({target['sandbox']})")
    assert target["status"] == "passed", target
    assert target["sandbox_kind"] == kind, target
    assert target["sandbox"].startswith("NOT sandboxed" if kind == "none" else "sandboxed (")
    manifest = json.loads((tmp_path / "dist" / "probe.json").read_text())
    assert manifest["proof"] == [{"target": "python3.12/x86_64", "status": "passed",
                                  "sandbox": target["sandbox"], "sandbox_kind": kind}]
    # People: a proof that ran unsandboxed is a warning that says what to do; a
    # sandboxed one stays a note.
    warned = "warning: the proof ran NOT sandboxed (LAMBDALAYER_SANDBOX=none)"
    assert (warned in run.stderr) == (kind == "none"), run.stderr
    assert ("--proof-sandbox required" in run.stderr) == (kind == "none"), run.stderr
    assert ("note: the proof ran sandboxed (" in run.stderr) == (kind != "none"), run.stderr


@pytest.mark.slow
def test_test_json_says_which_sandbox_and_takes_the_policy(tmp_path: Path) -> None:
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    layer = tmp_path / "layer" / "python" / "probe"
    layer.mkdir(parents=True)
    (layer / "__init__.py").write_text("VALUE = 1\n")
    run = run_cli("test", str(tmp_path / "layer"), "--runtime", "python3.12", "--json",
                  "--proof-sandbox", "auto",
                  env={**_NO_POLICY, "LAMBDALAYER_SANDBOX": "none"})
    assert run.returncode == 0, run.stdout + run.stderr
    [target] = run.json()["targets"]
    assert target["sandbox_kind"] == "none", target
    people = run_cli("test", str(tmp_path / "layer"), "--runtime", "python3.12",
                     env={**_NO_POLICY, "LAMBDALAYER_SANDBOX": "none"})
    assert people.returncode == 0, people.stderr
    assert "warning: the proof ran NOT sandboxed" in people.stderr, people.stderr
