"""The helper that compiles while uv downloads (proof/early.py), in this process: what it
compiles and says it compiled whole, and when it starts nothing at all (no box, a
folder uv did not make, a box that cannot start), leaving nothing behind."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lambdalayer.common import cache
from lambdalayer.interpreters import find
from lambdalayer.interpreters.configured import NOTHING_CONFIGURED
from lambdalayer.proof import answers, early, sandbox
from lambdalayer.targets.target import Target
from tests.conftest import require

SOURCE = b"VALUE = 'compiled while uv downloads'\n"


@pytest.fixture
def uv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A uv cache (tagged, as uv tags it first), lambdalayer's cache and TMPDIR, private."""
    require(find.find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    folder = tmp_path / "uv-cache"
    folder.mkdir()
    (folder / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    monkeypatch.setattr(cache, "uv_cache_dir", lambda: folder)
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(early, "_asked", threading.Event())  # no proof has started
    return folder


def _unpack(uv_cache: Path, name: str) -> None:
    """As uv does: a temporary folder, renamed into the bucket once whole."""
    unpacking = uv_cache / f".tmp-{name}"
    (unpacking / name).mkdir(parents=True)
    (unpacking / name / "__init__.py").write_bytes(SOURCE)
    (unpacking / f"{name}-1.0.dist-info").mkdir()
    (uv_cache / "archive-v0").mkdir(exist_ok=True)
    unpacking.rename(uv_cache / "archive-v0" / f"id-{name}")


def _kept(tmp_path: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (tmp_path / "cache").rglob("*.pyc")}


def test_what_uv_unpacks_is_compiled_and_said_compiled_whole(
        uv_cache: Path, tmp_path: Path) -> None:
    early.start(Target.parse("python3.12", "x86_64"), NOTHING_CONFIGURED, time.time(),
                lookups=[])
    _unpack(uv_cache, "llunpacked")
    deadline = time.monotonic() + 20
    while hashlib.sha256(SOURCE).hexdigest() not in _kept(tmp_path):
        assert time.monotonic() < deadline, "nothing was compiled"
        time.sleep(0.02)
    early.stop(None)  # the proof starts: the helper ends, and is awaited
    assert early._covered_within(0) == frozenset({"llunpacked", "llunpacked-1.0.dist-info"})
    assert list((tmp_path / "tmp").iterdir()) == []  # its work folder is gone


def test_without_a_box_nothing_starts(uv_cache: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "find_sandbox",
                        lambda **_: sandbox.Sandbox(kind="none", reason="a test"))
    assert early._launch(Target.parse("python3.12", "x86_64"), NOTHING_CONFIGURED,
                         time.time(), uv_cache) is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_folder_uv_did_not_make_is_not_shown(uv_cache: Path, tmp_path: Path) -> None:
    (uv_cache / "CACHEDIR.TAG").unlink()  # e.g. a UV_CACHE_DIR uv never used: $HOME
    assert early._launch(Target.parse("python3.12", "x86_64"), NOTHING_CONFIGURED,
                         time.time(), uv_cache) is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_box_that_cannot_start_leaves_nothing(uv_cache: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object, **__: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(answers, "start_boxed", refused)
    assert early._launch(Target.parse("python3.12", "x86_64"), NOTHING_CONFIGURED,
                         time.time(), uv_cache) is None
    assert list((tmp_path / "tmp").iterdir()) == []
