"""The import closure: what importing the extension modules maps is an error when it cannot
load; a plugin reached by nothing (dlopen on demand) is a warning that names it."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.audit import AuditReport, Finding, audit_layer, check_path
from lambdalayer.targets.target import Target
from tests.unit.audit.fixtures import (
    EM_AARCH64,
    NEEDS_GLIBC_2_36,
    compile_so,
    place,
    set_machine,
    stub_library,
)

PY312 = Target.parse("python3.12", "x86_64")
EXT = "cpython-312-x86_64-linux-gnu.so"
# A plain `name.so` is an extension module only when it exports PyInit_name.
MODULE_INIT = "void *PyInit_{name}(void) {{ return 0; }}\n"


def by_path(report: AuditReport) -> dict[str, Finding]:
    return {f.path: f for f in report.findings}


def _mysql_like(tmp_path: Path, *, extension_needs_it: bool = False) -> Path:
    """mysql-connector-python's shape: an extension module that loads, and a vendored
    client plugin whose bundled libfido2 needs a library that exists nowhere."""
    cc = tmp_path / "cc"
    nowhere = stub_library(cc, "libnowhere-udev.so.1")
    fido = compile_so(cc, "libfido2.so.1", soname="libfido2.so.1", args=(str(nowhere),))
    layer = tmp_path / "layer"
    place(layer, "python/mysql/vendor/private/libfido2.so.1", fido)
    place(layer, "python/mysql/vendor/plugin/authentication_webauthn_client.so", compile_so(
        cc, "plugin.so", args=(str(fido), "-Wl,-rpath,$ORIGIN/../private")))
    ext_args = (str(nowhere),) if extension_needs_it else ()
    place(layer, f"python/_mysql_connector.{EXT}", compile_so(cc, "ext.so", args=ext_args))
    place(layer, "python/mysql/__init__.py", "")
    return layer


def test_plugin_outside_the_closure_is_a_warning_naming_it(tmp_path: Path) -> None:
    report = audit_layer(_mysql_like(tmp_path), [PY312])
    assert report.ok, report.errors
    found = by_path(report)
    plugin = found["python/mysql/vendor/private/libfido2.so.1"]
    assert plugin.severity == "warning" and plugin.code == "missing-library"
    assert plugin.load == "on-demand"
    assert "libnowhere-udev.so.1" in plugin.message and "libfido2.so.1" in plugin.message
    assert "on demand" in plugin.message and "will not work" in plugin.message
    assert plugin.as_dict()["load"] == "on-demand"
    assert f"python/_mysql_connector.{EXT}" not in found


def test_the_same_library_needed_by_the_extension_is_still_refused(tmp_path: Path) -> None:
    report = audit_layer(_mysql_like(tmp_path, extension_needs_it=True), [PY312])
    assert not report.ok
    (error,) = report.errors
    assert error.path == f"python/_mysql_connector.{EXT}" and error.load == "import"
    assert "cannot open shared object file" in error.message
    # The plugin's own finding stays a warning.
    assert by_path(report)["python/mysql/vendor/private/libfido2.so.1"].severity == "warning"


def test_libraries_reached_from_an_extension_stay_errors(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    nowhere = stub_library(cc, "libnowhere.so.2")
    bundled = compile_so(cc, "libbundled.so.1", soname="libbundled.so.1", args=(str(nowhere),))
    layer = tmp_path / "layer"
    place(layer, "python/pkg.libs/libbundled.so.1", bundled)
    place(layer, "python/pkg/_core.abi3.so", compile_so(
        cc, "core.so", args=(str(bundled), "-Wl,-rpath,$ORIGIN/../pkg.libs")))
    report = audit_layer(layer, [PY312])
    (error,) = report.errors
    assert error.path == "python/pkg.libs/libbundled.so.1" and error.load == "import"


def test_plain_named_object_is_a_module_only_with_its_init(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    nowhere = stub_library(cc, "libnowhere.so.3")
    layer = tmp_path / "layer"
    place(layer, "python/pkg/speedups.so", compile_so(
        cc, "speedups.so", MODULE_INIT.format(name="speedups"), args=(str(nowhere),)))
    place(layer, "python/pkg/codec_plugin.so", compile_so(cc, "codec.so", args=(str(nowhere),)))
    found = by_path(audit_layer(layer, [PY312]))
    assert found["python/pkg/speedups.so"].severity == "error"
    assert found["python/pkg/codec_plugin.so"].severity == "warning"


def test_wrong_machine_and_glibc_of_a_plugin_are_warnings(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    layer = tmp_path / "layer"
    place(layer, "python/pkg/drivers/new.so", compile_so(cc, "new.so", NEEDS_GLIBC_2_36))
    arm = place(layer, "python/pkg/drivers/arm.so", compile_so(cc, "arm.so"))
    set_machine(arm, EM_AARCH64)
    ext = place(layer, f"python/pkg/_ext.{EXT}", compile_so(cc, "ext.so"))
    report = audit_layer(layer, [PY312])
    assert report.ok, report.errors
    found = by_path(report)
    assert found["python/pkg/drivers/new.so"].code == "glibc-too-new"
    assert found["python/pkg/drivers/arm.so"].code == "wrong-machine"
    assert {found[p].load for p in ("python/pkg/drivers/new.so",
                                    "python/pkg/drivers/arm.so")} == {"on-demand"}
    set_machine(ext, EM_AARCH64)  # the extension module itself: still refused
    assert [f.path for f in audit_layer(layer, [PY312]).errors] == [f"python/pkg/_ext.{EXT}"]


def test_files_in_lib_and_bin_keep_their_errors(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    nowhere = stub_library(cc, "libnowhere.so.4")
    layer = tmp_path / "layer"
    place(layer, "lib/libtool.so", compile_so(cc, "libtool.so", args=(str(nowhere),)))
    place(layer, "python/x.py", "")
    report = check_path(layer, [PY312])
    (error,) = report.errors
    assert error.path == "lib/libtool.so" and error.load is None


def test_a_file_the_proof_saw_mapped_joins_the_closure_with_what_it_needs(
        tmp_path: Path) -> None:
    # The plugin opened with dlopen while the package imports: mapped, so its missing
    # library (through its bundled libfido2) is a load-time error again, saying why.
    layer = _mysql_like(tmp_path)
    plugin = "python/mysql/vendor/plugin/authentication_webauthn_client.so"
    report = audit_layer(layer, [PY312], mapped=frozenset({plugin}))
    (error,) = report.errors
    assert error.path == "python/mysql/vendor/private/libfido2.so.1"
    assert error.load == "import" and error.code == "missing-library"
    assert "Loaded at import: the import proof saw libfido2.so.1 mapped" in error.message
    assert "libnowhere-udev.so.1" in error.message  # the original finding is kept


def test_mapped_files_that_are_not_in_the_layer_change_nothing(tmp_path: Path) -> None:
    # Only the layer's own files count; an extension module not mapped (a lazy import)
    # stays in the closure: mapped files only ever add to it.
    layer = _mysql_like(tmp_path, extension_needs_it=True)
    report = audit_layer(layer, [PY312], mapped=frozenset({"python/elsewhere/libx.so"}))
    (error,) = report.errors
    assert error.path == f"python/_mysql_connector.{EXT}" and error.load == "import"
    assert "Loaded at import" not in error.message
    assert by_path(report)["python/mysql/vendor/private/libfido2.so.1"].severity == "warning"
