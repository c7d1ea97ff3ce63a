"""action.yml run the way the GitHub Actions runner runs a composite action, against moto.

The file is parsed with pyyaml; each step's `if:` is evaluated and its `${{ }}`
expressions substituted by a small, strict evaluator (an expression it does
not know fails the test, so a new one in action.yml cannot slip past it);
each `run:` goes to `bash --noprofile --norc -eo pipefail FILE` with its env,
working directory and the GITHUB_OUTPUT / GITHUB_PATH / GITHUB_ENV /
GITHUB_STEP_SUMMARY files, whose contents feed the later steps as on GitHub.

No `version` input: the action installs lambdalayer from its own checkout
(this repository), really, with pip. Only the runner's `python3 -m venv` is
adapted: the new venv also sees this test venv's packages (one .pth line), so
pip finds the dependencies installed and the install takes seconds, not a
minute of downloads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.aws_fixtures import ACCOUNT, Aws
from tests.conftest import require
from tests.package_index import make_wheel, serve_index

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[3]
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_TERM = re.compile(r"([\w.-]+)\s*(==|!=)\s*'([^']*)'")
_STATUS = {"always()", "success()", "failure()", "cancelled()"}


def parse_commands_file(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIM` … `DELIM` blocks."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(\S+)", line)
        if heredoc:
            end = lines.index(heredoc[2], i)
            values[heredoc[1]] = "\n".join(lines[i:end])
            i = end + 1
            continue
        assert "=" in line, f"not a name=value line: {line!r}"
        name, value = line.split("=", 1)
        values[name] = value
    return values



def _special_files(folder: str, names: list[str]) -> list[str]:
    """Device nodes, FIFOs and sockets, which actions/cache (tar) keeps as such: copying
    one would read it (a root filesystem's dev/full or dev/zero never ends)."""
    import stat

    return [n for n in names if not os.path.islink(os.path.join(folder, n)) and (
        stat.S_ISCHR(mode := os.lstat(os.path.join(folder, n)).st_mode)
        or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))]


