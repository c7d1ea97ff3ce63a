"""A runtime declared in the project's config builds before lambdalayer knows it
(docs/configuration.md); a bad declaration is exit 2 naming the key; a built-in runtime
cannot be redefined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import find_python
from tests.helpers import assert_clean_failure, run_cli

PYTHON316 = """
[project]
name = "app"

[tool.lambdalayer.new_runtimes."python3.16"]
python = "3.16"
os = "Amazon Linux 2023"
glibc = "2.34"
architectures = ["x86_64", "arm64"]
"""


def project(root: Path, text: str, name: str = "pyproject.toml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir()  # the config search stops here
    (root / name).write_text(text)
    return root


@pytest.mark.network
def test_a_declared_runtime_builds_and_says_it_was_not_proven(tmp_path: Path) -> None:
    root = project(tmp_path / "app", PYTHON316)
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.16", cwd=root)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((root / "dist" / "x.json").read_text())
    assert manifest["runtimes"] == ["python3.16"]
    assert manifest["architectures"] == ["x86_64", "arm64"]
    assert manifest["inputs"]["declared_runtimes"]["python3.16"]["os"] == "al2023"
    output = run.stdout + run.stderr
    assert "Unknown runtime" not in output
    if find_python("3.16") is None:
        assert "not proven: no CPython 3.16" in output


@pytest.mark.network
def test_declaring_a_runtime_changes_no_default_build(tmp_path: Path) -> None:
    root = project(tmp_path / "app", PYTHON316)
    run = run_cli("build", "x", "-p", "six", "--no-proof", cwd=root)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((root / "dist" / "x.json").read_text())
    assert "python3.16" not in manifest["runtimes"]
    assert "python3.12" in manifest["runtimes"]
    assert "declared_runtimes" not in manifest["inputs"]


@pytest.mark.network
def test_lambdalayer_toml_declares_too_and_its_runtimes_may_name_it(tmp_path: Path) -> None:
    root = project(tmp_path / "app", """
runtimes = ["python3.16"]
architectures = ["arm64"]

[new_runtimes."python3.16"]
os = "al2023"
""", name="lambdalayer.toml")
    run = run_cli("build", "x", "-p", "six", "--no-proof", cwd=root)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((root / "dist" / "x.json").read_text())
    assert manifest["runtimes"] == ["python3.16"]
    assert manifest["architectures"] == ["arm64"]


BAD = [
    ('glibc = "2.35"', '"python3.16".glibc', "ships glibc 2.34, not 2.35"),
    ("python = 3.16", '"python3.16".python', 'quoted version like "3.16"'),
    ('python = "3.15"', '"python3.16".python', "not the version python3.16 runs"),
    ('os = "Amazon Linux 2025"', '"python3.16".os', "unknown OS 'Amazon Linux 2025'"),
    ('architectures = ["ppc64le"]', '"python3.16".architectures', "Unknown architecture"),
    ("architectures = []", '"python3.16".architectures', "expected a list"),
    ('deprecated = "2030-01-01"', '"python3.16"', "unknown key 'deprecated'"),
]


@pytest.mark.parametrize(("line", "key", "what"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_declaration_is_exit_2_naming_the_key(tmp_path: Path, line: str, key: str,
                                                     what: str) -> None:
    facts = {"python": 'python = "3.16"', "os": 'os = "al2023"'}
    facts[line.split(" ")[0]] = line
    root = project(tmp_path / "app", '[tool.lambdalayer.new_runtimes."python3.16"]\n'
                   + "\n".join(facts.values()) + "\n")
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.16", cwd=root)
    assert_clean_failure(run, 2)
    assert f"[tool.lambdalayer].new_runtimes.{key}" in run.stderr
    assert what in run.stderr
    assert not (root / "dist").exists()


def test_a_declaration_without_an_os_or_with_a_bad_name_is_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path / "a", '[tool.lambdalayer.new_runtimes."python3.16"]\n'
                   'python = "3.16"\n')
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.16", cwd=root)
    assert_clean_failure(run, 2)
    assert '"python3.16".os: missing' in run.stderr
    root = project(tmp_path / "b", '[tool.lambdalayer.new_runtimes."pyton3.16"]\n'
                   'os = "al2023"\n')
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.12", cwd=root)
    assert_clean_failure(run, 2)
    assert "'pyton3.16' is not a Lambda Python runtime name" in run.stderr


def test_runtimes_as_a_table_points_to_new_runtimes(tmp_path: Path) -> None:
    """The brief's first spelling, [tool.lambdalayer.runtimes."python3.16"], cannot be: runtimes
    is the list of runtimes to build. The message says where a declaration goes."""
    root = project(tmp_path / "app", '[tool.lambdalayer.runtimes."python3.16"]\nos = "al2023"\n')
    run = run_cli("build", "x", "-p", "six", cwd=root)
    assert_clean_failure(run, 2)
    assert '[tool.lambdalayer.new_runtimes."python3.16"]' in run.stderr


def test_redefining_a_built_in_runtime_is_refused_and_says_why(tmp_path: Path) -> None:
    root = project(tmp_path / "app", '[tool.lambdalayer.new_runtimes."python3.12"]\n'
                   'os = "Amazon Linux 2"\n')
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.12", cwd=root)
    assert_clean_failure(run, 2)
    assert "already knows python3.12" in run.stderr
    assert "Amazon Linux 2023" in run.stderr and "remove the declaration" in run.stderr


def test_an_architecture_the_declaration_leaves_out_is_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path / "app", '[tool.lambdalayer.new_runtimes."python3.16"]\n'
                   'os = "al2023"\narchitectures = ["x86_64"]\n')
    run = run_cli("build", "x", "-p", "six", "--runtime", "python3.16", "--arch", "arm64",
                  cwd=root)
    assert_clean_failure(run, 2)
    assert "python3.16 is declared for x86_64 only" in run.stderr
