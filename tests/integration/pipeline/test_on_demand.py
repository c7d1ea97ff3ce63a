"""A vendored plugin that no extension module links to (dlopen on demand) does not block
the build: its missing library is a warning naming it. The same library needed by the
extension module itself is still refused. The proof reports which of the layer's ELF files
the imports mapped: a library the package opens with dlopen while it imports, which no
DT_NEEDED names, is then loaded at import, and its findings are errors again."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.integration.pipeline.test_resolution_policy import build
from tests.package_index import make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so, stub_library

pytestmark = pytest.mark.network

# A real extension module (limited API, so one build loads on every CPython 3.x).
EXTENSION = """
#define Py_LIMITED_API 0x03090000
#include <Python.h>
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&m); }
"""
PLUGIN = "int plugin_init(void) { return 0; }\n"
WHEEL_TAG = "cp312-cp312-manylinux_2_17_x86_64"


def _wheel(tmp_path: Path, *, extension_needs_it: bool) -> Path:
    include = sysconfig.get_paths()["include"]
    require(Path(include, "Python.h").is_file(), "no Python.h to compile an extension module")
    cc = tmp_path / "cc"
    nowhere = stub_library(cc, "libnowhere-udev.so.1")
    fido = compile_so(cc, "libfido2.so.1", PLUGIN, soname="libfido2.so.1", args=(str(nowhere),))
    plugin = compile_so(cc, "authentication_webauthn_client.so", PLUGIN,
                        args=(str(fido), "-Wl,-rpath,$ORIGIN/../private"))
    ext_args = (f"-I{include}", *((str(nowhere),) if extension_needs_it else ()))
    extension = compile_so(cc, "_speed.so", EXTENSION, args=ext_args)
    index = tmp_path / "index"
    make_wheel(index, "ll-fixture-connector", "1.0", file_tag=WHEEL_TAG, files={
        "ll_fixture_connector/__init__.py": b"from ll_fixture_connector import _speed\n",
        "ll_fixture_connector/_speed.abi3.so": extension.read_bytes(),
        "ll_fixture_connector/vendor/plugin/authentication_webauthn_client.so":
            plugin.read_bytes(),
        "ll_fixture_connector/vendor/private/libfido2.so.1": fido.read_bytes(),
    })
    return index


def test_plugin_needing_a_library_that_exists_nowhere_builds_with_a_warning(
        tmp_path: Path) -> None:
    with serve_index(_wheel(tmp_path, extension_needs_it=False)) as index:
        run = build(index, tmp_path, "conn", "-p", "ll-fixture-connector")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    [finding] = [f for f in artifact["findings"] if f["code"] == "missing-library"]
    assert finding["severity"] == "warning" and finding["load"] == "on-demand"
    assert finding["path"].endswith("ll_fixture_connector/vendor/private/libfido2.so.1")
    assert "libnowhere-udev.so.1" in finding["message"]
    assert "will not work" in finding["message"]
    assert artifact["import_test"]["status"] == "passed"
    assert '"on-demand"' in Path(artifact["manifest"]).read_text()
    # What the imports mapped agrees with the closure: the module, not the plugin.
    [target] = artifact["import_test"]["targets"]
    site = "python/lib/python3.12/site-packages/ll_fixture_connector"
    assert target["mapped"] == [f"{site}/_speed.abi3.so"]


def test_the_same_library_needed_by_the_extension_module_is_refused(tmp_path: Path) -> None:
    with serve_index(_wheel(tmp_path, extension_needs_it=True)) as index:
        run = build(index, tmp_path, "conn", "-p", "ll-fixture-connector")
    assert_clean_failure(run, 4)
    assert "missing-library libnowhere-udev.so.1" in run.stderr
    assert "_speed.abi3.so" in run.stderr
    findings = run.json()["error"]["findings"]
    assert [f["load"] for f in findings] == ["import"]


SITE = "python/lib/python3.12/site-packages/ll_fixture_loader"
# Opens its vendored helper while it imports: a load path no DT_NEEDED shows.
LOADER_INIT = b"""import ctypes
import os

