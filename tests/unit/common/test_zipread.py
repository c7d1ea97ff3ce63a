"""The safe zip reader: hostile and broken archives become problems or UsageError."""

from __future__ import annotations

import contextlib
import io
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdalayer.audit import check_path
from lambdalayer.common.errors import UsageError
from lambdalayer.common.zipread import safe_extract
from lambdalayer.targets.target import Target

PY311 = Target.parse("python3.11", "x86_64")


def entry(name: str, mode: int = 0o644, *, kind: int = stat.S_IFREG) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (kind | mode) << 16
    return info


def write_zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def everything_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_hostile_names_are_not_extracted(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "evil.zip", [
        ("python/ok.py", b"x = 1\n"),
        ("../escape.txt", b"no"),
        ("python/../../escape2.txt", b"no"),
        ("/abs.txt", b"no"),
        ("C:/windows.txt", b"no"),
        ("python\\win\\mod.py", b"no"),
        (entry("python/link-out", 0o777, kind=stat.S_IFLNK), b"../../../etc/passwd"),
        (entry("python/link-abs", 0o777, kind=stat.S_IFLNK), b"/etc/passwd"),
        (entry("python/link-in", 0o777, kind=stat.S_IFLNK), b"ok.py"),
    ])
    # zipfile warns about the duplicate name
    with pytest.warns(UserWarning), zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("python/ok.py", b"x = 2\n")
    box = tmp_path / "box"
    dest = box / "dest"
    dest.mkdir(parents=True)
    result = safe_extract(archive, dest)
    assert everything_under(box) == {"dest", "dest/python", "dest/python/ok.py",
                                     "dest/python/link-in"}
    assert (dest / "python/ok.py").read_text() == "x = 1\n"  # the first copy
    assert (dest / "python/link-in").resolve() == (dest / "python/ok.py").resolve()
    problems = {(p.code, p.name) for p in result.problems}
    assert {("unsafe-path", "../escape.txt"), ("unsafe-path", "python/../../escape2.txt"),
            ("unsafe-path", "/abs.txt"), ("unsafe-path", "C:/windows.txt"),
            ("backslash-path", "python\\win\\mod.py"), ("unsafe-path", "python/link-out"),
            ("unsafe-path", "python/link-abs"), ("duplicate-entry", "python/ok.py")} <= problems
    assert not (tmp_path / "escape.txt").exists()


def test_link_inside_linked_directory_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "nested.zip", [
        (entry("a/b/c/p", 0o777, kind=stat.S_IFLNK), b"../../.."),
        (entry("a/b/c/p/l", 0o777, kind=stat.S_IFLNK), b"../../../../x"),
    ])
    dest = tmp_path / "d"
    dest.mkdir()
    result = safe_extract(archive, dest)
    assert ("unsafe-path", "a/b/c/p/l") in {(p.code, p.name) for p in result.problems}
    assert not (dest / "a/b/c/p/l").is_symlink()


def test_modes_and_file_directory_clash(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "modes.zip", [
        (entry("python/secret.py", 0o600), b""),
        (entry("python/private/", 0o700, kind=stat.S_IFDIR), b""),
        (entry("python/fine.py", 0o644), b""),
        ("python/clash", b"file"),
        ("python/clash/inner.py", b"dir"),
    ])
    dest = tmp_path / "d"
    dest.mkdir()
    problems = {(p.code, p.name) for p in safe_extract(archive, dest).problems}
    assert ("not-world-readable", "python/secret.py") in problems
    assert ("not-world-readable", "python/private") in problems
    assert ("duplicate-entry", "python/clash/inner.py") in problems
    assert all(name != "python/fine.py" for _, name in problems)


