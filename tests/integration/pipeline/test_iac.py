"""`build --unpacked` and the infrastructure-as-code examples, run by the real tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import find_python, require
from tests.helpers import run_cli

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def _tool(env_name: str, command: str) -> str | None:
    """A tool from $ENV_NAME (where .ci/run installed it), else from PATH."""
    return os.environ.get(env_name) or shutil.which(command)


def test_unpacked_tree_is_exactly_the_zip(tmp_path: Path) -> None:
    target = tmp_path / "layer"
    args = ("build", "demo", "-p", "six==1.17.0", "--out", str(tmp_path / "dist"),
            "--unpacked", str(target), "--json")
    assert run_cli(*args).returncode == 0
    # Below an entry the first run recorded writing (docs/safety.md): replaced.
    (target / "python" / "stale.py").write_text("left over from an older build\n")
    run = run_cli(*args, "--force")
    assert run.returncode == 0, run.stderr
    [unpacked] = run.json()["unpacked"]
    assert unpacked["directory"] == str(target)
    with zipfile.ZipFile(tmp_path / "dist" / "demo.zip") as archive:
        entries = {i.filename: (i.external_attr >> 16) & 0o777
                   for i in archive.infolist() if not i.is_dir()}
    on_disk = {p.relative_to(target).as_posix(): p.stat().st_mode & 0o777
               for p in target.rglob("*") if not p.is_dir()}
    assert on_disk == entries  # same paths and modes; the stale file is gone
    assert "python/six.py" in on_disk


def test_unpacked_with_one_zip_per_architecture(tmp_path: Path) -> None:
    target = tmp_path / "layers"
    run = run_cli("build", "fast", "-p", "orjson==3.10.7", "--runtime", "python3.12",
                  "--out", str(tmp_path / "dist"), "--unpacked", str(target), "--json")
    assert run.returncode == 0, run.stderr
    assert [a["name"] for a in run.json()["artifacts"]] == ["fast", "fast"]  # one layer
    names = sorted(u["name"] for u in run.json()["unpacked"])  # a tree per zip
    assert names == ["fast-arm64", "fast-x86_64"]
    # Each tree's record of what was written sits beside it (docs/safety.md).
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == names
    arm = list((target / "fast-arm64").rglob("orjson*.so"))
    assert arm and "aarch64" in arm[0].name


def test_sam_build_with_makefile_runs_lambdalayer(tmp_path: Path) -> None:
    sam = _tool("LAMBDALAYER_TEST_SAM", "sam")
    require(sam is not None, "aws-sam-cli (sam) is not installed; .ci/run installs it")
    require(shutil.which("make") is not None, "make is not installed")
    python312 = find_python("3.12")
    require(python312 is not None, "no CPython 3.12 to import the layer with")
    assert sam is not None and python312 is not None
    project = tmp_path / "sam"
    shutil.copytree(EXAMPLES / "sam", project)
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0",
           # The Makefile calls `lambdalayer`: this checkout's, first on PATH.
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # Only the layer: building the function would want a python3.12 on PATH.
    done = subprocess.run([sam, "build", "DepsLayer"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Build Succeeded" in done.stdout
    layer = project / ".aws-sam" / "build" / "DepsLayer"
    site = layer / "python" / "lib" / "python3.12" / "site-packages"
    assert (site / "orjson").is_dir() and not (layer / "dist").exists()
    # Import as Lambda would: isolated, no site-packages, only the layer's dirs on sys.path.
    probe = ("import sys; sys.path[:0] = [sys.argv[1] + '/python', sys.argv[2]]; "
             "import orjson, pg8000; assert orjson.__file__.startswith(sys.argv[2]); "
             "print(pg8000.__version__, orjson.dumps({'ok': 1}).decode())")
    imported = subprocess.run([python312, "-I", "-S", "-c", probe, str(layer), str(site)],
                              capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["1.31.2", '{"ok":1}']


# --------------------------------------------------------------------------- CDK

CDK_ENV = {"CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "1",
           "CDK_VALIDATION": "false", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def cdk_fingerprint(path: Path) -> str:
    """CDK's FileSystem.fingerprint of one binary file (aws-cdk-lib 2.x, follow=external,
    no extra hash): what names the asset, and decides whether it is uploaded again."""
    import hashlib

    def field(digest: Any, key: str, value: str) -> None:
        digest.update(b"\x01" + key.encode() + b"\x02" + value.encode() + b"\x03")

    data = path.read_bytes()
    digest = hashlib.sha256()
    field(digest, "options.extra", "")
    field(digest, "options.follow", "external")
    field(digest, "file:", f"{len(data)}:{hashlib.sha256(data).hexdigest()}")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def cdk_builds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The CDK example built in two different directories, with different umasks."""
    projects = []
    for number, umask in ((1, 0o022), (2, 0o077)):
        project = tmp_path_factory.mktemp(f"checkout{number}") / "cdk"
        shutil.copytree(EXAMPLES / "cdk", project)
        run = run_cli("build", "deps", "-r", "requirements.txt", "--runtime", "python3.12",
                      "--arch", "x86_64", cwd=project, umask=umask)
        assert run.returncode == 0, run.stderr
        projects.append(project)
    return projects


