"""A whole project driven by its configuration: build, lock, publish, attach."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aws_fixtures import Aws
from tests.helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.network

CONFIG = """
[project]
name = "makenaide"

[tool.lambdalayer]
region = "us-east-1"

[tool.lambdalayer.layers.makenaide-pg8000]
recipe = "pg8000"
functions = ["makenaide-db-initializer", "makenaide-scanner"]

[tool.lambdalayer.layers.makenaide-util]
packages = ["six==1.17.0"]
runtimes = ["python3.12"]
functions = ["makenaide-scanner"]
"""


def write_project(root: Path, text: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(text)
    return root


def test_two_layers_built_published_and_attached_from_one_config(
    tmp_path: Path, aws: Aws
) -> None:
    root = write_project(tmp_path / "proj")
    aws.create_function("makenaide-db-initializer", runtime="python3.11")
    existing = aws.publish_raw("other-layer", runtimes=["python3.12"])
    aws.create_function("makenaide-scanner", runtime="python3.12", layers=[existing])

    built = run_cli("build", "--json", cwd=root, env=aws.env)
    assert built.returncode == 0, built.stderr
    assert sorted(a["name"] for a in built.json()["artifacts"]) == [
        "makenaide-pg8000", "makenaide-util"]
    assert (root / "dist" / "makenaide-pg8000.zip").exists()

    published = run_cli("publish", "--json", cwd=root, env=aws.env)
    assert published.returncode == 0, published.stderr
    arns = {layer["name"]: layer["arn"] for layer in published.json()["layers"]}
    assert set(arns) == {"makenaide-pg8000", "makenaide-util"}

    attached = run_cli("attach", "--json", cwd=root, env=aws.env)
    assert attached.returncode == 0, attached.stderr
    assert aws.layers_of("makenaide-db-initializer") == [arns["makenaide-pg8000"]]
    # The scanner keeps its other layer first, then gains both of ours.
    assert aws.layers_of("makenaide-scanner") == [
        existing, arns["makenaide-pg8000"], arns["makenaide-util"]]

    again = run_cli("publish", "--json", cwd=root, env=aws.env)
    assert all(layer["skipped"] for layer in again.json()["layers"])
    no_op = run_cli("attach", "--json", cwd=root, env=aws.env)
    assert not any(f["changed"] for f in no_op.json()["functions"])


def test_lock_then_locked_build_then_stale_lock_is_refused(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", CONFIG.replace("makenaide-pg8000]", "pg]"))
    locked = run_cli("lock", "--layer", "makenaide-util", "--json", cwd=root)
    assert locked.returncode == 0, locked.stderr
    paths = sorted(Path(entry["path"]) for entry in locked.json()["locks"])
    lock_dir = root / "locks" / "makenaide-util"
    assert paths == [lock_dir / "python3.12-arm64.txt", lock_dir / "python3.12-x86_64.txt"]
    text = paths[1].read_text()
    assert "six==1.17.0" in text and "--hash=sha256:" in text

    build = run_cli("build", "--layer", "makenaide-util", "--locked", "--json", cwd=root)
    assert build.returncode == 0, build.stderr
    manifest = json.loads((root / "dist" / "makenaide-util.json").read_text())
    assert manifest["inputs"]["locks"], "the build must record that it used the locks"

    # The configuration changes: the committed lock no longer matches it.
    (root / "pyproject.toml").write_text(CONFIG.replace('["six==1.17.0"]',
                                                        '["six==1.17.0", "idna==3.10"]'))
    stale = run_cli("build", "--layer", "makenaide-util", "--locked", cwd=root)
    assert_clean_failure(stale, 2)
    assert "stale" in stale.stderr and "lambdalayer lock" in stale.stderr


def test_lock_says_created_then_unchanged(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    first = run_cli("lock", "--layer", "makenaide-util", cwd=root)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created ") == 2 and "updated" not in first.stdout
    again = run_cli("lock", "--layer", "makenaide-util", cwd=root)
    assert again.stdout.count("unchanged ") == 2, again.stdout


def test_a_tampered_lock_hash_fails_the_build(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    assert run_cli("lock", "--layer", "makenaide-util", cwd=root).returncode == 0
    for lock_file in (root / "locks" / "makenaide-util").glob("*.txt"):
        # Every hash of six replaced by zeros: no download can match it any more.
        lines = [
            line[:line.index("sha256:") + 7] + "0" * 64 + line[line.index("sha256:") + 71:]
            if "--hash=sha256:" in line else line
            for line in lock_file.read_text().splitlines()
        ]
        lock_file.write_text("\n".join(lines) + "\n")
    build = run_cli("build", "--layer", "makenaide-util", "--locked", cwd=root)
    assert_clean_failure(build, 3)


def test_installed_wheel_lists_and_uses_its_builtin_recipes(tmp_path: Path) -> None:
    from lambdalayer.common.uvtool import uv_binary

    repo = Path(__file__).resolve().parents[3]
    wheels = tmp_path / "wheels"
    subprocess.run([uv_binary(), "build", "--wheel", "--out-dir", str(wheels), str(repo)],
                   check=True, capture_output=True)
    [wheel] = wheels.glob("lambdalayer_cli-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([uv_binary(), "venv", "--python", sys.executable, str(venv)], check=True,
                   capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run([uv_binary(), "pip", "install", "--python", str(python), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = subprocess.run([str(venv / "bin" / "lambdalayer"), "recipes", "--json"],
                            cwd=elsewhere, capture_output=True, text=True, check=True)
    recipes = {r["name"]: r for r in json.loads(listed.stdout)["recipes"]}
    assert {"pg8000", "psycopg2-binary", "psycopg"} <= set(recipes)
    assert str(venv) in recipes["pg8000"]["source"]  # from the wheel, not this checkout
    built = subprocess.run([str(venv / "bin" / "lambdalayer"), "build", "pg8000", "--json"],
                           cwd=elsewhere, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert (elsewhere / "dist" / "pg8000.zip").exists()


def test_the_makenaide_example_builds_from_its_committed_locks(tmp_path: Path) -> None:
    import shutil

    example = Path(__file__).resolve().parents[3] / "examples" / "makenaide"
    project = tmp_path / "makenaide"
    shutil.copytree(example, project)
    build = run_cli("build", "--locked", "--json", cwd=project)
    assert build.returncode == 0, build.stderr
    [artifact] = build.json()["artifacts"]
    assert artifact["name"] == "makenaide-pg8000"
    assert {p["name"]: p["version"] for p in artifact["packages"]}["pg8000"] == "1.31.6"
