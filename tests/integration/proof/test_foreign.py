"""The import proof on foreign interpreters: arm64 under qemu-user, 3.14 from a root filesystem.

The root filesystems come from `lambdalayer interpreters add` (.ci/run provisions
them into $LAMBDALAYER_TEST_INTERPRETERS); each test points the CLI at them
with LAMBDALAYER_INTERPRETERS. Without them the tests skip here and fail in CI.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.targets.runtimes import load_runtime_table
from tests.conftest import require
from tests.helpers import run_cli
from tests.interpreter_roots import ROOTS, require_arm64_roots
from tests.interpreter_roots import has_root as _has

pytestmark = pytest.mark.network

def _env(**extra: str) -> dict[str, str]:
    return {"LAMBDALAYER_INTERPRETERS": ROOTS, **extra}


@pytest.fixture
def arm64_roots() -> None:
    require_arm64_roots()


def test_arm64_native_layer_imports_under_qemu(arm64_roots: None, tmp_path: Path) -> None:
    # Popular native packages: Rust (orjson, pydantic-core, cryptography), C with bundled
    # libraries (psycopg2-binary's libpq, numpy's OpenBLAS).
    run = run_cli("build", "arm", "-p", "orjson", "-p", "psycopg2-binary", "-p", "pydantic",
                  "-p", "cryptography", "-p", "numpy",
                  "--runtime", "python3.11", "--runtime", "python3.13", "--arch", "arm64",
                  "--out", str(tmp_path), "--test-report", "--json", env=_env())
    assert run.returncode == 0, run.stderr
    proof = run.json()["artifacts"][0]["import_test"]
    assert proof["status"] == "passed", proof
    report = run.json()["artifacts"][0]["test_report"]  # the proof's own imports, module by module
    assert [t["target"] for t in report["targets"]] == ["python3.11/arm64", "python3.13/arm64"]
    for target in report["targets"]:
        imported = {i["module"] for i in target["imports"] if i["ok"]}
        assert {"orjson", "psycopg2", "pydantic", "cryptography", "numpy"} <= imported, target
    versions = {t["target"]: t["python_version"] for t in proof["targets"]}
    assert versions["python3.11/arm64"].startswith("3.11.")
    assert versions["python3.13/arm64"].startswith("3.13.")
    assert {t["how"] for t in proof["targets"]} == {"qemu-aarch64"}
    assert "python3.11/arm64: imported under qemu-aarch64, CPython 3.11." in run.stderr


def test_x86_64_code_in_an_arm64_layer_fails_the_proof_and_the_audit(
        arm64_roots: None, tmp_path: Path) -> None:
    # bcrypt's wheel is abi3: an arm64 CPython does try to load the x86_64 .so.
    built = run_cli("build", "bc", "-p", "bcrypt", "--runtime", "python3.11", "--arch",
                    "x86_64", "--no-proof", "--out", str(tmp_path / "dist"), env=_env())
    assert built.returncode == 0, built.stderr
    layer = tmp_path / "layer"
    with zipfile.ZipFile(tmp_path / "dist" / "bc.zip") as archive:
        archive.extractall(layer)
    run = run_cli("test", str(layer), "--runtime", "python3.11", "--arch", "arm64", "--json",
                  env=_env())
    assert run.returncode == 6, run.stderr
    [target] = run.json()["targets"]
    errors = " ".join(i["error"] or "" for i in target["imports"])
    # The aarch64 loader's own words about an x86_64 shared object.
    assert "_bcrypt.abi3.so" in errors and "ImportError" in errors, errors
    check = run_cli("check", str(layer), "--runtime", "python3.11", "--arch", "arm64")
    assert check.returncode == 4, check.stderr


def test_build_pg8000_proves_every_default_runtime(tmp_path: Path) -> None:
    require(_has("3.14", platform.machine()),
            "a CPython 3.14 root filesystem for this machine in $LAMBDALAYER_TEST_INTERPRETERS")
    run = run_cli("build", "pg8000", "--out", str(tmp_path), "--json", env=_env())
    assert run.returncode == 0, run.stderr
    proof = run.json()["artifacts"][0]["import_test"]
    assert proof["status"] == "passed"
    proven = {t["target"].split("/")[0] for t in proof["targets"]
              if t["status"] == "passed" and not t["covered_by"]}
    skipped = {t["target"].split("/")[0]: t["reason"] for t in proof["targets"]
               if t["status"] == "skipped"}
    # From the runtime table: the default targets shrink as Lambda deprecates runtimes.
    # python3.15 is Lambda's before any CPython 3.15 can be had here: said, not proven.
    assert proven == {r.name for r in load_runtime_table().current()} - {"python3.15"}
    assert set(skipped) <= {"python3.15"}
    assert all("no CPython 3.15" in reason for reason in skipped.values()), skipped


def test_without_qemu_the_arm64_proof_is_skipped_not_failed(arm64_roots: None,
                                                            tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # PATH without qemu-user (the pyenv CPythons need no PATH)
    bare.mkdir()
    # ... and no binfmt_misc registration (a host with qemu-user-binfmt has one).
    no_binfmt = {"PATH": str(bare), "LAMBDALAYER_BINFMT_MISC": str(bare)}
    listing = run_cli("interpreters", "--runtime", "python3.11", "--arch", "arm64",
                      env=_env(**no_binfmt))
    assert listing.returncode == 0, listing.stderr
    assert "install qemu-user" in listing.stdout + listing.stderr
    run = run_cli("build", "oj", "-p", "orjson", "--runtime", "python3.11", "--arch", "arm64",
                  "--out", str(tmp_path / "dist"), "--json", env=_env(**no_binfmt))
    assert run.returncode == 0, run.stderr
    proof = run.json()["artifacts"][0]["import_test"]
    assert proof["status"] == "skipped"
    assert "install qemu-user" in proof["reason"]
    assert "not proven" in run.stderr
    assert (tmp_path / "dist" / "oj.zip").exists()  # the audit gated it


def test_interpreters_lists_how_each_target_runs(arm64_roots: None) -> None:
    run = run_cli("interpreters", "--runtime", "python3.11", "--json", env=_env())
    assert run.returncode == 0, run.stderr
    rows = {r["arch"]: r for r in run.json()["interpreters"]}
    assert rows["arm64"]["kind"] == "qemu" and rows["arm64"]["how"] == "qemu-aarch64"
    assert rows["x86_64"]["kind"] == "native"


_BINFMT = Path("/proc/sys/fs/binfmt_misc")
# Debian qemu-user-binfmt's aarch64 magic and mask, in binfmt_misc's register syntax.
_AARCH64_MAGIC = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
_AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"


@pytest.fixture
def binfmt_aarch64(arm64_roots: None) -> Iterator[Path]:
    """qemu-aarch64 registered with the kernel's binfmt_misc for the test, then removed."""
    require(os.geteuid() == 0, "registering a binfmt_misc handler needs root")
    if not (_BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(_BINFMT)],
                       capture_output=True, check=False)
    require((_BINFMT / "register").exists(), "binfmt_misc cannot be mounted here")
    name = f"lambdalayer-test-{os.getpid()}"
    qemu = shutil.which("qemu-aarch64")
    assert qemu is not None
    (_BINFMT / "register").write_text(f":{name}:M::{_AARCH64_MAGIC}:{_AARCH64_MASK}:{qemu}:")
    try:
        yield Path(qemu)
    finally:
        (_BINFMT / name).write_text("-1")


