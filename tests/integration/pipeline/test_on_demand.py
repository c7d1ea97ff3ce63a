"""A vendored plugin that no extension module links to (dlopen on demand) does not block
the build: its missing library is a warning naming it. The same library needed by the
extension module itself is still refused."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import assert_clean_failure
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


def test_the_same_library_needed_by_the_extension_module_is_refused(tmp_path: Path) -> None:
    with serve_index(_wheel(tmp_path, extension_needs_it=True)) as index:
        run = build(index, tmp_path, "conn", "-p", "ll-fixture-connector")
    assert_clean_failure(run, 4)
    assert "missing-library libnowhere-udev.so.1" in run.stderr
    assert "_speed.abi3.so" in run.stderr
    findings = run.json()["error"]["findings"]
    assert [f["load"] for f in findings] == ["import"]
