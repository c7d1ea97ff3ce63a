"""PEP 751 lock files (docs/commands/lock.md, docs/supply-chain.md): `build -r pylock.toml`
installs exactly what a standard lock pins, for each target the packages its markers
select, and refuses (exit 2) a lock that does not fit a target or lacks hashes; `lock
--format pylock` writes one per target. Outside in: the real CLI, real uv, a loopback index."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index

ARM_ONLY = "cp312-cp312-manylinux_2_17_aarch64"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = tmp_path_factory.mktemp("pylock-index")
    make_wheel(files, "llpg", "1.0", requires=("llscram>=1", "lltoml; python_version < '3.11'"),
               deflate_level=6)
    make_wheel(files, "llscram", "1.0", deflate_level=6)
    make_wheel(files, "lltoml", "1.0", deflate_level=6)
    make_wheel(files, "llarm", "1.0", file_tag=ARM_ONLY)
    with serve_index(files) as url:
        yield url


def _uv(*args: str, cwd: Path) -> str:
    from uv import find_uv_bin

    env = {**os.environ, "UV_NO_CONFIG": "1"}
    done = subprocess.run([find_uv_bin(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _uv_project(root: Path, url: str, deps: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.10"\n'
        f"dependencies = [{deps}]\n")
    _uv("lock", "--default-index", url, "--quiet", cwd=root)
    return root


def _build(name: str, lock: Path, url: str, out: Path, *extra: str) -> CliRun:
    return run_cli("build", name, "-r", str(lock), "--index-url", url, "--arch", "x86_64",
                   "--no-proof", "--out", str(out), "--json", *extra,
                   env={"LAMBDALAYER_CACHE_DIR": str(out.parent / f"cache-{out.name}")})


def _dists(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return {n.split("/")[-2].split("-")[0] for n in archive.namelist()
                if n.endswith(".dist-info/METADATA")}


def test_a_uv_pylock_and_its_hashed_requirements_build_the_same_zip(
        index: str, tmp_path: Path) -> None:
    project = _uv_project(tmp_path / "fn", index, '"llpg==1.0"')
    pylock = project / "pylock.toml"
    _uv("export", "--format", "pylock.toml", "--no-emit-project", "--no-dev", "--quiet",
        "-o", str(pylock), cwd=project)
    requirements = project / "requirements.txt"
    _uv("export", "--format", "requirements-txt", "--no-emit-project", "--no-dev",
        "--quiet", "-o", str(requirements), cwd=project)
    assert "--hash=sha256:" in requirements.read_text()

    runs = {}
    for label, lock in (("pylock", pylock), ("requirements", requirements)):
        run = _build("pg", lock, index, tmp_path / label, "--runtime", "python3.12")
        assert run.returncode == 0, run.stderr
        runs[label] = json.loads((tmp_path / label / "pg.json").read_text())
    assert runs["pylock"]["code_sha256"] == runs["requirements"]["code_sha256"]
    # python3.12: lltoml's marker (python_version < '3.11') leaves it out.
    assert _dists(tmp_path / "pylock" / "pg.zip") == {"llpg", "llscram"}

    older = _build("pg", pylock, index, tmp_path / "py310", "--runtime", "python3.10")
    assert older.returncode == 0, older.stderr
    assert _dists(tmp_path / "py310" / "pg.zip") == {"llpg", "llscram", "lltoml"}


def test_a_tampered_pylock_hash_fails_the_install(index: str, tmp_path: Path) -> None:
    project = _uv_project(tmp_path / "fn", index, '"llscram==1.0"')
    text = _uv("export", "--format", "pylock.toml", "--no-emit-project", "--no-dev",
               "--quiet", cwd=project)
    start = text.index('sha256 = "') + len('sha256 = "')
    pylock = tmp_path / "pylock.toml"
    pylock.write_text(text[:start] + "0" * 64 + text[start + 64:])
    run = _build("scram", pylock, index, tmp_path / "out", "--runtime", "python3.12")
    assert_clean_failure(run, 3)
    assert not (tmp_path / "out" / "scram.zip").exists()


def _lock_text(wheel: str, hashes: str) -> str:
    return ('lock-version = "1.0"\ncreated-by = "hand"\n\n[[packages]]\n'
            f'name = "{wheel.split("-")[0]}"\nversion = "1.0"\n'
            f'wheels = [{{ name = "{wheel}"{hashes} }}]\n')


def test_a_pylock_whose_wheels_do_not_fit_the_target_is_refused(
        index: str, tmp_path: Path) -> None:
    pylock = tmp_path / "pylock.toml"
    pylock.write_text(_lock_text(f"llarm-1.0-{ARM_ONLY}.whl",
                                 ', hashes = { sha256 = "' + "a" * 64 + '" }'))
    run = _build("arm", pylock, index, tmp_path / "out", "--runtime", "python3.12")
    assert_clean_failure(run, 2)
    assert "no wheel of llarm 1.0 fits python3.12" in run.stderr, run.stderr
    assert "x86_64" in run.stderr


def test_a_pylock_wheel_without_a_hash_is_refused(index: str, tmp_path: Path) -> None:
    pylock = tmp_path / "pylock.toml"
    pylock.write_text(_lock_text("llscram-1.0-py3-none-any.whl", ""))
    run = _build("scram", pylock, index, tmp_path / "out", "--runtime", "python3.12")
    assert_clean_failure(run, 2)
    assert "llscram 1.0: its wheel llscram-1.0-py3-none-any.whl has no sha256" in run.stderr


def test_lock_format_pylock_writes_one_per_target_that_build_reads(
        index: str, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lambdalayer.toml").write_text(
        f'index_url = "{index}"\n[layers.pg]\npackages = ["llpg==1.0"]\n'
        'runtimes = ["python3.10", "python3.12"]\narchitectures = ["x86_64"]\nproof = false\n')
    locked = run_cli("lock", "--format", "pylock", "--json", cwd=root)
    assert locked.returncode == 0, locked.stderr
    folder = root / "locks" / "pg"
    assert sorted(Path(e["path"]) for e in locked.json()["locks"]) == [
        folder / "pylock.python3_10-x86_64.toml", folder / "pylock.python3_12-x86_64.toml"]
    newer = (folder / "pylock.python3_12-x86_64.toml").read_text()
    assert 'lock-version = "1.0"' in newer and "lltoml" not in newer  # markers evaluated
    assert 'name = "lltoml"' in (folder / "pylock.python3_10-x86_64.toml").read_text()

    built = run_cli("build", "--locked", "--json", cwd=root,
                    env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")})
    assert built.returncode == 0, built.stderr
    manifest = json.loads((root / "dist" / "pg.json").read_text())
    assert manifest["inputs"]["locks"], "the build must record that it used the locks"


@pytest.mark.network
def test_poetry_export_and_a_uv_pylock_of_one_project_build_the_same_zip(tmp_path: Path) -> None:
    """docs/supply-chain.md's Poetry line: Poetry with poetry-plugin-export, from
    $LAMBDALAYER_TEST_POETRY (.ci/run installs it in its own venv) or PATH."""
    import shutil

    from tests.conftest import require

    poetry = os.environ.get("LAMBDALAYER_TEST_POETRY") or shutil.which("poetry")
    require(poetry is not None and Path(poetry).exists(),
            "poetry with poetry-plugin-export (.ci/run installs it)")
    assert poetry is not None
    root = tmp_path / "fn"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "fn"\nversion = "0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["scramp==1.4.5"]\n[tool.poetry]\npackage-mode = false\n')
    for args in (["lock"], ["export", "-f", "requirements.txt", "--only", "main",
                            "-o", "requirements.txt"]):
        done = subprocess.run([poetry, *args], cwd=root, capture_output=True, text=True,
                              check=False, timeout=300)
        assert done.returncode == 0, done.stderr
    _uv("lock", "--quiet", cwd=root)
    _uv("export", "--format", "pylock.toml", "--no-emit-project", "--no-dev", "--quiet",
        "-o", "pylock.toml", cwd=root)
    sums = set()
    for lock in ("requirements.txt", "pylock.toml"):
        out = tmp_path / lock.split(".")[0]
        run = run_cli("build", "scram", "-r", str(root / lock), "--runtime", "python3.12",
                       "--arch", "x86_64", "--no-proof", "--out", str(out),
                       env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / f"cache-{out.name}")})
        assert run.returncode == 0, run.stderr
        sums.add(json.loads((out / "scram.json").read_text())["code_sha256"])
    assert len(sums) == 1