_helper = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "vendor", "libhelper.so.1"))
from ll_fixture_loader import _speed
"""


def _dlopen_wheel(tmp_path: Path) -> Path:
    """The index with ll-fixture-loader, whose vendored libhelper needs a library this
    host has (on _host_has_it's LD_LIBRARY_PATH) and Lambda lacks."""
    include = sysconfig.get_paths()["include"]
    require(Path(include, "Python.h").is_file(), "no Python.h to compile an extension module")
    cc = tmp_path / "cc"
    host_only = stub_library(cc, "libll-host-only.so.1")
    helper = compile_so(cc, "libhelper.so.1", PLUGIN, soname="libhelper.so.1",
                        args=(str(host_only),))
    extension = compile_so(cc, "_speed.so", EXTENSION, args=(f"-I{include}",))
    index = tmp_path / "index"
    make_wheel(index, "ll-fixture-loader", "1.0", file_tag=WHEEL_TAG, files={
        "ll_fixture_loader/__init__.py": LOADER_INIT,
        "ll_fixture_loader/_speed.abi3.so": extension.read_bytes(),
        "ll_fixture_loader/vendor/libhelper.so.1": helper.read_bytes(),
    })
    assert host_only.parent == tmp_path / "cc" / "stubs"
    return index


def _build_loader(tmp_path: Path, *args: str) -> CliRun:
    index = _dlopen_wheel(tmp_path)
    with serve_index(index) as served:
        return run_cli("build", "loader", "-p", "ll-fixture-loader", *args,
                       "--runtime", "python3.12", "--arch", "x86_64",
                       "--out", str(tmp_path / "dist"), "--json",
                       env={"UV_DEFAULT_INDEX": served,
                            "UV_CACHE_DIR": str(tmp_path / "uvcache"),
                            "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache"),
                            **_host_has_it(tmp_path)})


def _host_has_it(tmp_path: Path) -> dict[str, str]:
    # The host has the library (the proof loads it); Lambda does not. Only an unboxed
    # proof sees the host's LD_LIBRARY_PATH: the box shows the host's /usr, not the
    # folders a caller's environment names (test below).
    return {"LD_LIBRARY_PATH": str(tmp_path / "cc" / "stubs"), "LAMBDALAYER_SANDBOX": "none"}


def test_in_the_box_a_library_only_the_hosts_environment_finds_fails_the_proof(
        tmp_path: Path) -> None:
    """As on Lambda: the caller's LD_LIBRARY_PATH is not in the proof's box, so the
    import that dlopens a library found only there fails, naming it (exit 6)."""
    index = _dlopen_wheel(tmp_path)
    with serve_index(index) as served:
        run = run_cli("build", "loader", "-p", "ll-fixture-loader", "--runtime",
                      "python3.12", "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                      env={"UV_DEFAULT_INDEX": served,
                           "UV_CACHE_DIR": str(tmp_path / "uvcache"),
                           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache"),
                           "LD_LIBRARY_PATH": str(tmp_path / "cc" / "stubs")})
    assert_clean_failure(run, 6)
    assert "libll-host-only.so.1: cannot open shared object file" in run.stderr
    assert not (tmp_path / "dist" / "loader.zip").exists()


def test_a_library_opened_with_dlopen_at_import_is_refused_as_load_time(
        tmp_path: Path) -> None:
    run = _build_loader(tmp_path)
    assert_clean_failure(run, 4)
    text = " ".join(run.stderr.split())
    assert f"The import proof loaded {SITE}/vendor/libhelper.so.1 (mapped by the " \
           "interpreter, or needed by a file it mapped), which no extension module links " \
           "to" in text, text
    assert "missing-library libll-host-only.so.1" in text
    [finding] = run.json()["error"]["findings"]
    assert finding["path"] == f"{SITE}/vendor/libhelper.so.1"
    assert finding["severity"] == "error" and finding["load"] == "import"
    assert "Loaded at import: the import proof saw libhelper.so.1 mapped" in finding["message"]
    assert not (tmp_path / "dist" / "loader.zip").exists()


def test_the_proofs_mapped_files_show_the_library_opened_at_import(tmp_path: Path) -> None:
    # Allowed, the build goes on: the proof's report shows what was mapped, and the
    # finding is kept as the load-time error it is.
    run = _build_loader(tmp_path, "--allow", "missing-library")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    [target] = artifact["import_test"]["targets"]
    assert target["mapped"] == [f"{SITE}/_speed.abi3.so", f"{SITE}/vendor/libhelper.so.1"]
    [finding] = [f for f in artifact["findings"] if f["code"] == "missing-library"]
    assert finding["severity"] == "error" and finding["load"] == "import"
    assert "Loaded at import" in finding["message"]
    # The static audit alone (`check`) still calls it on demand: only the proof saw it.
    check = run_cli("check", artifact["path"], "--runtime", "python3.12", "--arch", "x86_64",
                    "--json")
    [static] = [f for f in check.json()["findings"] if f["code"] == "missing-library"]
    assert static["load"] == "on-demand" and static["severity"] == "warning"
    # `test` reports the same mapped files for the zip.
    tested = run_cli("test", artifact["path"], "--runtime", "python3.12", "--arch", "x86_64",
                     "--json", env=_host_has_it(tmp_path))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    [run] = tested.json()["targets"]
    assert run["mapped"] == target["mapped"]