def test_without_qemu_on_path_binfmt_runs_the_arm64_proof(binfmt_aarch64: Path,
                                                          tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # qemu-aarch64 is not on PATH: only the kernel knows it
    bare.mkdir()
    env = _env(PATH=str(bare))
    listing = run_cli("interpreters", "--runtime", "python3.13", "--arch", "arm64", "--json",
                      env=env)
    assert listing.returncode == 0, listing.stderr
    [row] = listing.json()["interpreters"]
    assert (row["kind"], row["how"]) == ("binfmt", "binfmt qemu-aarch64")
    run = run_cli("build", "arm", "-p", "orjson", "--runtime", "python3.13", "--arch", "arm64",
                  "--out", str(tmp_path / "dist"), "--json", env=env)
    assert run.returncode == 0, run.stderr
    [target] = run.json()["artifacts"][0]["import_test"]["targets"]
    assert (target["status"], target["how"]) == ("passed", "binfmt qemu-aarch64")
    assert target["python_version"].startswith("3.13.")
    assert "python3.13/arm64: imported under binfmt qemu-aarch64, CPython 3.13." in run.stderr


def _arm64_library(name: str) -> Path:
    """An arm64 shared library from the provisioned CPython 3.11 root filesystem."""
    for directory in [Path(p) for p in ROOTS.split(os.pathsep) if p]:
        for root in [directory, *(directory.iterdir() if directory.is_dir() else [])]:
            found = root / "usr" / "lib" / "aarch64-linux-gnu" / name
            if found.is_file() and (root / "usr" / "bin" / "python3.11").is_file():
                return found.resolve()
    require(False, f"{name} in the arm64 CPython 3.11 root filesystem")
    raise AssertionError  # require fails (CI) or skips


def test_under_qemu_the_proof_sees_a_library_opened_at_import(arm64_roots: None,
                                                              tmp_path: Path) -> None:
    # qemu-user emulates /proc/self/maps for its guest: the mapped files are the guest's.
    # libmd needs a newer glibc than Amazon Linux 2 has (the audit says so); the root's
    # glibc loads it, so the package's ctypes.CDLL at import succeeds under qemu.
    from tests.package_index import make_wheel, serve_index

    site = "python/lib/python3.11/site-packages/ll_fixture_md"
    make_wheel(tmp_path / "index", "ll-fixture-md", "1.0",
               file_tag="cp311-cp311-manylinux_2_17_aarch64", files={
                   "ll_fixture_md/__init__.py":
                       b"import ctypes, os\n"
                       b"_md = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "
                       b"'vendor', 'libmd.so.0'))\n",
                   "ll_fixture_md/vendor/libmd.so.0": _arm64_library("libmd.so.0").read_bytes()})
    with serve_index(tmp_path / "index") as index:
        run = run_cli("build", "md", "-p", "ll-fixture-md", "--runtime", "python3.11",
                      "--arch", "arm64", "--out", str(tmp_path / "dist"), "--json",
                      "--allow", "glibc-too-new",
                      env=_env(UV_DEFAULT_INDEX=index, UV_CACHE_DIR=str(tmp_path / "uv"),
                               LAMBDALAYER_CACHE_DIR=str(tmp_path / "ll")))
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    [target] = artifact["import_test"]["targets"]
    assert target["how"] == "qemu-aarch64"
    assert target["mapped"] == [f"{site}/vendor/libmd.so.0"]
    [finding] = [f for f in artifact["findings"] if f["code"] == "glibc-too-new"]
    assert finding["severity"] == "error" and finding["load"] == "import"
    assert "Loaded at import" in finding["message"]


def _roots() -> list[Path]:
    found = [root for directory in ROOTS.split(os.pathsep) if directory
             for root in Path(directory).iterdir()
             if (root / "usr" / "bin").is_dir() and root.is_dir()]
    require(bool(found), "root filesystems in $LAMBDALAYER_TEST_INTERPRETERS "
                         "(`lambdalayer interpreters add --from-debian`)")
    return found


def _linked_copy(tmp_path: Path, prefix: str) -> Path:
    """A hard-linked copy of the CI root named `prefix…`, in tmp_path/roots: what a test
    deletes or replaces there (a new file) leaves the CI's root untouched."""
    source = next(r for r in _roots() if r.name.startswith(prefix))
    copy = tmp_path / "roots" / source.name
    copy.parent.mkdir()
    subprocess.run(["cp", "-al", str(source), str(copy)], check=True)
    return copy


def test_every_provisioned_root_has_its_standard_library_compiled(arm64_roots: None) -> None:
    """Debian compiles the standard library in a postinst, which --variant=extract never
    runs; `interpreters add` does it instead, or every proof run under qemu compiles
    typing, re, enum... again (about 1.5 s a run). compileall's own -j fails under qemu."""
    from lambdalayer.interpreters.provision import stdlib_compiled

    for root in _roots():
        version = next(p.name for p in (root / "usr" / "bin").glob("python3.*")
                       if p.name[len("python"):].replace(".", "").isdigit())[len("python"):]
        assert stdlib_compiled(root, version), root
        pycs = list((root / "usr" / "lib" / f"python{version}").rglob("*.pyc"))
        assert len(pycs) > 300, (root, len(pycs))  # not typing's alone


def test_interpreters_add_compiles_what_an_older_release_left_uncompiled(
        arm64_roots: None, tmp_path: Path) -> None:
    """A root made before the fix (no stdlib bytecode) is repaired by running the same
    `interpreters add` again, in place; a hard-linked copy keeps the CI's root untouched
    (compileall replaces each .pyc by a new file)."""
    copy = _linked_copy(tmp_path, "trixie-arm64-python3.13")
    typing_pyc = copy / "usr" / "lib" / "python3.13" / "__pycache__" / "typing.cpython-313.pyc"
    typing_pyc.unlink()
    run = run_cli("interpreters", "add", "--runtime", "python3.13", "--arch", "arm64",
                  "--from-debian", "trixie", "--into", str(copy.parent))
    assert run.returncode == 0, run.stderr
    assert "standard library compiled now" in run.stdout + run.stderr
    assert "warning" not in run.stdout + run.stderr
    assert typing_pyc.is_file()
    # And the proof's interpreter now loads it instead of compiling typing.py.
    guest = subprocess.run(
        ["qemu-aarch64", "-L", str(copy), str(copy / "usr" / "bin" / "python3.13"), "-I", "-S",
         "-B", "-v", "-c", "import typing"], capture_output=True, text=True, check=True)
    assert "code object from '" + str(typing_pyc) in guest.stderr
    # Run again: nothing left to do.
    again = run_cli("interpreters", "add", "--runtime", "python3.13", "--arch", "arm64",
                    "--from-debian", "trixie", "--into", str(copy.parent))
    assert "(already there)" in again.stdout + again.stderr


def test_a_standard_library_that_cannot_be_compiled_is_a_warning(
        arm64_roots: None, tmp_path: Path) -> None:
    """compileall failing (here: its __pycache__ is a file) is said in one warning line
    with compileall's own last words; the interpreter is still provisioned."""
    copy = _linked_copy(tmp_path, "trixie-arm64-python3.13")
    cache = copy / "usr" / "lib" / "python3.13" / "__pycache__"
    shutil.rmtree(cache)  # the copy's links only: the CI's root keeps its files
    cache.write_text("not a directory")
    run = run_cli("interpreters", "add", "--runtime", "python3.13", "--arch", "arm64",
                  "--from-debian", "trixie", "--into", str(copy.parent))
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    [warning] = [line for line in said.splitlines() if line.startswith("warning:")]
    assert "python3.13's standard library could not be precompiled (" in warning
    assert "no output" not in warning  # compileall's own error, not a guess
    assert "compiled now" not in said
    assert "Traceback" not in said


def test_the_qemu_cpu_a_user_sets_is_the_one_the_proof_runs(arm64_roots: None,
                                                            tmp_path: Path) -> None:
    """QEMU_CPU reaches qemu although the proof's environment keeps no host variable:
    a CPU model qemu does not know fails the proof with qemu's own words."""
    args = ["build", "cpu", "-p", "orjson", "--runtime", "python3.11", "--arch", "arm64",
            "--out", str(tmp_path)]
    bogus = run_cli(*args, env=_env(QEMU_CPU="no-such-cpu"))
    assert bogus.returncode == 6, bogus.stderr
    assert "unable to find CPU model 'no-such-cpu'" in bogus.stderr
    chosen = run_cli(*args, env=_env(QEMU_CPU="cortex-a72"))
    assert chosen.returncode == 0, chosen.stderr


# Code built for a newer core than Graviton2's: at import it checks the CPU for SVE
# (AT_HWCAP, bit 22), as a library compiled with SVE would fault without it.
_NEEDS_SVE = """import ctypes
if not ctypes.CDLL(None).getauxval(16) & (1 << 22):
    raise ImportError("this build needs SVE (a Graviton3 core)")
"""


def test_arm64_code_is_proven_on_graviton2s_core(arm64_roots: None, tmp_path: Path) -> None:
    """Lambda's arm64 may run on Graviton2 (Neoverse N1, no SVE): code that needs a newer
    core fails the proof as it would there, unless the user picks another QEMU_CPU."""
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "needs_sve.py").write_text(_NEEDS_SVE)
    (layer / "lib").mkdir()
    (layer / "lib" / "libstub.so").write_bytes(b"")  # native: proven on arm64 itself
    args = ["test", str(layer), "--runtime", "python3.11", "--arch", "arm64", "--import",
            "needs_sve", "--json"]
    on_n1 = run_cli(*args, env=_env())
    assert on_n1.returncode == 6, on_n1.stderr
    [target] = on_n1.json()["targets"]
    assert target["how"] == "qemu-aarch64"
    assert "needs SVE" in (target["imports"][0]["error"] or "")
    on_max = run_cli(*args, env=_env(QEMU_CPU="max"))
    assert on_max.returncode == 0, on_max.stderr