@dataclass
class Runner:
    """Just enough of the runner for a composite action, and strict about the rest."""

    workspace: Path
    temp: Path
    inputs: dict[str, str]
    env: dict[str, str]
    action: dict[str, Any] = field(default_factory=lambda: yaml.safe_load(
        (ROOT / "action.yml").read_text("utf-8")))
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_path: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    # actions/cache: one store per test (key -> folder), shared by the jobs given it.
    cache_store: Path | None = None
    artifact_store: Path | None = None  # actions/upload-artifact: one per workflow run
    post: list[tuple[Path, Path]] = field(default_factory=list)  # (path, store/key) to save

    def __post_init__(self) -> None:
        declared = {name: str(spec.get("default", ""))
                    for name, spec in self.action["inputs"].items()}
        unknown = set(self.inputs) - set(declared)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs = {**declared, **self.inputs}
        self.summary = self.temp / "step_summary.md"
        self.summary.touch()

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            name = expression.removeprefix("inputs.")
            assert name in self.inputs, f"action.yml reads an undeclared input: {name}"
            return self.inputs[name]
        fixed = {"github.action_path": str(ROOT), "runner.temp": str(self.temp),
                 "github.workspace": str(self.workspace), "runner.os": "Linux"}
        if expression in fixed:
            return fixed[expression]
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if match:
            ids = [s.get("id") for s in self.action["runs"]["steps"]]
            assert match[1] in ids, f"no step with id {match[1]!r}"
            return self.steps.get(match[1], {}).get(match[2], "")
        raise AssertionError(f"expression not supported by the test runner: {expression}")

    def expand(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m[1]), text)

    def condition(self, text: str | None) -> bool:
        """`if:`: terms joined by && (status functions, `x == 'lit'`, `x != 'lit'`);
        without a status function, success() is implied, as on GitHub."""
        text = _EXPR.sub(lambda m: m[1], text or "success()")
        assert "||" not in text and "(" not in text.replace("()", ""), \
            f"condition not supported by the test runner: {text}"
        terms = [t.strip() for t in text.split("&&")]
        status = [t for t in terms if t in _STATUS] or ["success()"]
        ok = {"always()": True, "success()": not self.failed,
              "failure()": bool(self.failed), "cancelled()": False}
        result = all(ok[t] for t in status)
        for term in (t for t in terms if t not in _STATUS):
            match = _TERM.fullmatch(term)
            assert match, f"condition not supported by the test runner: {term}"
            equal = self.value(match[1]) == match[3]
            result = result and (equal if match[2] == "==" else not equal)
        return result

    def run(self) -> dict[str, str]:
        for number, step in enumerate(self.action["runs"]["steps"]):
            if self.condition(step.get("if")):
                self._run_step(number, step)
        for path, saved in self.post if not self.failed else ():  # actions/cache's post step
            if not saved.exists() and path.is_dir():
                shutil.copytree(path, saved, symlinks=True, ignore=_special_files)
        return {name: self.expand(spec["value"])
                for name, spec in self.action["outputs"].items()}

    def _upload_step(self, step: dict[str, Any]) -> None:
        """actions/upload-artifact@v4: the folder kept under its name, which must be new in
        the workflow run (v4 refuses a second artifact of one name)."""
        given = {k: self.expand(str(v)) for k, v in step["with"].items()}
        assert set(given) == {"name", "path"} and all(given.values()), given
        assert self.artifact_store is not None, "this test gave the runner no artifact store"
        kept = self.artifact_store / given["name"]
        assert not kept.exists(), f"a second artifact named {given['name']!r}"
        shutil.copytree(given["path"], kept, ignore=_special_files)
        self.logs.append(f"--- {step['name']}: uploaded {given['name']}")

    def _cache_step(self, step: dict[str, Any]) -> None:
        """actions/cache@v4: restore `path` from the store by exact `key`; save at the end."""
        assert step["uses"] == "actions/cache@v4", f"{step['name']}: not supported"
        given = {k: self.expand(str(v)) for k, v in step["with"].items()}
        assert set(given) == {"path", "key"} and all(given.values()), given
        assert self.cache_store is not None, "this test gave the runner no cache store"
        path, saved = Path(given["path"]), self.cache_store / given["key"]
        if saved.is_dir():
            shutil.copytree(saved, path, symlinks=True, dirs_exist_ok=True,
                            ignore=_special_files)
            self.logs.append(f"--- {step['name']}: restored {given['key']}")
        else:
            self.logs.append(f"--- {step['name']}: no cache for {given['key']}")
        self.post.append((path, saved))

    def _run_step(self, number: int, step: dict[str, Any]) -> None:
        if step.get("uses") == "actions/upload-artifact@v4":
            self._upload_step(step)
            return
        if "uses" in step:
            self._cache_step(step)
            return
        assert step.get("shell") == "bash", f"{step['name']}: only bash steps are supported"
        assert set(step) <= {"name", "id", "if", "shell", "env", "run", "working-directory"}, \
            f"{step['name']}: keys the test runner does not know: {set(step)}"
        files = {name: self.temp / f"{name.lower()}-{number}"
                 for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for path in files.values():
            path.touch()
        env = {**self.env, **self.extra_env,
               **{k: self.expand(str(v)) for k, v in (step.get("env") or {}).items()},
               **{k: str(v) for k, v in files.items()},
               "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_ACTION_PATH": str(ROOT),
               "GITHUB_WORKSPACE": str(self.workspace), "RUNNER_TEMP": str(self.temp),
               "GITHUB_ACTIONS": "true", "CI": "true"}
        env["PATH"] = os.pathsep.join([*reversed(self.extra_path), env["PATH"]])
        script = self.temp / f"step-{number}.sh"
        script.write_text(self.expand(step["run"]))
        cwd = self.workspace / self.expand(step.get("working-directory", "."))
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        self.logs.append(f"--- {step['name']} (exit {done.returncode})\n{done.stdout}"
                         f"{done.stderr}")
        if done.returncode != 0:
            self.failed.append(step["name"])
        if "id" in step:
            self.steps[step["id"]] = parse_commands_file(files["GITHUB_OUTPUT"].read_text())
        self.extra_env.update(parse_commands_file(files["GITHUB_ENV"].read_text()))
        self.extra_path += [p for p in files["GITHUB_PATH"].read_text().splitlines() if p]

    def log(self) -> str:
        return "\n".join(self.logs)


def runner_python(bin_dir: Path) -> Path:
    """`python3` for the runner: this interpreter; a venv it makes also sees this test
    venv's packages (so installing lambdalayer finds its dependencies already there)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    site = sysconfig.get_paths()["purelib"]
    wrapper = bin_dir / "python3"
    wrapper.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  "{sys.executable}" "$@" || exit $?
  for dir in "$3"/lib/python*/site-packages; do echo "{site}" > "$dir/_runner_deps.pth"; done
  exit 0
fi
exec "{sys.executable}" "$@"
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.fixture
def runner_env(aws: Aws, tmp_path: Path) -> dict[str, str]:
    # The sandbox step reads this sysctl file: absent, so a test host that restricts
    # user namespaces never gets a real AppArmor profile written by a test.
    env = {**aws.env, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "LAMBDALAYER_ACTION_USERNS_SYSCTL": str(tmp_path / "no-such-sysctl")}
    # apt-get and sudo stand-ins: a test never installs packages on the host; uv never
    # downloads a CPython (the interpreters step's provisioning fails fast, as offline).
    calls = tmp_path / "calls.log"
    stand_ins = _stand_ins(tmp_path / "stand-ins", calls, **{"apt-get": "exit 1"})
    env["PATH"] = os.pathsep.join([str(runner_python(tmp_path / "runner-bin")),
                                   str(stand_ins), env["PATH"]])
    env["UV_PYTHON_DOWNLOADS_JSON_URL"] = str(tmp_path / "no-such-downloads.json")
    return env


def job(tmp_path: Path, name: str, inputs: dict[str, str], env: dict[str, str],
        workspace: Path, *, may_fail: bool = False) -> Runner:
    """One job's run of the action: its own RUNNER_TEMP, like a fresh runner; the jobs of
    one test share actions/cache's store."""
    temp = tmp_path / f"temp-{name}"
    temp.mkdir()
    store = tmp_path / "actions-cache"
    store.mkdir(exist_ok=True)
    artifacts = tmp_path / "workflow-artifacts"
    artifacts.mkdir(exist_ok=True)
    runner = Runner(workspace=workspace, temp=temp, inputs=inputs,
                    env={**env, "HOME": str(tmp_path / f"home-{name}"), "GITHUB_JOB": name},
                    cache_store=store, artifact_store=artifacts)
    runner.outputs = runner.run()
    assert may_fail or not runner.failed, runner.log()
    return runner


def proof_cell(artifact: dict[str, Any]) -> str:
    """What the summary must say about an artifact's import proof, from the build's JSON."""
    proof = artifact["import_test"]
    if proof["status"] == "skipped":
        return f"| proof | skipped: {' '.join(proof['reason'].split())} |"
    return f"| proof | {proof['status'] if proof['status'] == 'passed' else '**FAILED'}"


def sandbox_row(artifact: dict[str, Any]) -> str:
    """What the summary must say about the sandbox of a proof that ran, from the JSON."""
    kinds: dict[str, list[str]] = {}
    for target in artifact["import_test"]["targets"]:
        if target["status"] != "skipped":
            kinds.setdefault(target["sandbox_kind"], []).append(target["target"])
    return "| sandbox | " + "; ".join(
        f"{'**none** (unsandboxed)' if kind == 'none' else kind}: {', '.join(names)}"
        for kind, names in kinds.items()) + " |"


def test_fan_out_builds_each_architecture_then_publishes_and_attaches_per_function(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:
    # Two build jobs (one per architecture, as on x86_64 and ubuntu-24.04-arm runners),
    # each uploading dist/; one later job publishes both and attaches each function.
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-tiny", "1.0")
    aws.create_function("fn-x86", arch="x86_64")
    aws.create_function("fn-arm", arch="arm64")
    gathered = tmp_path / "publish-job" / "dist"
    builds = {}
    with serve_index(files) as index:
        env = {**runner_env, "UV_INDEX_URL": index}
        for arch in ("arm64", "x86_64"):  # the arm64 job's dist/ first: order must not matter
            workspace = tmp_path / f"build-{arch}"
            workspace.mkdir()
            build = job(tmp_path, f"build-{arch}", {
                "layer": "tiny", "packages": "ll-fixture-tiny==1.0", "runtimes": "python3.12",
                "architectures": arch, "publish": "false"}, env, workspace)
            builds[arch] = json.loads((build.temp / "lambdalayer-build.json").read_text())
            [artifact] = builds[arch]["artifacts"]
            assert artifact["architectures"] == [arch]
            summary = build.summary.read_text()
            assert "### tiny" in summary and f"python3.12 on {arch}" in summary
            assert proof_cell(artifact) in summary, summary
            if artifact["import_test"]["status"] == "passed":
                assert "FAILED" not in summary
                assert sandbox_row(artifact) in summary, summary
            # actions/upload-artifact + download-artifact: dist/ lands in dist/layers-ARCH/.
            shutil.copytree(workspace / "dist", gathered / f"layers-{arch}")
    publisher = job(tmp_path, "publish", {
        "artifacts": "dist/*", "attach": "true", "functions": "fn-x86 fn-arm"},
        runner_env, gathered.parent)
    arns = json.loads(publisher.outputs["arns"])
    by_arch = {}
    for arch in ("x86_64", "arm64"):
        manifest = json.loads((gathered / f"layers-{arch}" / "tiny.json").read_text())
        [entry] = manifest["published"]
        by_arch[arch] = entry["arn"]
    # Same bytes (pure Python), other targets: two versions, one per architecture.
    assert sorted(by_arch.values()) == [f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:tiny:{n}"
                                        for n in (1, 2)]
    assert sorted(a["arn"] for a in arns) == sorted(by_arch.values())
    assert aws.layers_of("fn-x86") == [by_arch["x86_64"]]
    assert aws.layers_of("fn-arm") == [by_arch["arm64"]]
    summary = publisher.summary.read_text()
    for arch, arn in by_arch.items():
        assert f"| tiny | us-east-1 | published `{arn}` |" in summary
        # No build in this job: the sandbox comes from the manifest each build job wrote.
        proven = builds[arch]["artifacts"][0]["import_test"]
        if proven["status"] == "passed":
            kind = proven["targets"][0]["sandbox_kind"]
            assert f"published `{arn}` | {kind}: python3.12/{arch} |" in summary, summary


def test_one_job_builds_publishes_attaches_and_summarises(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:
    # The whole action in one job, twice: the second run publishes a changed layer in two
    # regions, attaches it, and the summary compares it with the first.
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-tiny", "1.0")
    make_wheel(files, "ll-fixture-tiny", "2.0")
    aws.create_function("action-fn")
    workspace = tmp_path / "repo"
    workspace.mkdir()
    with serve_index(files) as index:
        env = {**runner_env, "UV_INDEX_URL": index}
        common = {"layer": "demo", "runtimes": "python3.12", "architectures": "x86_64"}
        first = job(tmp_path, "first", {**common, "packages": "ll-fixture-tiny==1.0"},
                    env, workspace)
        arn1 = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:demo:1"
        assert first.outputs["layer-arn"] == arn1
        # The action's output is named as the CLI names it; `layer-arn` stays an alias.
        assert first.outputs["layer_arn"] == arn1
        assert "No earlier published version to compare with." in first.summary.read_text()
        second = job(tmp_path, "second", {
            **common, "packages": "ll-fixture-tiny==2.0", "regions": "us-east-1, eu-west-1",
            "attach": "true", "functions": "action-fn"}, env, workspace)
    arn2 = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:demo:2"
    assert second.outputs["layer-arn"] == second.outputs["layer_arn"] == arn2
    arns = json.loads(second.outputs["arns"])
    assert sorted((a["region"], a["version"]) for a in arns) == [("eu-west-1", 1),
                                                                ("us-east-1", 2)]
    [artifact] = json.loads((second.temp / "lambdalayer-build.json").read_text())["artifacts"]
    # Each job uploaded the layer's SBOM as a workflow artifact of its own.
    uploaded = sorted(p.relative_to(tmp_path / "workflow-artifacts").as_posix()
                      for p in (tmp_path / "workflow-artifacts").rglob("*.cdx.json"))
    assert uploaded == ["lambdalayer-sboms-first-demo/demo.cdx.json",
                        "lambdalayer-sboms-second-demo/demo.cdx.json"], uploaded
    summary = second.summary.read_text()
    assert proof_cell(artifact) in summary, summary
    if artifact["import_test"]["status"] == "passed":
        assert sandbox_row(artifact) in summary, summary
    assert f"| us-east-1 | published `{arn2}` |" in summary
    # moto serves no layer content, so the diff against version 1 is reported as unreadable.
    assert f"No diff against {arn1}: it could not be read" in summary
    assert aws.layers_of("action-fn") == [arn2]
    # Which function got which version, and the command that undoes it.
    assert ("| action-fn | us-east-1 | `demo:2` | `aws lambda update-function-configuration "
            "--region us-east-1 --function-name action-fn --layers '[]'` |") in summary, summary


def test_the_runner_reads_both_forms_of_github_output() -> None:
    text = "a=1\nb<<EOF\nline one\nline=two\nEOF\nc=x=y\n"
    assert parse_commands_file(text) == {"a": "1", "b": "line one\nline=two", "c": "x=y"}


def test_the_runner_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    runner = Runner(workspace=tmp_path, temp=tmp_path, inputs={}, env={})
    with pytest.raises(AssertionError, match="not supported"):
        runner.expand("${{ github.event.inputs.x }}")
    with pytest.raises(AssertionError, match="not supported"):
        runner.condition("inputs.publish == 'true' || inputs.attach == 'true'")
    with pytest.raises(AssertionError, match="undeclared input"):
        runner.expand("${{ inputs.nope }}")
    assert runner.condition("inputs.artifacts == ''") is True
    runner.failed.append("x")
    assert runner.condition("inputs.artifacts == ''") is False
    assert runner.condition("always()") is True


def _summary_of(tmp_path: Path, build: dict[str, Any]) -> str:
    temp = tmp_path / "summary-temp"
    temp.mkdir(exist_ok=True)
    (temp / "lambdalayer-build.json").write_text(json.dumps(build))
    done = subprocess.run([sys.executable, str(ROOT / "action" / "summary.py"), str(temp)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_the_summary_shows_a_skipped_proof_with_its_reason(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-tiny", "1.0")
    with serve_index(files) as index:
        built = subprocess.run(
            [sys.executable, "-m", "lambdalayer", "build", "tiny", "-p", "ll-fixture-tiny",
             "--runtime", "python3.12", "--arch", "x86_64", "--no-proof", "--json",
             "--out", str(tmp_path / "dist")],
            capture_output=True, text=True, env={**os.environ, "UV_INDEX_URL": index},
            check=False)
    assert built.returncode == 0, built.stderr
    document = json.loads(built.stdout)
    [artifact] = document["artifacts"]
    assert artifact["import_test"]["status"] == "skipped"
    summary = _summary_of(tmp_path, document)
    assert proof_cell(artifact) in summary
    assert "FAILED" not in summary and "passed" not in summary


def test_the_summary_shows_a_failed_proof_and_where(tmp_path: Path) -> None:
    # `build` stops on a failed proof, so no real artifact carries "failed" today; the
    # JSON contract (cli/build_cmd.py artifact_proof_json) allows it, and the summary
    # must not call it anything else.
    artifact = {"name": "x", "path": str(tmp_path / "x.zip"), "runtimes": ["python3.12"],
                "architectures": ["arm64"], "size": 10, "unzipped_size": 20,
                "import_test": {"status": "failed", "reason": "No module named 'x._speed'",
                                "interpreter": None,
                                "targets": [{"target": "python3.12/arm64", "status": "failed"}]}}
    summary = _summary_of(tmp_path, {"artifacts": [artifact]})
    assert ("| proof | **FAILED** on python3.12/arm64: No module named 'x._speed' |"
            in summary)


def test_the_summary_of_a_failed_build_gives_its_error(tmp_path: Path) -> None:
    summary = _summary_of(tmp_path, {"error": {"exit_code": 6, "message": "no zip was written"}})
    assert "The build did not finish: no zip was written" in summary


def test_the_fan_out_example_is_the_flow_tested_above() -> None:
    # examples/github-actions/layers-per-arch.yml: only inputs action.yml declares; arm64
    # builds on an arm64 runner; the publish job gathers each build job's dist/ into its own
    # folder and publishes them with `artifacts`, as the fan-out test does.
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions" /
                               "layers-per-arch.yml").read_text("utf-8"))
    declared = set(yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"])
    uses = [step for job in workflow["jobs"].values() for step in job["steps"]
            if str(step.get("uses", "")).startswith("OWNER/lambdalayer@")]
    assert len(uses) == 2
    for step in uses:
        assert set(step.get("with", {})) <= declared
        assert "version" not in step.get("with", {})  # the action's own checkout
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    runners = {row["arch"]: row["runner"] for row in build["strategy"]["matrix"]["include"]}
    assert runners == {"x86_64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}
    [upload] = [s for s in build["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["name"] == "layers-${{ matrix.arch }}"
    [download] = [s for s in publish["steps"] if "download-artifact" in s.get("uses", "")]
    assert download["with"] == {"pattern": "layers-*", "path": "dist"}
    [action] = [s for s in publish["steps"] if s in uses]
    assert action["with"]["artifacts"] == "dist/*" and action["with"]["attach"] is True
    assert publish["needs"] == "build"


# The "Sandbox for the import proof" step, run as the runner runs it. Privileged programs
# (sudo, apparmor_parser) are stand-ins that record their arguments: a test must not load
# AppArmor profiles into the host's kernel.
_PROFILE = ("abi <abi/4.0>,\ninclude <tunables/global>\n"
            "profile bwrap {bwrap} flags=(unconfined) {{\n  userns,\n"
            "  include if exists <local/bwrap>\n}}\n")


def _stand_ins(bin_dir: Path, calls: Path, **programs: str) -> Path:
    """Scripts named like `programs` (body: shell after the call is recorded), each
    appending its name and arguments to `calls`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    programs = {"sudo": 'if [ "$1" = -n ]; then shift; fi; exec "$@"',
                "apparmor_parser": "exit 0", **programs}
    for name, body in programs.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/bash\necho "{name} $*" >> "{calls}"\n{body}\n')
        path.chmod(0o755)
    return bin_dir


def _sandbox_step(tmp_path: Path, sysctl: str | None, inputs: dict[str, str] | None = None,
                  **programs: str) -> tuple[Runner, Path, list[str]]:
    """Run only the action's sandbox step; (the runner, the AppArmor folder, the calls)."""
    sysctl_file = tmp_path / "apparmor_restrict_unprivileged_userns"
    if sysctl is not None:
        sysctl_file.write_text(sysctl + "\n")
    apparmor = tmp_path / "apparmor.d"
    apparmor.mkdir(exist_ok=True)
    calls = tmp_path / "calls.log"
    calls.touch()
    bin_dir = _stand_ins(tmp_path / "stand-ins", calls, **programs)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "LAMBDALAYER_ACTION_USERNS_SYSCTL": str(sysctl_file),
           "LAMBDALAYER_ACTION_APPARMOR_DIR": str(apparmor)}
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    runner = Runner(workspace=tmp_path, temp=temp, inputs=inputs or {}, env=env)
    steps = runner.action["runs"]["steps"]
    [(number, step)] = [(n, s) for n, s in enumerate(steps)
                        if s["name"] == "Sandbox for the import proof"]
    assert runner.condition(step.get("if"))
    runner._run_step(number, step)
    assert not runner.failed, runner.log()  # the step warns; lambdalayer decides
    return runner, apparmor, calls.read_text().splitlines()


def _real_bwrap() -> str:
    found = shutil.which("bwrap")
    require(found is not None, "bubblewrap (apt-get install bubblewrap)")
    return os.path.realpath(str(found))


@pytest.mark.parametrize("sysctl", [None, "0"])
def test_the_sandbox_step_leaves_apparmor_alone_where_namespaces_are_not_restricted(
        tmp_path: Path, sysctl: str | None) -> None:
    _real_bwrap()
    runner, apparmor, calls = _sandbox_step(tmp_path, sysctl)
    assert list(apparmor.iterdir()) == []
    assert calls == []  # no sudo, no apparmor_parser, no apt-get: bwrap is installed
    assert "The import proof can run under bubblewrap" in runner.log(), runner.log()


def test_the_sandbox_step_grants_user_namespaces_to_bwrap_alone(tmp_path: Path) -> None:
    bwrap = _real_bwrap()
    runner, apparmor, calls = _sandbox_step(tmp_path, "1")
    profile = apparmor / "bwrap"
    text = profile.read_text()
    assert text.endswith(_PROFILE.format(bwrap=bwrap)), text
    assert f"apparmor_parser -r {profile}" in calls, calls
    # Never the host-wide switch: the restriction stays on for every other program.
    assert (tmp_path / "apparmor_restrict_unprivileged_userns").read_text() == "1\n"
    assert not any("sysctl" in call for call in calls)
    assert "sysctl -w" not in (ROOT / "action" / "sandbox.sh").read_text()
    assert "granting them to" in runner.log()
    # Run again (a re-run job): the action's own profile is rewritten, the same.
    _sandbox_step(tmp_path, "1")
    assert profile.read_text() == text


def test_the_sandbox_step_keeps_a_profile_it_did_not_write(tmp_path: Path) -> None:
    _real_bwrap()
    (tmp_path / "apparmor.d").mkdir()
    theirs = tmp_path / "apparmor.d" / "bwrap"
    theirs.write_text("profile bwrap /usr/bin/bwrap { userns, }\n")
    runner, _, calls = _sandbox_step(tmp_path, "1")
    assert theirs.read_text() == "profile bwrap /usr/bin/bwrap { userns, }\n"
    assert not any(call.startswith("apparmor_parser") for call in calls)
    assert "Keeping the existing AppArmor profile" in runner.log()


@pytest.mark.parametrize(("policy", "consequence"), [
    ("required", "the build stops (exit 8) rather than run it unsandboxed"),
    ("auto", "the proof runs unsandboxed, with a warning")])
def test_a_bwrap_the_runner_still_refuses_is_a_warning_naming_the_consequence(
        tmp_path: Path, policy: str, consequence: str) -> None:
    # The runner-images symptom, reproduced by a bwrap that fails as it does there.
    refused = 'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1'
    runner, _, _ = _sandbox_step(tmp_path, "1", {"proof-sandbox": policy}, bwrap=refused)
    log = runner.log()
    assert ("::warning title=lambdalayer proof sandbox::bubblewrap cannot make its "
            "namespaces here: bwrap: setting up uid map: Permission denied.") in log, log
    assert f"with proof-sandbox: {policy} {consequence}" in log, log


def test_the_proof_sandbox_input_reaches_the_build(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:
    # Default required; a value lambdalayer does not know stops the build naming both.
    declared = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"]
    assert declared["proof-sandbox"]["default"] == "required"
    temp = tmp_path / "temp"
    temp.mkdir()
    runner = Runner(workspace=tmp_path, temp=temp, env=runner_env, inputs={
        "layer": "x", "packages": "six", "publish": "false", "proof-sandbox": "maybe"})
    runner.run()
    assert runner.failed == ["Build"], runner.log()
    build = json.loads((temp / "lambdalayer-build.json").read_text())
    assert build["error"]["exit_code"] == 2
    assert ("LAMBDALAYER_PROOF_SANDBOX: 'maybe' is not a proof sandbox policy; use 'auto' "
            "or 'required'.") in build["error"]["message"]


def test_the_summary_says_loudly_when_a_proof_ran_unsandboxed(tmp_path: Path) -> None:
    targets = [{"target": "python3.12/x86_64", "status": "passed", "sandbox_kind": "none"},
               {"target": "python3.13/x86_64", "status": "passed", "sandbox_kind": "bwrap"},
               {"target": "python3.14/x86_64", "status": "skipped", "sandbox_kind": None}]
    artifact = {"name": "x", "path": str(tmp_path / "x.zip"), "runtimes": ["python3.12"],
                "architectures": ["x86_64"], "size": 10, "unzipped_size": 20,
                "import_test": {"status": "passed", "reason": None, "interpreter": None,
                                "targets": targets}}
    summary = _summary_of(tmp_path, {"artifacts": [artifact]})
    assert ("| sandbox | **none** (unsandboxed): python3.12/x86_64; bwrap: python3.13/x86_64 |"
            in summary), summary


def test_the_summary_of_an_up_to_date_zip_reads_the_sandbox_from_its_manifest(
        tmp_path: Path) -> None:
    manifest = tmp_path / "dist" / "x.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"proof": [
        {"target": "python3.12/x86_64", "status": "passed", "sandbox": "sandboxed (bwrap: …)",
         "sandbox_kind": "bwrap"}]}))
    artifact = {"name": "x", "path": str(tmp_path / "dist" / "x.zip"),
                "manifest": str(manifest), "runtimes": ["python3.12"],
                "architectures": ["x86_64"], "size": 10, "unzipped_size": 20,
                "import_test": {"status": "skipped", "interpreter": None, "targets": [],
                                "reason": "the zip was up to date; not rebuilt"}}
    summary = _summary_of(tmp_path, {"artifacts": [artifact]})
    assert "| sandbox | bwrap: python3.12/x86_64 |" in summary, summary
    manifest.write_text(json.dumps({"proof": []}))  # built with --no-proof
    assert "| sandbox | no proof ran |" in _summary_of(tmp_path, {"artifacts": [artifact]})


# proof: required | best-effort. A layer with an arm64 extension module (an x86-64 .so
# relabelled EM_AARCH64, all the audit reads): its python3.12/arm64 proof needs an arm64
# CPython 3.12, which this runner lacks and cannot provision (no apt-get, no downloads).
def _native_arm64_index(root: Path) -> Path:
    from tests.unit.audit.fixtures import compile_so, set_machine

    so = compile_so(root / "cc", "arm.so")
    set_machine(so, 183)  # EM_AARCH64
    make_wheel(root / "files", "ll-fixture-native", "1.0",
               file_tag="cp312-cp312-manylinux_2_17_aarch64",
               wheel_tag="cp312-cp312-manylinux_2_17_aarch64",
               files={"ll_fixture_native/__init__.py": b"",
                      "ll_fixture_native/_n.cpython-312-aarch64-linux-gnu.so": so.read_bytes()})
    return root / "files"


def _arm64_job(tmp_path: Path, runner_env: dict[str, str], proof: str | None) -> Runner:
    from lambdalayer.interpreters.find import find_for

    require(find_for("3.12", "aarch64") is None, "a host without an arm64 CPython 3.12")
    workspace = tmp_path / "repo"
    workspace.mkdir()
    inputs = {"layer": "native", "packages": "ll-fixture-native==1.0",
              "runtimes": "python3.12", "architectures": "arm64", "publish": "false"}
    if proof is not None:
        inputs["proof"] = proof
    with serve_index(_native_arm64_index(tmp_path / "index")) as index:
        return job(tmp_path, "arm64", inputs, {**runner_env, "UV_INDEX_URL": index}, workspace,
                   may_fail=True)


def test_proof_required_is_the_default_and_an_unprovable_arm64_target_fails_naming_the_fix(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:
    declared = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"]
    assert declared["proof"]["default"] == "required"
    runner = _arm64_job(tmp_path, runner_env, None)
    log = runner.log()
    assert runner.failed == ["Build"], log
    # It tried: the plan named the target, provisioning was attempted and warned.
    assert "To provision for the import proof: python3.12 arm64 uv" in log, log
    assert "::warning title=lambdalayer import proof::No arm64 CPython for python3.12" in log
    assert "ubuntu-24.04-arm" in log and "docs/ci.md" in log
    build = json.loads((runner.temp / "lambdalayer-build.json").read_text())
    assert build["error"]["exit_code"] == 7
    message = build["error"]["message"]
    assert "python3.12/arm64: no aarch64 CPython 3.12" in message, message
    assert "arm64 runner" in message and "docs/ci.md" in message, message
    assert not (tmp_path / "repo" / "dist" / "native.zip").exists()
    summary = runner.summary.read_text()
    assert "The build did not finish: The import proof of native is required" in summary


def test_proof_best_effort_warns_and_goes_on(
        aws: Aws, tmp_path: Path, runner_env: dict[str, str]) -> None:
    runner = _arm64_job(tmp_path, runner_env, "best-effort")
    log = runner.log()
    assert not runner.failed, log
    assert "To provision" not in log  # best-effort provisions nothing
    assert ("::warning title=lambdalayer import proof::native is not proven on "
            "python3.12/arm64: no aarch64 CPython 3.12") in log, log
    assert "| proof | skipped: python3.12/arm64: no aarch64 CPython 3.12" \
        in runner.summary.read_text()


def test_the_summary_lists_each_function_its_layer_version_and_the_undo(
        tmp_path: Path) -> None:
    temp = tmp_path / "summary-temp"
    temp.mkdir()
    (temp / "lambdalayer-attach.json").write_text(json.dumps({"functions": [
        {"name": "fn-a", "region": "us-east-1", "changed": True,
         "before": ["arn:aws:lambda:us-east-1:1:layer:other:2"],
         "after": ["arn:aws:lambda:us-east-1:1:layer:other:2",
                   "arn:aws:lambda:us-east-1:1:layer:demo:3"],
         "rollback": "aws lambda update-function-configuration --region us-east-1 "
                     "--function-name fn-a --layers arn:aws:lambda:us-east-1:1:layer:other:2"},
        {"name": "fn-b", "region": "us-east-1", "changed": False, "rollback": None,
         "before": ["arn:aws:lambda:us-east-1:1:layer:demo:3"],
         "after": ["arn:aws:lambda:us-east-1:1:layer:demo:3"]}]}))
    done = subprocess.run([sys.executable, str(ROOT / "action" / "summary.py"), str(temp)],
                          capture_output=True, text=True, check=True).stdout
    assert "| function | region | layer version | undo |" in done
    assert ("| fn-a | us-east-1 | `demo:3` | `aws lambda update-function-configuration "
            "--region us-east-1 --function-name fn-a --layers "
            "arn:aws:lambda:us-east-1:1:layer:other:2` |") in done, done
    assert "| fn-b | us-east-1 | unchanged | nothing to undo |" in done, done
