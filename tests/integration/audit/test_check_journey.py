"""`check` of a zip `build` wrote: the manifest beside it gives the targets, and
the fixes it prints are commands that run. Piped (a CI log), findings are plain lines."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so, set_machine

pytestmark = pytest.mark.network  # uv resolves from the loopback index

EM_AARCH64 = 183
PACKAGE = "ll-fixture-native"
MODULE = "ll_fixture_native"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One release with a wheel per architecture (the aarch64 one: an x86-64 .so
    relabelled EM_AARCH64, which is all the audit reads)."""
    root = tmp_path_factory.mktemp("index")
    x86 = compile_so(root / "cc", "x86.so")
    arm = compile_so(root / "cc", "arm.so")
    set_machine(arm, EM_AARCH64)
    for machine, so in (("x86_64", x86), ("aarch64", arm)):
        make_wheel(root / "files", PACKAGE, "1.0",
                   file_tag=f"cp312-cp312-manylinux_2_17_{machine}",
                   wheel_tag=f"cp312-cp312-manylinux_2_17_{machine}",
                   files={f"{MODULE}/__init__.py": b"",
                          f"{MODULE}/_n.cpython-312-{machine}-linux-gnu.so": so.read_bytes()})
    return root / "files"


def _env(tmp_path: Path, index_url: str) -> dict[str, str]:
    return {"UV_DEFAULT_INDEX": index_url, "UV_CACHE_DIR": str(tmp_path / "uvcache"),
            "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}


def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> CliRun:
    return run_cli(*args, cwd=tmp_path, env=env)


def test_check_of_an_arm64_zip_reads_its_manifest(index: Path, tmp_path: Path) -> None:
    with serve_index(index) as url:
        env = _env(tmp_path, url)
        built = _cli(tmp_path, env, "build", "graviton", "-p", PACKAGE, "--runtime",
                     "python3.12", "--arch", "arm64", "--no-proof")
        assert built.returncode == 0, built.stderr
        # No options: the manifest's python3.12/arm64.
        bare = _cli(tmp_path, env, "check", "dist/graviton.zip", "--json")
        assert bare.returncode == 0, bare.stderr
        assert bare.json()["targets"] == ["python3.12/arm64"]
        # --runtime alone: the architecture still comes from the manifest.
        runtime_only = _cli(tmp_path, env, "check", "dist/graviton.zip", "--runtime",
                            "python3.12", "--json")
        assert runtime_only.returncode == 0, runtime_only.stderr
        assert runtime_only.json()["targets"] == ["python3.12/arm64"]

        # --arch overrides it: two findings, in a log-sized listing with one fix.
        wrong = _cli(tmp_path, env, "check", "dist/graviton.zip", "--arch", "x86_64")
        assert wrong.returncode == 4, wrong.stderr
        lines = wrong.stdout.strip().splitlines()
        assert len(lines) <= 16, wrong.stdout
        assert {"wrong-machine", "wheel-tag-mismatch"} <= {
            word for line in lines for word in line.split()}
        assert all(len(line) > 0 for line in lines)
        fixes = [line.split("fix: ", 1)[1] for line in lines if "fix: " in line]
        assert len(fixes) == 1, wrong.stdout
        assert fixes[0].startswith("lambdalayer build graviton ")
        assert sum(fixes[0] in line for line in lines) == 1  # said once

        # The printed fix runs as printed (here: builds the x86_64 layer).
        words = shlex.split(fixes[0])
        assert words[0] == "lambdalayer"
        fixed = _cli(tmp_path, env, *words[1:], "--no-proof")
        assert fixed.returncode == 0, fixed.stderr
        again = _cli(tmp_path, env, "check", "dist/graviton.zip")
        assert again.returncode == 0, again.stderr


def test_check_without_targets_says_what_to_give(tmp_path: Path) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "m.py").write_text("x = 1\n")
    run = run_cli("check", str(tmp_path / "layer"))
    assert_clean_failure(run, 2)
    assert "Missing option" not in run.stderr
    assert "--runtime" in run.stderr and "manifest" in run.stderr
    missing = run_cli("check", str(tmp_path / "nothere.zip"))
    assert_clean_failure(missing, 2)
    assert "does not exist" in missing.stderr


