"""audit_layer on layer trees made from freshly compiled shared objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.audit import AuditReport, Finding, audit_layer, check_path
from lambdalayer.targets.target import Target
from tests.unit.audit.fixtures import (
    EM_AARCH64,
    NEEDS_GLIBC_2_27,
    NEEDS_GLIBC_2_36,
    NEEDS_GLIBCXX_3_4_30,
    add_dist_info,
    compile_so,
    place,
    set_machine,
    stub_library,
)

PY311 = Target.parse("python3.11", "x86_64")
PY312 = Target.parse("python3.12", "x86_64")
PY312_ARM = Target.parse("python3.12", "arm64")
EXT311 = "cpython-311-x86_64-linux-gnu.so"


def codes(report: AuditReport, severity: str | None = None) -> set[str]:
    return {f.code for f in report.findings if severity is None or f.severity == severity}


def only(report: AuditReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]


def test_clean_extension_passes(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, f"python/fast/_speed.{EXT311}", compile_so(tmp_path / "cc", "s.so"))
    place(layer, "python/fast/__init__.py", "from fast._speed import *\n")
    report = audit_layer(layer, [PY311])
    assert report.ok and report.findings == []
    assert report.files == 2


def test_glibc_2_27_fails_on_amazon_linux_2_only(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, "python/fast/_speed.abi3.so", compile_so(tmp_path / "cc", "s.so",
                                                           NEEDS_GLIBC_2_27))
    report = audit_layer(layer, [PY311])
    finding = only(report, "glibc-too-new")
    assert finding.severity == "error" and not report.ok
    assert "GLIBC_2.27" in finding.message and "2.26" in finding.message
    assert "`import fast._speed`" in finding.message
    assert finding.path == "python/fast/_speed.abi3.so" and finding.package == "fast"
    assert audit_layer(layer, [PY312]).ok


def test_glibc_2_36_fails_everywhere_and_targets_merge(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, "python/fast/_speed.abi3.so", compile_so(tmp_path / "cc", "s.so",
                                                           NEEDS_GLIBC_2_36))
    report = audit_layer(layer, [PY311, PY312, Target.parse("python3.13", "x86_64")])
    messages = [f.message for f in report.findings if f.code == "glibc-too-new"]
    # Each message names its runtime and how to rebuild for it.
    assert len(messages) == 3
    assert any("python3.13 runs on Amazon Linux 2023" in m and "GLIBC_2.36" in m
               for m in messages)


def test_identical_findings_from_several_targets_are_merged(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, "python/pkg/_x.abi3.so", b"\x7fELF\x02\x01\x01" + b"\xff" * 20)
    report = audit_layer(layer, [PY311, PY312, PY312_ARM])
    assert [f.code for f in report.findings] == ["corrupt-elf"]


def test_glibcxx_above_runtime(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, "python/cxx.abi3.so", compile_so(tmp_path / "cc", "x.so", NEEDS_GLIBCXX_3_4_30,
                                                  args=("-lstdc++",)))
    report = audit_layer(layer, [PY312])
    assert "GLIBCXX_3.4.30" in only(report, "glibcxx-too-new").message
    assert "3.4.29" in only(report, "glibcxx-too-new").message


def test_wrong_machine_is_an_error_for_x86_64_only(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    so = place(layer, "python/fast/_speed.abi3.so", compile_so(tmp_path / "cc", "s.so"))
    set_machine(so, EM_AARCH64)
    finding = only(audit_layer(layer, [PY312]), "wrong-machine")
    assert "aarch64" in finding.message and "--arch x86_64" in finding.message
    assert "wrong-machine" not in codes(audit_layer(layer, [PY312_ARM]))


def test_needed_library_resolution(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    libfoo = stub_library(cc, "libfoo.so.1")
    libpq = stub_library(cc, "libpq.so.5")
    libz = stub_library(cc, "libz.so.1")
    libicu = stub_library(cc, "libicuuc.so.50")
    libexpat = stub_library(cc, "libexpat.so.1")
    layer = tmp_path / "layer"
    # RUNPATH $ORIGIN/../fast.libs, as auditwheel writes it: found.
    place(layer, "python/fast.libs/libfoo.so.1", libfoo)
    place(layer, "python/fast/a.abi3.so", compile_so(cc, "a.so", args=(
        str(libfoo), "-Wl,-rpath,$ORIGIN/../fast.libs", "-Wl,--enable-new-dtags")))
    # No RUNPATH but the library is in the layer's lib/ (/opt/lib): found.
    place(layer, "lib/libfoo.so.1", libfoo)
    place(layer, "python/fast/b.abi3.so", compile_so(cc, "b.so", args=(str(libfoo),)))
    # libpq nowhere: missing, with the psycopg2 hint.
    place(layer, "python/pg/c.abi3.so", compile_so(cc, "c.so", args=(str(libpq),)))
    # zlib: seen on the base image, silent; ICU: only its package was listed, unverified.
    place(layer, "python/zz/d.abi3.so", compile_so(cc, "d.so", args=(str(libz),)))
    place(layer, "python/icu/e.abi3.so", compile_so(cc, "e.so", args=(str(libicu),)))
    # expat: seen absent from Lambda although manylinux allows relying on it.
    place(layer, "python/xml/f.abi3.so", compile_so(cc, "f.so", args=(str(libexpat),)))
    report = audit_layer(layer, [PY311])
    missing = {f.path: f for f in report.findings if f.code == "missing-library"}
    assert set(missing) == {"python/pg/c.abi3.so", "python/xml/f.abi3.so"}
    pq = missing["python/pg/c.abi3.so"].message
    assert "libpq.so.5" in pq and "psycopg2-binary" in pq
    assert "cannot open shared object file" in pq
    # The research ids behind "absent" go to --json/--verbose, not into the message.
    assert "seen absent" not in missing["python/xml/f.abi3.so"].message
    assert missing["python/xml/f.abi3.so"].evidence == "seen absent: S1"
    assert missing["python/xml/f.abi3.so"].as_dict()["evidence"] == "seen absent: S1"
    assert only(report, "unverified-system-library").path == "python/icu/e.abi3.so"
    assert codes(report, "error") == {"missing-library"}
    assert not report.ok
    assert audit_layer(layer, [PY311], allow=frozenset({"missing-library"})).ok


def test_library_in_layer_but_not_on_search_path_warns(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    libfoo = stub_library(cc, "libfoo.so.1")
    layer = tmp_path / "layer"
    place(layer, "python/fast.libs/libfoo.so.1", libfoo)
    place(layer, "python/fast/a.abi3.so", compile_so(cc, "a.so", args=(str(libfoo),)))
    finding = only(audit_layer(layer, [PY311]), "library-not-on-search-path")
    assert finding.severity == "warning" and "python/fast.libs/libfoo.so.1" in finding.message


@pytest.mark.parametrize(("dtags", "expected"), [
    ("--disable-new-dtags", set()),  # DT_RPATH: inherited by what the extension loads
    ("--enable-new-dtags", {"library-not-on-search-path"}),  # DT_RUNPATH: not inherited
])
def test_bundled_libraries_found_through_the_loaders_rpath(tmp_path: Path, dtags: str,
                                                            expected: set[str]) -> None:
    # psycopg2-binary's aarch64 wheel: _psycopg has RPATH=$ORIGIN/../x.libs; the bundled
    # libssl there has no RPATH and needs the bundled libcrypto beside it.
    cc = tmp_path / "cc"
    libcrypto = stub_library(cc, "libcrypto-1a.so.3")
    libssl = compile_so(cc, "libssl-2b.so.3", soname="libssl-2b.so.3", args=(str(libcrypto),))
    layer = tmp_path / "layer"
    place(layer, "python/x.libs/libcrypto-1a.so.3", libcrypto)
    place(layer, "python/x.libs/libssl-2b.so.3", libssl)
    place(layer, "python/x/_ext.abi3.so", compile_so(cc, "e.so", args=(
        str(libssl), "-Wl,-rpath,$ORIGIN/../x.libs", f"-Wl,{dtags}")))
    report = audit_layer(layer, [PY311])
    assert codes(report) == expected
    assert report.ok


def test_symlinked_library_counts_and_escaping_link_does_not(tmp_path: Path) -> None:
    cc = tmp_path / "cc"
    libfoo = stub_library(cc, "libfoo.so.1")
    layer = tmp_path / "layer"
    place(layer, "lib/libfoo.so.1.2.3", libfoo)
    (layer / "lib/libfoo.so.1").symlink_to("libfoo.so.1.2.3")
    (layer / "lib/passwd").symlink_to("/etc/passwd")
    place(layer, "python/a.abi3.so", compile_so(cc, "a.so", args=(str(libfoo),)))
    report = audit_layer(layer, [PY311])
    assert "missing-library" not in codes(report)
    assert only(report, "unsafe-path").path == "lib/passwd"


@pytest.mark.parametrize(("name", "expected"), [
    ("_x.cpython-312-x86_64-linux-gnu.so", "CPython 3.12"),
    ("_x.cpython-311-darwin.so", "macOS"),
    ("_x.cpython-311-x86_64-linux-musl.so", "musl"),
    ("_x.cpython-311-aarch64-linux-gnu.so", "aarch64-linux-gnu"),
    ("_x.cpython-313t-x86_64-linux-gnu.so", "free-threaded"),
    ("_x.pypy311-pp73-x86_64-linux-gnu.so", "PyPy"),
])
def test_extension_names_the_interpreter_skips(tmp_path: Path, name: str, expected: str) -> None:
    layer = tmp_path / "layer"
    place(layer, f"python/pkg/{name}", compile_so(tmp_path / "cc", "s.so"))
    finding = only(audit_layer(layer, [PY311]), "wrong-abi-suffix")
    assert expected in finding.message
    assert "No module named 'pkg._x'" in finding.message


@pytest.mark.parametrize("name", [
    f"_x.{EXT311}", "_x.abi3.so", "_x.so", "libopenblas-r0.3.23.so", "libz-abc.so.1.2.13",
])
def test_extension_names_that_load(tmp_path: Path, name: str) -> None:
    layer = tmp_path / "layer"
    place(layer, f"python/pkg/{name}", compile_so(tmp_path / "cc", "s.so"))
    assert "wrong-abi-suffix" not in codes(audit_layer(layer, [PY311]))


def test_other_runtimes_trees_are_ignored_and_missing_python_dir(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    site312 = "python/lib/python3.12/site-packages"
    so = place(layer, f"{site312}/pkg/_x.cpython-312-x86_64-linux-gnu.so",
               compile_so(tmp_path / "cc", "s.so"))
    set_machine(so, EM_AARCH64)
    assert codes(audit_layer(layer, [PY312])) == {"wrong-machine"}
    report = audit_layer(layer, [PY311])
    assert codes(report) == {"missing-python-dir"}
    assert "python/lib/python3.12/" in only(report, "missing-python-dir").message
    bare = tmp_path / "bare"
    place(bare, "pkg/__init__.py", "")
    assert "no python/ directory" in only(audit_layer(bare, [PY311]), "missing-python-dir").message


def test_package_attribution_from_record(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    site = layer / "python"
    so = place(layer, "python/psycopg2/_psycopg.abi3.so", compile_so(tmp_path / "cc", "s.so"))
    set_machine(so, EM_AARCH64)
    add_dist_info(site, "psycopg2-binary", "2.9.10", ["psycopg2/_psycopg.abi3.so"],
                  tag="cp311-cp311-manylinux_2_17_aarch64")
    report = audit_layer(layer, [PY311])
    assert only(report, "wrong-machine").package == "psycopg2-binary"
    tag = only(report, "wheel-tag-mismatch")
    assert tag.package == "psycopg2-binary" and "manylinux_2_17_aarch64" in tag.message
    assert "-p psycopg2-binary --runtime python3.11" in tag.message


def test_corrupt_elf_is_a_finding(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    place(layer, "python/pkg/_x.abi3.so", b"\x7fELF\x02\x01\x01" + b"\xff" * 20)
    assert only(audit_layer(layer, [PY311]), "corrupt-elf").severity == "error"


def test_foreign_binaries(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    macho = b"\xcf\xfa\xed\xfe" + (0x0100000C).to_bytes(4, "little") + bytes(64)
    place(layer, "python/psycopg2/_psycopg.cpython-311-darwin.so", macho)
    place(layer, "python/setuptools/cli-64.exe",
          b"MZ" + bytes(0x3A) + (0x40).to_bytes(4, "little") + b"PE\0\0\x64\x86" + bytes(32))
    report = audit_layer(layer, [PY311])
    macho_finding = only(report, "foreign-binary-macho")
    assert macho_finding.severity == "error"
    assert "No module named 'psycopg2._psycopg'" in macho_finding.message
    assert "wrong-abi-suffix" not in codes(report)  # one finding per file is enough
    assert only(report, "foreign-binary-pe").severity == "warning"  # dead weight, not a failure


def test_size_limit_and_modes_for_directories(tmp_path: Path) -> None:
    layer = tmp_path / "python"  # the user passed ./python
    big = place(layer, "data/blob.bin", b"")
    with big.open("wb") as handle:
        handle.truncate(262_144_001)  # sparse: no real disk use
    secret = place(layer, "pkg/__init__.py", "")
    secret.chmod(0o600)
    report = check_path(layer, [PY311])
    assert only(report, "unzipped-too-large").severity == "error"
    mode = only(report, "not-world-readable")
    assert mode.path == "python/pkg/__init__.py" and mode.severity == "warning"


def test_no_targets_is_a_usage_error(tmp_path: Path) -> None:
    from lambdalayer.common.errors import UsageError

    with pytest.raises(UsageError):
        audit_layer(tmp_path, [])


def test_a_file_outside_any_record_is_named_after_its_dist_info_package() -> None:
    """A dist-info file no RECORD lists (it is a symlink, say) belongs to "six", not "six-1"."""
    from lambdalayer.audit.tree import LayerTree

    assert LayerTree().package_of("python/six-1.17.0.dist-info/LICENSE") == "six"
    assert LayerTree().package_of("python/yaml/__init__.py") == "yaml"
    assert LayerTree().package_of("python/_cffi_backend.cpython-312-x86_64-linux-gnu.so") == (
        "_cffi_backend")
