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
    assert "1.2 KB" in cleaned.stdout
    assert [p.name for p in cache.rglob("*")] == [".lambdalayer-cache"]


def test_a_bad_cap_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("cache", env={"LAMBDALAYER_CACHE_DIR": str(tmp_path),
                                "LAMBDALAYER_CACHE_MAX": "lots"})
    assert_clean_failure(run, 2)
    assert "LAMBDALAYER_CACHE_MAX" in run.stderr


def test_clean_after_a_build_leaves_nothing_the_build_kept(tmp_path: Path) -> None:
    """Every folder a build fills (wheel files, the index's answers, the
    proof's bytecode) is emptied: a user cleaning the cache to rule it out really does."""
    from lambdalayer.interpreters.find import find_interpreter
    from tests.conftest import require
    from tests.package_index import make_wheel, serve_index

    require(find_interpreter("3.12") is not None, "CPython 3.12 is needed (pyenv install 3.12)")
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-kept", "1.0", deflate_level=6, files={
        "ll_fixture_kept/__init__.py": b"from ll_fixture_kept import part\n",
        "ll_fixture_kept/part.py": b"VALUE = 1\n" * 200})
    cache = tmp_path / "ll-cache"
    env = {"LAMBDALAYER_CACHE_DIR": str(cache), "UV_CACHE_DIR": str(tmp_path / "uv")}
    with serve_index(files) as index:
        built = run_cli("build", "kept", "-p", "ll-fixture-kept", "--runtime", "python3.12",
                        "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                        env={**env, "UV_DEFAULT_INDEX": index})
    assert built.returncode == 0, built.stderr
    filled = {p.relative_to(cache).parts[0] for p in cache.rglob("*") if p.is_file()}
    assert {"wheels", "index-answers", "proof-bytecode"} <= filled, filled
    cleaned = run_cli("cache", "clean", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    left = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert left == [".lambdalayer-cache", ".lambdalayer-cache-secret", "CACHEDIR.TAG",
                    "lambda-model-runtimes.json"], left