def test_cdk_asset_hash_is_the_same_for_builds_in_different_directories(
        cdk_builds: list[Path]) -> None:
    first, second = (p / "dist" / "deps.zip" for p in cdk_builds)
    assert first.read_bytes() == second.read_bytes()
    assert cdk_fingerprint(first) == cdk_fingerprint(second)


def test_cdk_synth_gives_the_same_asset_hash(cdk_builds: list[Path]) -> None:
    cdk = _tool("LAMBDALAYER_TEST_CDK", "cdk")
    cdk_python = os.environ.get("LAMBDALAYER_TEST_CDK_PYTHON", sys.executable)
    has_lib = subprocess.run([cdk_python, "-c", "import aws_cdk"], capture_output=True,
                             check=False).returncode == 0
    require(cdk is not None and has_lib,
            "the CDK toolchain (npm aws-cdk, pip aws-cdk-lib) is not installed; "
            ".ci/run installs it")
    assert cdk is not None
    hashes = []
    # Two synths at once: the first jsii start-up takes most of a minute.
    runs = [subprocess.Popen([cdk, "synth", "--app", f"{cdk_python} app.py", "--quiet"],
                             cwd=project, env={**os.environ, **CDK_ENV},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for project in cdk_builds]
    for project, run in zip(cdk_builds, runs, strict=True):
        out, err = run.communicate(timeout=900)
        assert run.returncode == 0, out + err
        assets = json.loads((project / "cdk.out" / "LayerStack.assets.json").read_text())
        layer = [h for h, a in assets["files"].items()
                 if a["displayName"] == "DepsLayer/Code"]
        assert len(layer) == 1
        template = (project / "cdk.out" / "LayerStack.template.json").read_text()
        assert f"asset.{layer[0]}.zip" in template
        hashes.append(layer[0])
    assert hashes[0] == hashes[1] == cdk_fingerprint(cdk_builds[0] / "dist" / "deps.zip")


def _terraform_reads(terraform: str, work: Path, dist: Path) -> dict[str, Any]:
    """What examples/terraform/main.tf's locals read from `dist`: its resource and provider
    blocks left out, so `terraform console` evaluates them with no provider to download."""
    work.mkdir()
    text = (EXAMPLES / "terraform" / "main.tf").read_text("utf-8")
    locals_only = text[:text.index("\nresource ")].replace(
        text[text.index("terraform {"):text.index("\n}\n", text.index("terraform {")) + 3], "")
    (work / "main.tf").write_text(locals_only)
    shutil.copytree(dist, work / "dist")
    expression = ("jsonencode({for key, m in local.manifests : key => "
                  "[m.name, m.zip, m.code_sha256, m.architectures]})\n")
    done = subprocess.run([terraform, "console"], cwd=work, input=expression,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull,
                               "CHECKPOINT_DISABLE": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(json.loads(done.stdout.strip().splitlines()[-1]))  # type: ignore[no-any-return]


def test_terraform_example_reads_both_layouts(tmp_path: Path) -> None:
    terraform = _tool("LAMBDALAYER_TEST_TERRAFORM", "terraform")
    require(terraform is not None, "terraform is not installed")
    assert terraform is not None
    pure, native = tmp_path / "pure", tmp_path / "native"
    for out, package in ((pure, "six==1.17.0"), (native, "orjson==3.10.7")):
        run = run_cli("build", "deps", "-p", package, "--runtime", "python3.12",
                      "--out", str(out))
        assert run.returncode == 0, run.stderr
    # A pure layer: dist/deps.json, one version for both architectures.
    read = _terraform_reads(terraform, tmp_path / "tf-pure", pure)
    assert list(read) == ["deps"]
    assert read["deps"][:2] == ["deps", "deps.zip"]
    assert read["deps"][3] == ["x86_64", "arm64"]
    # Native code, both architectures: there is no dist/deps.json; two versions of "deps".
    assert not (native / "deps.json").exists()
    read = _terraform_reads(terraform, tmp_path / "tf-native", native)
    assert sorted(read) == ["deps-arm64", "deps-x86_64"]
    for arch in ("x86_64", "arm64"):
        name, zip_name, code_sha256, archs = read[f"deps-{arch}"]
        assert (name, zip_name, archs) == ("deps", f"deps-{arch}.zip", [arch])
        manifest = json.loads((native / f"deps-{arch}.json").read_text())
        assert code_sha256 == manifest["code_sha256"]
