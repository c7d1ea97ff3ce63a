"""Case-only and Unicode-form-only name differences are refused (audit/names.py)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from lambdalayer.audit import audit_layer
from lambdalayer.audit.names import collisions
from lambdalayer.targets.target import Target

TARGET = [Target.parse("python3.12", "x86_64")]


def _codes(root: Path) -> dict[str, list[str]]:
    report = audit_layer(root, TARGET)
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.code, []).append(finding.message)
    return found


def test_collisions_group_case_and_unicode_forms() -> None:
    nfd = unicodedata.normalize("NFD", "python/café.py")
    assert collisions(["python/Foo.py", "python/foo.py", "python/bar.py", nfd,
                       "python/café.py"]) == [("python/Foo.py", "python/foo.py"),
                                              (nfd, "python/café.py")]


def test_two_files_differing_in_case_are_an_audit_error(tmp_path: Path) -> None:
    (tmp_path / "python" / "pkg").mkdir(parents=True)
    (tmp_path / "python" / "pkg" / "Util.py").write_text("")
    (tmp_path / "python" / "pkg" / "util.py").write_text("")
    [message] = _codes(tmp_path)["case-collision"]
    assert "'python/pkg/Util.py' and 'python/pkg/util.py'" in message
    assert "macOS and Windows" in message


def test_a_merge_on_a_case_insensitive_host_is_seen_through_record(tmp_path: Path) -> None:
    """On APFS/NTFS only one file is left; RECORD still names both."""
    site = tmp_path / "python"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    (site / "pkg").mkdir()
    (site / "pkg" / "readme.txt").write_text("")
    (site / "pkg-1.0.dist-info" / "RECORD").write_text(
        "pkg/README.txt,,\npkg/readme.txt,,\npkg-1.0.dist-info/RECORD,,\n")
    assert "case-collision" in _codes(tmp_path)


def test_nfd_and_nfc_twins_on_disk_are_an_error_and_names_are_nfc(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / unicodedata.normalize("NFD", "café.py")).write_text("")
    assert "case-collision" not in _codes(tmp_path)  # one file, whatever its form
    (tmp_path / "python" / "café.py").write_text("")
    assert "case-collision" in _codes(tmp_path)


def test_distinct_names_are_fine(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "a.py").write_text("")
    (tmp_path / "python" / "b.py").write_text("")
    assert "case-collision" not in _codes(tmp_path)
