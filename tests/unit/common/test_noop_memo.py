"""The memo's own light copies of the cache's facts (common/noop_memo.py reads the cache
without loading common/cache.py): they must agree with the cache's."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdalayer.common import cache, noop_memo


def test_the_names_agree_with_the_cache() -> None:
    assert noop_memo.SECRET == cache.SECRET
    assert noop_memo.NOOP_MEMO_DIR == cache.NOOP_MEMO_DIR


@pytest.mark.parametrize("env", [{}, {"XDG_CACHE_HOME": "/x/cache"},
                                 {"LAMBDALAYER_CACHE_DIR": "~/elsewhere"},
                                 {"XDG_CACHE_HOME": "~/xdg"}])
def test_the_cache_root_agrees(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAMBDALAYER_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Path(noop_memo._cache_root()) == cache.cache_root().expanduser()


@given(key=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300))
def test_the_signature_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert noop_memo._hmac(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_the_signature_is_the_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path))
    mac = cache.sign(tmp_path, b"memo body")
    assert mac is not None and noop_memo._signature(b"memo body") == mac.hex()


def test_only_a_build_without_force_is_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDALAYER_NO_MEMO", raising=False)
    assert noop_memo._applies(["build", "x"])
    assert not noop_memo._applies(["build", "x", "--force"])
    assert not noop_memo._applies(["check", "x"])
    monkeypatch.setenv("LAMBDALAYER_NO_MEMO", "1")
    assert not noop_memo._applies(["build", "x"])
