"""action.yml run step by step as GitHub Actions runs a composite action, against moto.

Each `run:` goes to bash with its `env:` (expressions evaluated), its
working-directory, and GITHUB_OUTPUT / GITHUB_PATH / GITHUB_STEP_SUMMARY as
files; outputs feed later steps and the action's outputs, as on GitHub.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.aws_fixtures import ACCOUNT, Aws

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[3]
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    """Just enough of the Actions runner for this action's expressions."""

    def __init__(self, workspace: Path, temp: Path, inputs: dict[str, str],
                 env: dict[str, str]) -> None:
        self.action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
        self.inputs = {name: str(spec.get("default", ""))
                       for name, spec in self.action["inputs"].items()}
        unknown = set(inputs) - set(self.inputs)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs.update(inputs)
        self.workspace, self.temp = workspace, temp
        self.env = env
        self.steps: dict[str, dict[str, str]] = {}
        self.summary = temp / "summary.md"
        self.summary.touch()
        self.path_file = temp / "github_path"
        self.path_file.touch()
        self.failed = False

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression == "github.action_path":
            return str(ROOT)
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if match:
            return self.steps.get(match[1], {}).get(match[2], "")
        raise AssertionError(f"expression not supported by the test runner: {expression}")

    def expand(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m[1]), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return not self.failed
        text = _EXPR.sub(lambda m: m[1], text)
        terms = [t.strip() for t in text.split("&&")]
        results = []
        for term in terms:
            if term == "always()":
                results.append(True)
                continue
            match = re.fullmatch(r"([\w.-]+)\s*==\s*'([^']*)'", term)
            assert match, f"condition not supported by the test runner: {term}"
            results.append(self.value(match[1]) == match[2])
        return all(results) and ("always()" in terms or not self.failed)

    def run(self) -> dict[str, str]:
        for number, step in enumerate(self.action["runs"]["steps"]):
            if not self.condition(step.get("if")):
                continue
            output = self.temp / f"output-{number}"
            output.touch()
            extra_path = [line for line in self.path_file.read_text().splitlines() if line]
            env = {**self.env,
                   **{k: self.expand(str(v)) for k, v in (step.get("env") or {}).items()},
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
                   "GITHUB_PATH": str(self.path_file), "GITHUB_ACTION_PATH": str(ROOT),
                   "RUNNER_TEMP": str(self.temp), "GITHUB_ACTIONS": "true",
                   "PATH": os.pathsep.join([*reversed(extra_path), self.env["PATH"]])}
            cwd = self.workspace / self.expand(step.get("working-directory", "."))
            assert step["shell"] == "bash"
            script = self.temp / f"step-{number}.sh"
            script.write_text(step["run"])
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                                   str(script)], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=900, check=False)
            assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
            if "id" in step:
                self.steps[step["id"]] = dict(
                    line.split("=", 1) for line in output.read_text().splitlines()
                    if "=" in line)
        return {name: self.expand(spec["value"])
                for name, spec in self.action["outputs"].items()}


def test_action_builds_publishes_attaches_and_summarises(aws: Aws, tmp_path: Path) -> None:
    # Two runs (each installs lambdalayer from this checkout, as `version:` allows):
    # the second publishes a changed layer in two regions and attaches it.
    workspace = tmp_path / "repo"
    workspace.mkdir()
    aws.create_function("action-fn")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = {**aws.env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # The newest published version before this run: six 1.16.0.
    first = Runner(workspace, temp, {"layer": "demo", "packages": "six==1.16.0 idna==3.7",
                                     "runtimes": "python3.12", "architectures": "x86_64",
                                     "version": str(ROOT)}, env)
    outputs = first.run()
    arn1 = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:demo:1"
    assert outputs["layer-arn"] == arn1
    summary = first.summary.read_text()
    assert "### demo" in summary and "python3.12 on x86_64" in summary
    assert f"| us-east-1 | published `{arn1}` |" in summary
    assert "No earlier published version to compare with." in summary

    second_temp = tmp_path / "runner-temp-2"
    second_temp.mkdir()
    second = Runner(workspace, second_temp, {
        "layer": "demo", "packages": "six==1.17.0 attrs==23.2.0", "runtimes": "python3.12",
        "architectures": "x86_64", "regions": "us-east-1, eu-west-1", "version": str(ROOT),
        "attach": "true", "functions": "action-fn"}, env)
    outputs = second.run()
    arn2 = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:demo:2"
    assert outputs["layer-arn"] == arn2
    arns = json.loads(outputs["arns"])
    assert [(a["region"], a["version"]) for a in arns] == [("eu-west-1", 1), ("us-east-1", 2)] \
        or [(a["region"], a["version"]) for a in arns] == [("us-east-1", 2), ("eu-west-1", 1)]
    build = json.loads((second_temp / "lambdalayer-build.json").read_text())
    [artifact] = build["artifacts"]
    summary = second.summary.read_text()
    size = f"{artifact['size'] / 1000:.1f} KB zipped"
    assert size in summary
    assert f"| us-east-1 | published `{arn2}` |" in summary
    # moto serves no layer content (its Location is "s3://"), so the diff against
    # version 1 is reported as unreadable; `diff --markdown` itself is tested in test_diff.
    assert f"No diff against {arn1}: it could not be read" in summary
    assert aws.version_numbers("demo") == [1, 2]
    assert aws.layers_of("action-fn") == [arn2]
