"""`lambdalayer cache` and `lambdalayer cache clean`, run as a user would."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_clean_failure, run_cli


def test_cache_shows_size_and_clean_empties_it(tmp_path: Path) -> None:
    cache = tmp_path / "ll-cache"
    (cache / "zip-members" / "ab").mkdir(parents=True)
    # An entry named as lambdalayer names them (clean deletes nothing else).
    (cache / "zip-members" / "ab" / ("ab" * 32 + "-v1-l6")).write_bytes(b"x" * 1234)
    (cache / ".lambdalayer-cache").write_text("made by lambdalayer\n")  # (no bytes counted)
    env = {"LAMBDALAYER_CACHE_DIR": str(cache), "LAMBDALAYER_CACHE_MAX": "500M"}
    shown = run_cli("cache", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    doc = shown.json()["cache"]
    assert (doc["path"], doc["size"], doc["files"], doc["cap"]) == (
        str(cache), 1234 + 20, 2, 500_000_000)
    cleaned = run_cli("cache", "clean", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "1.2 KB" in cleaned.stderr
    assert [p.name for p in cache.rglob("*")] == [".lambdalayer-cache"]


def test_a_bad_cap_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("cache", env={"LAMBDALAYER_CACHE_DIR": str(tmp_path),
                                "LAMBDALAYER_CACHE_MAX": "lots"})
    assert_clean_failure(run, 2)
    assert "LAMBDALAYER_CACHE_MAX" in run.stderr