@pytest.mark.parametrize(("into", "said"), [
    ("/dev/null", "/dev/null cannot take a root filesystem: it is not a directory."),
    ("", "--into is empty."),
])
def test_interpreters_add_refuses_a_place_that_is_no_directory(into: str, said: str,
                                                               tmp_path: Path) -> None:
    """One paragraph, exit 2, nothing made in the working directory (an empty --into
    would otherwise mean it)."""
    require(shutil.which("mmdebstrap") is not None, "mmdebstrap not installed")
    run = run_cli("interpreters", "add", "--runtime", "python3.13", "--arch", "arm64",
                  "--from-debian", "trixie", "--into", into, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert said in run.stderr and "Traceback" not in run.stderr
    assert list(tmp_path.iterdir()) == []


def _copy_without_typing_bytecode(tmp_path: Path, prefix: str, version: str) -> Path:
    """A hard-linked copy of a CI root whose typing .pyc is gone (so `interpreters add`
    compiles it) and whose compileall is a stand-in that writes the environment it got
    to compileall-env.json beside itself."""
    copy = _linked_copy(tmp_path, prefix)
    stdlib = copy / "usr" / "lib" / f"python{version}"
    (stdlib / "__pycache__" / f"typing.cpython-{version.replace('.', '')}.pyc").unlink()
    (stdlib / "compileall.py").unlink()  # a new file, not the CI root's linked one
    (stdlib / "compileall.py").write_text(
        "import json, os, pathlib\n"
        "pathlib.Path(__file__).with_name('compileall-env.json').write_text("
        "json.dumps(dict(os.environ)))\n")
    return copy


def test_the_standard_library_is_compiled_without_our_secrets(tmp_path: Path) -> None:
    """The root's CPython is a program we did not build: it gets PATH and a locale,
    not the caller's credentials."""
    require(has_root_314_x86_64(), "the CPython 3.14 x86_64 root in "
            "$LAMBDALAYER_TEST_INTERPRETERS")
    copy = _copy_without_typing_bytecode(tmp_path, "unstable-amd64-python3.14", "3.14")
    run = run_cli("interpreters", "add", "--runtime", "python3.14", "--arch", "x86_64",
                  "--from-debian", "unstable", "--into", str(copy.parent),
                  env={"AWS_SECRET_ACCESS_KEY": "sekrit-key", "GITHUB_TOKEN": "ghp_sekrit"})
    assert run.returncode == 0, run.stderr
    seen = json.loads((copy / "usr" / "lib" / "python3.14" / "compileall-env.json").read_text())
    assert "sekrit" not in json.dumps(seen)
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "GITHUB_TOKEN" not in seen


def test_another_users_root_is_not_run_to_compile_it(tmp_path: Path) -> None:
    """In a shared folder another user's "root" could hold any program: it is named in a
    warning, and nothing of it runs."""
    require(has_root_314_x86_64(), "the CPython 3.14 x86_64 root in "
            "$LAMBDALAYER_TEST_INTERPRETERS")
    require(os.getuid() == 0, "giving a folder to another user needs root")
    copy = _copy_without_typing_bytecode(tmp_path, "unstable-amd64-python3.14", "3.14")
    os.chown(copy, 54321, 54321)
    run = run_cli("interpreters", "add", "--runtime", "python3.14", "--arch", "x86_64",
                  "--from-debian", "unstable", "--into", str(copy.parent))
    assert run.returncode == 0, run.stderr
    assert f"warning: {copy} belongs to another user" in run.stdout + run.stderr
    assert not (copy / "usr" / "lib" / "python3.14" / "compileall-env.json").exists()


def has_root_314_x86_64() -> bool:
    return _has("3.14", "x86_64")
