"""Your own code in a layer, built for real: local projects, source folders, included
files and uv projects with their lock."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import CliRun, assert_clean_failure, run_cli

pytestmark = pytest.mark.network


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def _pure_project(root: Path, name: str = "common") -> Path:
    return _write(root, {
        "pyproject.toml": f'[project]\nname = "{name}"\nversion = "0.3.0"\n'
                          'dependencies = ["six==1.16.0"]\n'
                          '[build-system]\nrequires = ["hatchling"]\n'
                          'build-backend = "hatchling.build"\n',
        f"src/{name}/__init__.py": "from six import PY3\nGREETING = 'hello'\n",
        f"src/{name}/__pycache__/x.pyc": "bytecode",
    })


def _state(run: CliRun) -> str:
    """The first word(s) of the build summary: "built", "up to date", "rebuilt ..."."""
    return next(line for line in run.stdout.splitlines() if ".zip —" in line)


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def _modes(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as archive:
        return {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}


def test_local_project_from_a_requirements_file_with_its_dependency(tmp_path: Path) -> None:
    """An `-e ../libs/common` line, relative to the file, run from elsewhere."""
    _pure_project(tmp_path / "libs" / "common")
    _write(tmp_path, {"reqs/requirements.txt": "-e ../libs/common\n"})
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    run = run_cli("build", "common", "-r", str(tmp_path / "reqs" / "requirements.txt"),
                  "--out", "dist", "--json", cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    versions = {p["name"]: p["version"] for p in artifact["packages"]}
    assert versions == {"common": "0.3.0", "six": "1.16.0"}
    # Pure: one zip for every runtime and both architectures, copies not links.
    assert artifact["architectures"] == ["x86_64", "arm64"]
    names = _names(elsewhere / "dist" / "common.zip")
    assert "python/common/__init__.py" in names and "python/six.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pth", "direct_url.json"))]


def test_config_packages_are_relative_to_the_config_and_contents_decide_freshness(
        tmp_path: Path) -> None:
    project = _pure_project(tmp_path / "app" / "libs" / "common")
    _write(tmp_path / "app", {"pyproject.toml":
                              '[tool.lambdalayer]\nout = "dist"\n'
                              '[tool.lambdalayer.layers.shared]\npackages = ["./libs/common"]\n'
                              'runtimes = ["python3.12"]\n'})
    sub = tmp_path / "app" / "libs"
    first = run_cli("build", "--json", cwd=sub)
    assert first.returncode == 0, first.stderr
    manifest = json.loads((tmp_path / "app" / "dist" / "shared.json").read_text("utf-8"))
    [record] = manifest["inputs"]["local_inputs"]
    assert record["kind"] == "project" and len(record["sha256"]) == 64
    again = run_cli("build", "--json", cwd=sub)
    assert again.json()["artifacts"][0]["up_to_date"] is True, again.stderr
    (project / "src" / "common" / "__init__.py").write_text("GREETING = 'changed'\n", "utf-8")
    changed = run_cli("build", "--json", cwd=sub)
    assert changed.returncode == 0, changed.stderr
    assert changed.json()["artifacts"][0]["up_to_date"] is False
    with zipfile.ZipFile(tmp_path / "app" / "dist" / "shared.zip") as archive:
        assert archive.read("python/common/__init__.py") == b"GREETING = 'changed'\n"


def test_a_project_with_a_c_extension_is_refused(tmp_path: Path) -> None:
    require(shutil.which("cc") is not None or shutil.which("gcc") is not None,
            "a C compiler (gcc) is not installed")
    _write(tmp_path / "native", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'
                          'build-backend = "setuptools.build_meta"\n',
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(name='native', version='0.1', packages=['native'],\n"
                    "      ext_modules=[Extension('native._speed', ['speed.c'])])\n",
        "speed.c": "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT,"
                   " \"_speed\"};\nPyMODINIT_FUNC PyInit__speed(void) "
                   "{ return PyModule_Create(&m); }\n",
        "native/__init__.py": "",
    })
    run = run_cli("build", "native", "-p", "./native", "--out", "dist", cwd=tmp_path)
    assert_clean_failure(run, 3)
    assert "native wheel" in run.stderr and "*-none-any" in run.stderr
    log = Path(run.stderr.split("output is in ")[1].split()[0].rstrip("."))
    assert log.is_file() and "uv build" in log.read_text("utf-8")
    assert not (tmp_path / "dist").exists()


def test_source_folder_with_a_gitignore(tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {
        "mycode/__init__.py": "VALUE = 1\n",
        "mycode/db.py": "def connect(): pass\n",
        "mycode/__pycache__/db.cpython-312.pyc": "x",
        "mycode/notes.log": "debug",
        "mycode/generated/big.bin": "x",
        "keep.log": "kept by negation",
        "helpers.py": "X = 2\n",
        ".gitignore": "*.log\n!keep.log\n/mycode/generated/\n",
        ".git/config": "[core]",
        ".vscode/settings.json": "{}",
    })
    run = run_cli("build", "mine", "--source", "src", "-p", "six==1.16.0", "--out", "dist",
                  "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    names = _names(tmp_path / "dist" / "mine.zip")
    ours = sorted(n for n in names if not n.startswith(("python/six", "python/six-")))
    assert ours == ["python/helpers.py", "python/keep.log", "python/mycode/__init__.py",
                    "python/mycode/db.py"]
    # Nothing changed: up to date without resolving; one edited file: rebuilt.
    again = run_cli("build", "mine", "--source", "src", "-p", "six==1.16.0", "--out", "dist",
                    cwd=tmp_path)
    assert _state(again).startswith("up to date"), again.stderr
    os.utime(src / "helpers.py", (10, 10))
    touched = run_cli("build", "mine", "--source", "src", "-p", "six==1.16.0", "--out", "dist",
                      cwd=tmp_path)
    assert _state(touched).startswith("up to date"), touched.stderr
    (src / "helpers.py").write_text("X = 3\n", "utf-8")
    edited = run_cli("build", "mine", "--source", "src", "-p", "six==1.16.0", "--out", "dist",
                     cwd=tmp_path)
    assert _state(edited).startswith("built"), edited.stderr


def test_source_module_colliding_with_an_installed_distribution(tmp_path: Path) -> None:
    _write(tmp_path / "src", {"six.py": "# mine\n"})
    run = run_cli("build", "mine", "--source", "src", "-p", "six==1.16.0", "--out", "dist",
                  cwd=tmp_path)
    assert_clean_failure(run, 2)
    assert "six.py" in run.stderr and "six 1.16.0" in run.stderr
    assert not (tmp_path / "dist").exists()


def _compile(tmp_path: Path) -> tuple[Path, Path]:
    cc = shutil.which("gcc") or shutil.which("cc")
    require(cc is not None, "a C compiler (gcc) is not installed")
    assert cc is not None
    (tmp_path / "tool.c").write_text("int main(void) { return 0; }\n", "utf-8")
    (tmp_path / "lib.c").write_text("int answer(void) { return 42; }\n", "utf-8")
    static = subprocess.run([cc, "-static", "-o", str(tmp_path / "tool"),
                             str(tmp_path / "tool.c")], capture_output=True, check=False)
    require(static.returncode == 0, "static linking needs libc.a (libc6-dev)")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "libanswer.so"),
                    str(tmp_path / "lib.c")], check=True)
    (tmp_path / "libanswer.so").chmod(0o644)
    return tmp_path / "tool", tmp_path / "libanswer.so"


def test_included_binary_and_library_are_placed_and_audited(tmp_path: Path) -> None:
    host = {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine)
    require(host is not None, "the fixtures are compiled for this Linux host's machine")
    other = "arm64" if host == "x86_64" else "x86_64"
    _compile(tmp_path)
    args = ["--include", "tool:bin/", "--include", "libanswer.so:lib/", "--runtime",
            "python3.12"]
    run = run_cli("build", "extras", *args, "--arch", str(host), "--out", "dist", "--json",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    modes = _modes(tmp_path / "dist" / "extras.zip")
    # Modes come from content (docs/zip-format.md): ELF files are 0755 whatever the host's x bit.
    assert modes["bin/tool"] == 0o755 and modes["lib/libanswer.so"] == 0o755
    # The audit reads them: this host's machine code in a layer for the other one is refused.
    wrong = run_cli("build", "extras", *args, "--arch", other, "--out", "arm", cwd=tmp_path)
    assert_clean_failure(wrong, 4)
    assert "bin/tool" in wrong.stderr and "lib/libanswer.so" in wrong.stderr
    assert "wrong-machine" in wrong.stderr
    assert not (tmp_path / "arm").exists()


UV_PROJECT = {
    "pyproject.toml": '[project]\nname = "svc"\nversion = "1.0.0"\nrequires-python = ">=3.11"\n'
                      'dependencies = ["six<1.17", '
                      '"typing-extensions<4.13; python_version < \'3.12\'"]\n'
                      '[dependency-groups]\ndev = ["iniconfig"]\n',
    "svc.py": "import six\n",
}


@pytest.fixture(scope="module")
def uv_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from uv import find_uv_bin

    root = _write(tmp_path_factory.mktemp("uvproj") / "svc", UV_PROJECT)
    subprocess.run([find_uv_bin(), "lock", "--quiet"], cwd=root, check=True,
                   env={**os.environ, "UV_PYTHON": sys.executable})
    return root


def _locked(lock: Path, name: str) -> str:
    from lambdalayer.common import _toml

    data = _toml.loads(lock.read_text("utf-8"))
    return next(str(p["version"]) for p in data["package"] if p["name"] == name)


def test_uv_project_gets_exactly_its_locked_versions_per_target(uv_project: Path,
                                                                tmp_path: Path) -> None:
    run = run_cli("build", "svc-deps", "--project", str(uv_project), "--runtime", "python3.11",
                  "--runtime", "python3.12", "--arch", "x86_64", "--out", str(tmp_path),
                  "--json")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["runtimes"] == ["python3.11", "python3.12"]
    lock = uv_project / "uv.lock"
    six, typing = _locked(lock, "six"), _locked(lock, "typing-extensions")
    assert six == "1.16.0" and typing.startswith("4.12.")
    names = _names(tmp_path / "svc-deps.zip")
    site11, site12 = ("python/lib/python3.11/site-packages/",
                      "python/lib/python3.12/site-packages/")
    # The marker is evaluated per target: typing-extensions only where Python < 3.12.
    assert f"{site11}typing_extensions-{typing}.dist-info/METADATA" in names
    assert not [n for n in names if n.startswith(f"{site12}typing_extensions")]
    assert f"{site11}six-{six}.dist-info/METADATA" in names
    assert f"{site12}six-{six}.dist-info/METADATA" in names
    # No dev group, and not the project itself.
    assert not [n for n in names if "iniconfig" in n or n.endswith("/svc.py")]
    manifest = json.loads((tmp_path / "svc-deps.json").read_text("utf-8"))
    kinds = {r["kind"] for r in manifest["inputs"]["local_inputs"]}
    assert "uv.lock" in kinds


def test_lock_missing_a_target_names_it(uv_project: Path, tmp_path: Path) -> None:
    run = run_cli("build", "svc-deps", "--project", str(uv_project), "--runtime", "python3.10",
                  "--arch", "x86_64", "--out", str(tmp_path / "out"))
    assert_clean_failure(run, 3)
    assert "python3.10/x86_64" in run.stderr and "requires-python >=3.11" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["-p", "./missing"], "does not exist"),
    (["-p", "common @ file:///nonexistent/common"], "does not exist"),
    (["--source", "missing"], "does not exist"),
    (["--source", "empty"], "holds no files"),
    (["--include", "tool.txt:../bin/"], "outside the layer"),
    (["--include", "missing:bin/"], "does not exist"),
    (["--project", "missing"], "not a directory"),
])
def test_bad_input_is_one_paragraph_and_writes_nothing(tmp_path: Path, args: list[str],
                                                       needle: str) -> None:
    _write(tmp_path, {"tool.txt": "x", "empty/__pycache__/a.pyc": "x", "empty/.gitignore": ""})
    run = run_cli("build", "bad", *args, "--out", "dist", cwd=tmp_path)
    assert_clean_failure(run, 2)
    assert needle in run.stderr
    assert not (tmp_path / "dist").exists()


def test_configured_source_only_layer_needs_no_lock(tmp_path: Path) -> None:
    """`lock` skips a layer with nothing from an index; `build --locked` still builds it."""
    _write(tmp_path, {
        "pyproject.toml": '[tool.lambdalayer.layers.mine]\nsources = ["src"]\n'
                          'include = ["tools/run.sh:bin/"]\n',
        "src/mycode/__init__.py": "X = 1\n",
        "tools/run.sh": "#!/bin/sh\necho hi\n",
    })
    (tmp_path / "tools" / "run.sh").chmod(0o755)
    locked = run_cli("lock", "--json", cwd=tmp_path)
    assert locked.returncode == 0, locked.stderr
    assert locked.json()["locks"] == []
    built = run_cli("build", "--locked", "--json", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [artifact] = built.json()["artifacts"]
    assert artifact["packages"] == []
    modes = _modes(tmp_path / "dist" / "mine.zip")
    assert modes == {"bin/run.sh": 0o755, "python/mycode/__init__.py": 0o644}