def test_zip_bomb_ratio_and_total_caps(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bomb.zip", [("python/zeros.bin", bytes(4 << 20))])
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(UsageError, match="refusing"):
        safe_extract(archive, dest, max_total=1 << 20)
    with pytest.raises(UsageError, match="zip bomb"):
        safe_extract(archive, tmp_path / "d", max_total=1 << 30, max_ratio=5, ratio_floor=0)
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1 << 20


def test_lying_sizes_are_capped_while_streaming(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "liar.zip", [(entry("python/a.bin"), bytes(3 << 20))])
    data = bytearray(archive.read_bytes())
    # Rewrite the central directory's uncompressed size to 1 byte.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (1).to_bytes(4, "little")
    liar = tmp_path / "liar2.zip"
    liar.write_bytes(bytes(data))
    dest = tmp_path / "d"
    dest.mkdir()
    result = safe_extract(liar, dest, max_total=2 << 20)
    # zipfile stops at the declared size, and the CRC no longer matches: a corrupt entry.
    assert [p.code for p in result.problems] == ["corrupt-zip-entry"]
    assert not (dest / "python/a.bin").exists()


def test_truncated_and_non_zip_are_usage_errors(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "ok.zip", [("python/a.py", b"a" * 1000)])
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[:-30])
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello")
    for bad in (truncated, not_zip):
        with pytest.raises(UsageError, match="not a readable zip"):
            check_path(bad, [PY311])


def test_python_writestr_default_mode_is_not_world_readable(tmp_path: Path) -> None:
    # zipfile.writestr(name, ...) records mode 0600: a classic "works locally,
    # PermissionError on Lambda" zip.
    archive = write_zip(tmp_path / "w.zip", [("python/mod.py", b"x = 1\n")])
    finding = check_path(archive, [PY311]).findings[0]
    assert (finding.code, finding.severity, finding.path) == (
        "not-world-readable", "error", "python/mod.py")
    assert "PermissionError" in finding.message


def test_corrupt_entry_data_is_a_finding(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "c.zip", [(entry("python/a.py"), b"print('hello')\n" * 200),
                                             (entry("python/b.py"), b"ok\n")])
    data = bytearray(archive.read_bytes())
    data[60] ^= 0xFF  # inside a.py's deflate stream
    archive.write_bytes(bytes(data))
    report = check_path(archive, [PY311])
    assert [(f.code, f.path) for f in report.findings] == [("corrupt-zip-entry", "python/a.py")]
    assert not report.ok


def _valid_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/pkg/__init__.py", b"import os\n" * 50)
        zf.writestr(entry("python/pkg/data.bin", 0o640), bytes(range(256)) * 4)
        zf.writestr(entry("python/pkg/link", 0o777, kind=stat.S_IFLNK), b"data.bin")
        zf.writestr("python/pkg/_x.abi3.so", b"\x7fELF\x02\x01\x01" + bytes(200))
    return buffer.getvalue()


VALID = _valid_zip()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_zips_give_findings_or_usage_errors(tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    blob = blob[:data.draw(st.integers(0, len(blob)))]
    archive = Path(tempfile.mkdtemp(dir=tmp_path)) / "m.zip"
    archive.write_bytes(bytes(blob))
    try:
        report = check_path(archive, [PY311])
    except UsageError:
        return
    assert all(f.severity in {"error", "warning", "info"} for f in report.findings)


# zipfile's writer cuts names at NUL and cannot encode lone surrogates, so the
# strategy leaves both out.
NAMES = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                min_size=1, max_size=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(NAMES | st.sampled_from(["../x", "/x", "a/../../x", "a\\b", "./a/",
                                                    "a//b", "a/./b"]),
                          st.binary(max_size=64)), max_size=6))
def test_arbitrary_entry_names_never_escape(tmp_path: Path,
                                            entries: list[tuple[str, bytes]]) -> None:
    box = Path(tempfile.mkdtemp(dir=tmp_path))
    dest = box / "dest"
    dest.mkdir()
    archive = box / "a.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are part of the test
        for name, payload in entries:
            zf.writestr(name, payload)
    with contextlib.suppress(UsageError):
        safe_extract(archive, dest)
    outside = {p.name for p in box.iterdir()} - {"dest", "a.zip"}
    assert not outside
    for path in dest.rglob("*"):
        assert path.resolve().is_relative_to(dest.resolve()) or path.is_symlink()


def test_extraction_has_a_wall_clock_total(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Many cheap entries still stop at the time budget, as a UsageError, not a hang."""
    from lambdalayer.common import zipread

    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for index in range(50):
            zf.writestr(entry(f"python/d{index}/", 0o755, kind=stat.S_IFDIR), b"")
    monkeypatch.setattr(zipread, "MAX_SECONDS", -1.0)
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="took more than"):
        safe_extract(archive, tmp_path / "out")