def test_missing_python_dir_fix_runs(index: Path, tmp_path: Path) -> None:
    """A layer built for another runtime: the fix rebuilds its packages for this one."""
    with serve_index(index) as url:
        env = _env(tmp_path, url)
        built = _cli(tmp_path, env, "build", "old", "-p", PACKAGE, "--runtime",
                     "python3.12", "--arch", "x86_64", "--no-proof")
        assert built.returncode == 0, built.stderr
        check = _cli(tmp_path, env, "check", "dist/old.zip", "--runtime", "python3.11",
                     "--json")
        assert check.returncode == 4
        [finding] = [f for f in check.json()["findings"] if f["code"] == "missing-python-dir"]
        assert finding["fix"] in finding["message"]
        words = shlex.split(finding["fix"])
        assert words[:3] == ["lambdalayer", "build", "old"]
        assert f"{PACKAGE}==1.0" in words
        run = _cli(tmp_path, env, *words[1:], "--no-proof", "--out", "fixed")
        # No cp311 wheel in this index: a resolution failure (3), never a usage error (2).
        assert run.returncode in (0, 3), run.stderr
        assert "Name the layer" not in run.stderr and "Usage:" not in run.stderr


@pytest.fixture(scope="module")
def two_native(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two native distributions, each with a wheel per architecture."""
    root = tmp_path_factory.mktemp("index2")
    x86 = compile_so(root / "cc", "x86.so")
    arm = compile_so(root / "cc", "arm.so")
    set_machine(arm, EM_AARCH64)
    for name in ("ll-fixture-one", "ll-fixture-two"):
        module = name.replace("-", "_")
        for machine, so in (("x86_64", x86), ("aarch64", arm)):
            make_wheel(root / "files", name, "1.0",
                       file_tag=f"cp312-cp312-manylinux_2_17_{machine}",
                       wheel_tag=f"cp312-cp312-manylinux_2_17_{machine}",
                       files={f"{module}/__init__.py": b"",
                              f"{module}/_n.cpython-312-{machine}-linux-gnu.so":
                                  so.read_bytes()})
    return root / "files"


def test_one_fix_per_layer_rebuilds_every_package_it_holds(two_native: Path,
                                                           tmp_path: Path) -> None:
    with serve_index(two_native) as url:
        env = _env(tmp_path, url)
        built = _cli(tmp_path, env, "build", "duo", "-p", "ll-fixture-one", "-p",
                     "ll-fixture-two", "--runtime", "python3.12", "--arch", "arm64",
                     "--no-proof")
        assert built.returncode == 0, built.stderr
        wrong = _cli(tmp_path, env, "check", "dist/duo.zip", "--arch", "x86_64")
        assert wrong.returncode == 4, wrong.stderr
        fixes = {line.split("fix: ", 1)[1] for line in wrong.stdout.splitlines()
                 if "fix: " in line}
        assert len(fixes) == 1, wrong.stdout  # one per layer, not one per package
        [fix] = fixes
        words = shlex.split(fix)
        assert words[:3] == ["lambdalayer", "build", "duo"], fix
        assert {"ll-fixture-one==1.0", "ll-fixture-two==1.0"} <= set(words), fix
        assert words[-4:] == ["--runtime", "python3.12", "--arch", "x86_64"], fix
        as_json = _cli(tmp_path, env, "check", "dist/duo.zip", "--arch", "x86_64", "--json")
        assert {f.get("fix") for f in as_json.json()["findings"] if f.get("fix")} == {fix}
        # The printed fix runs as printed, and the layer it makes passes `check`.
        fixed = _cli(tmp_path, env, *words[1:], "--no-proof")
        assert fixed.returncode == 0, fixed.stderr
        again = _cli(tmp_path, env, "check", "dist/duo.zip", "--json")
        assert again.returncode == 0, again.stderr
        assert again.json()["targets"] == ["python3.12/x86_64"]
