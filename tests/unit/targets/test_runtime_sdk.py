"""The runtime SDK table (targets/runtime_sdk.toml) and its installer's cache handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.targets.runtime_sdk import RuntimeSdk, _table, listed_release
from lambdalayer.targets.runtimes import load_runtime_table


def test_every_runtime_in_the_sdk_table_is_a_known_runtime() -> None:
    known = set(load_runtime_table().runtimes)
    assert set(_table()) <= known


def test_each_listed_boto3_goes_with_its_botocore() -> None:
    # Since 1.32, boto3 and botocore releases share their minor and patch numbers.
    for runtime in _table():
        boto3, botocore, _ = listed_release(runtime)
        assert boto3 and botocore and boto3.split(".")[1:] == botocore.split(".")[1:]


def test_an_unlisted_runtime_gets_the_newest_and_says_so() -> None:
    assert listed_release("python3.99") == (None, None, False)
    sdk = RuntimeSdk(runtime="python3.99", folder=Path("/x"), boto3=None)
    assert sdk.describe() == ("the newest boto3 at /var/runtime (AWS's table lists none "
                              "for python3.99 here)")


def test_an_unverified_release_is_marked() -> None:
    sdk = RuntimeSdk(runtime="python3.12", folder=Path("/x"), boto3="1.34.126",
                     unverified=True)
    assert sdk.describe() == "the runtime's boto3 1.34.126? at /var/runtime"
    assert "?" not in RuntimeSdk(runtime="python3.12", folder=None, boto3="1.34.126").describe()


def test_a_link_planted_in_the_cache_is_not_followed(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A link where an installed SDK belongs is removed, not bound into the box."""
    from lambdalayer.common.cache import ensure_root
    from lambdalayer.resolve import runtime_sdk as installer
    from lambdalayer.resolve.index_settings import IndexSettings
    from lambdalayer.targets.target import Target

    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path / "cache"))
    ensure_root(tmp_path / "cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".complete").touch()
    folder = tmp_path / "cache" / "runtime-sdk" / "python3.12-boto3-1.34.126"
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere)
    monkeypatch.setattr(installer, "_install", lambda *args: "offline here")
    sdk = installer.runtime_sdk(Target.parse("python3.12", "x86_64"), IndexSettings())
    assert sdk.folder is None and sdk.reason == "offline here"
    assert not folder.is_symlink()
