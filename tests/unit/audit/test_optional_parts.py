"""Optional native parts (audit/optional_parts.toml): a file a package loads only for a
feature it can do without is a note when it cannot load, never a refusal; the table is
validated, and only the distribution's own recorded files match."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.audit import audit_layer
from lambdalayer.audit.optional import optional_parts, parse_optional_parts
from lambdalayer.targets.target import Target
from tests.unit.audit.fixtures import add_dist_info, compile_so, place, stub_library

PY312 = Target.parse("python3.12", "x86_64")
SITE = "python/lib/python3.12/site-packages"
EXT = "cpython-312-x86_64-linux-gnu.so"
OMPPOOL = f"numba/np/ufunc/omppool.{EXT}"
PART = """
[[pkg]]
files = ["pkg/opt.*.so"]
part = "the optional part"
why = "the import does not load it"
instead = "it does without"
source = "pkg/__init__.py"
"""


def test_the_shipped_table_is_valid_and_names_numbas_threading_layers() -> None:
    table = optional_parts()
    numba = {part.part: part for part in table["numba"]}
    assert any(p.matches(OMPPOOL) for p in numba.values())
    assert any(p.matches(f"numba/np/ufunc/tbbpool.{EXT}") for p in numba.values())
    assert not any(p.matches(f"numba/np/ufunc/workqueue.{EXT}") for p in numba.values())
    assert not any(p.matches(f"numba/np/ufunc/sub/omppool.{EXT}") for p in numba.values())
    for parts in table.values():
        for part in parts:
            assert part.source and part.instead.strip() and part.why.strip()


@pytest.mark.parametrize(("change", "message"), [
    (('files = ["pkg/opt.*.so"]', 'files = ["*.so"]'), "literal package directory"),
    (('files = ["pkg/opt.*.so"]', 'files = ["*/opt.so"]'), "literal package directory"),
    (('files = ["pkg/opt.*.so"]', 'files = ["pkg/../x.so"]'), "literal package directory"),
    (('files = ["pkg/opt.*.so"]', 'files = ["pkg/opt.py"]'), "not a glob of .so files"),
    (('files = ["pkg/opt.*.so"]', "files = []"), "expected a list of globs"),
    (('why = "the import does not load it"', 'why = " "'), r"pkg\[0\]\.why"),
    (('source = "pkg/__init__.py"\n', ""), "expected exactly the keys"),
    (('instead = "it does without"', 'instead = "x"\nextra = 1'), "expected exactly the keys"),
])
def test_a_bad_table_is_refused_naming_the_entry(change: tuple[str, str], message: str) -> None:
    assert change[0] in PART
    with pytest.raises(ValueError, match=message):
        parse_optional_parts(PART.replace(*change))


def test_a_file_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        parse_optional_parts(PART + PART.replace("[[pkg]]", "[[other]]"))


def _numba_like(tmp_path: Path, *, owner: str = "numba", also_needed_by: str = "") -> Path:
    """numba's shape: an extension module that imports, and omppool, which needs a libgomp
    that is neither bundled nor on Amazon Linux 2023."""
    cc = tmp_path / "cc"
    gomp = stub_library(cc, "libgomp.so.1.0.0")
    layer = tmp_path / "layer"
    site = layer / SITE
    place(layer, f"{SITE}/{OMPPOOL}", compile_so(cc, "omppool.so", args=(str(gomp),)))
    place(layer, f"{SITE}/numba/_helperlib.{EXT}", compile_so(
        cc, "helper.so", args=(str(gomp),) if also_needed_by else ()))
    place(layer, f"{SITE}/numba/__init__.py", "")
    numba_files = ["numba/__init__.py", f"numba/_helperlib.{EXT}"]
    add_dist_info(site, "numba", "0.68.1", numba_files + ([OMPPOOL] if owner == "numba" else []))
    if owner != "numba":
        add_dist_info(site, owner, "1.0", [OMPPOOL])
    return layer


def test_an_optional_part_that_cannot_load_is_a_note_naming_it(tmp_path: Path) -> None:
    report = audit_layer(_numba_like(tmp_path), [PY312])
    assert report.ok, report.errors
    (note,) = [f for f in report.findings if f.path == f"{SITE}/{OMPPOOL}"]
    assert (note.severity, note.code, note.load) == ("info", "missing-library", "optional")
    assert "numba cannot use the OpenMP threading layer" in note.message
    assert "libgomp.so.1.0.0" in note.message and "workqueue" in note.message
    assert note.evidence and "parallel.py" in note.evidence


def test_a_file_another_distribution_records_stays_an_error(tmp_path: Path) -> None:
    report = audit_layer(_numba_like(tmp_path, owner="not-numba"), [PY312])
    assert [f.path for f in report.errors] == [f"{SITE}/{OMPPOOL}"]


def test_the_same_library_needed_by_a_module_numba_imports_is_still_refused(
        tmp_path: Path) -> None:
    report = audit_layer(_numba_like(tmp_path, also_needed_by="_helperlib"), [PY312])
    assert [f.path for f in report.errors] == [f"{SITE}/numba/_helperlib.{EXT}"]


def test_an_optional_part_the_proof_saw_loaded_at_import_stays_an_error(
        tmp_path: Path) -> None:
    report = audit_layer(_numba_like(tmp_path), [PY312],
                         mapped=frozenset({f"{SITE}/{OMPPOOL}"}))
    assert [f.path for f in report.errors] == [f"{SITE}/{OMPPOOL}"]
