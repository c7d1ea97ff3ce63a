"""Validating what the user asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.resolve.requirements import RequirementInputs, parse_spec, read_requirement_file


def test_lock_file_with_hashes_and_comments(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# generated\n"
        "scramp==1.4.4 \\\n"
        "    --hash=sha256:aa \\\n"
        "    --hash=sha256:bb\n"
        "    # via pg8000\n"
        "pg8000==1.30.5 --hash=sha256:cc  # pinned\n"
    )
    parsed = read_requirement_file(lock)
    assert [str(r) for r in parsed.requirements] == ["scramp==1.4.4", "pg8000==1.30.5"]
    assert parsed.hashed
    inputs = RequirementInputs(files=(parsed,))
    assert inputs.require_hashes
    assert inputs.exact_pins() == {"scramp": "1.4.4", "pg8000": "1.30.5"}


def test_bad_line_is_named_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("six\n\nnot a requirement!!\n")
    with pytest.raises(UsageError, match=r"r\.txt:3"):
        read_requirement_file(path)


def test_ranges_and_markers_are_not_exact_pins() -> None:
    assert RequirementInputs(specs=("six>=1",)).exact_pins() is None
    assert RequirementInputs(specs=("six==1.*",)).exact_pins() is None
    assert RequirementInputs(specs=("six==1.17.0; python_version<'3.12'",)).exact_pins() is None
    assert RequirementInputs(specs=("Six==1.17.0",)).exact_pins() == {"six": "1.17.0"}


def test_spec_validation_message() -> None:
    with pytest.raises(UsageError, match="not a valid requirement"):
        parse_spec("pkg===")


def test_hashes_on_some_lines_only_are_refused_like_pip(tmp_path: Path) -> None:
    # pip: one --hash turns on hash-checking for every line, and a line without one fails.
    from tests.helpers import assert_clean_failure, run_cli

    path = tmp_path / "requirements.txt"
    path.write_text("scramp==1.4.6 --hash=sha256:aa\n"
                    "# a comment\n"
                    "pg8000==1.31.5\n"
                    "asn1crypto==1.5.1 \\\n    --hash=sha256:bb\n"
                    "python-dateutil\n")
    run = run_cli("build", "db", "-r", str(path), "--runtime", "python3.12", "--arch",
                  "x86_64", "--out", str(tmp_path / "dist"), timeout=120)
    assert_clean_failure(run, 2)
    assert "hashes are all or nothing" in run.stderr
    assert "3 (pg8000==1.31.5), 6 (python-dateutil)" in run.stderr
    assert not (tmp_path / "dist").exists()


def test_hashes_on_every_line_or_none_are_accepted(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("scramp==1.4.6\npg8000==1.31.5\n")
    assert not read_requirement_file(plain).hashed
