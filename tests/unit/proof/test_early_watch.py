"""The helper that compiles while uv downloads (proof/early.py; in_target's watch mode)
compiles each folder uv unpacks into its cache once it is in place, from uv's start on:
not what the cache held before, not a folder uv is still unpacking (a dot-name), not a
test folder; it waits for the bucket when uv has not made it yet, and stops when told."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lambdalayer.proof import script

OLD, NEW, UNPACKING, IN_TESTS, LATE = (b"OLD = 1\n", b"NEW = 2\n", b"UNPACKING = 3\n",
                                       b"IN_TESTS = 4\n", b"LATE = 5\n")


def _digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def _kept(cache: Path) -> set[str]:
    return {p.name.split(".")[0] for p in cache.rglob("*.pyc")}


def _wait_for(cache: Path, source: bytes) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _digest(source) in _kept(cache):
            return True
        time.sleep(0.02)
    return False


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _watcher(tmp_path: Path, bucket: Path, since: float) -> subprocess.Popen[str]:
    config = {"precompile": [str(bucket)], "bytecode": str(tmp_path / "cache"),
              "stop": str(tmp_path / "stop"), "watch": since}
    return subprocess.Popen([sys.executable, "-I", "-S", "-B", "-c", script.source(),
                             json.dumps(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stopped(tmp_path: Path, watcher: subprocess.Popen[str]) -> list[dict[str, object]]:
    (tmp_path / "stop").touch()
    out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _covered(said: list[dict[str, object]]) -> set[str]:
    """The names the watcher said it compiled whole (runner.EARLY_FILLS)."""
    return {n for r in said if r["kind"] == "covered" for n in r["names"]}  # type: ignore[attr-defined]


def test_only_what_uv_unpacks_after_its_start_is_compiled(tmp_path: Path) -> None:
    cache, bucket = tmp_path / "cache", tmp_path / "uv" / "archive-v0"
    cache.mkdir()
    old = _folder(bucket / "old", {"old/__init__.py": OLD})
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # unpacked by an earlier uv
    watcher = _watcher(tmp_path, bucket, since=time.time() - 1)
    try:
        # uv unpacks a wheel into a temporary folder, then renames it into the bucket.
        unpacking = _folder(bucket / ".tmpXyZ", {"late/__init__.py": LATE})
        _folder(bucket / ".tmpAbC", {"new/__init__.py": NEW, "new/tests/test_new.py": IN_TESTS,
                                     "new/other.py": UNPACKING}).rename(bucket / "new")
        assert _wait_for(cache, NEW), "the new folder's module was never compiled"
        assert _digest(LATE) not in _kept(cache)  # still being unpacked
        unpacking.rename(bucket / "late")  # uv puts it in place
        assert _wait_for(cache, LATE), "a folder put in place later was never compiled"
    finally:
        said = _stopped(tmp_path, watcher)
    kept = _kept(cache)
    assert _digest(OLD) not in kept and _digest(IN_TESTS) not in kept
    assert {_digest(NEW), _digest(UNPACKING), _digest(LATE)} <= kept
    assert _covered(said) == {"new", "late"}  # the names at the top of each folder
    assert said[-1]["kind"] == "stored" and isinstance(said[-1]["bytes"], int)
    assert said[-1]["bytes"] > 0


def test_the_bucket_is_waited_for_and_the_stop_is_heeded(tmp_path: Path) -> None:
    cache, bucket = tmp_path / "cache", tmp_path / "uv" / "archive-v0"
    cache.mkdir()
    watcher = _watcher(tmp_path, bucket, since=time.time() - 1)
    try:
        time.sleep(0.2)
        assert watcher.poll() is None  # no bucket yet (a fresh cache): it waits
        bucket.mkdir(parents=True)
        _folder(tmp_path / "unpacked", {"first/__init__.py": NEW}).rename(bucket / "first")
        assert _wait_for(cache, NEW)
    finally:
        started = time.monotonic()
        said = _stopped(tmp_path, watcher)
    assert time.monotonic() - started < 5
    assert [r["kind"] for r in said] == ["covered", "stored"] and _covered(said) == {"first"}
