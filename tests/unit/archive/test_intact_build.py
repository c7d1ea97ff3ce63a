"""A previous build stands only while every zip it wrote is still as its manifest says."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lambdalayer.archive.manifest import (
    Manifest,
    PackageRecord,
    hash_inputs,
    intact_build,
    write_manifest,
)


def _build(out: Path, name: str, inputs_hash: str) -> Path:
    zip_path = out / f"{name}.zip"
    zip_path.write_bytes(b"PK\x05\x06" + bytes(18))
    manifest = Manifest(
        name=name, zip=zip_path.name, sha256=hashlib.sha256(zip_path.read_bytes()).hexdigest(),
        code_sha256="", size=22, unzipped_size=0, runtimes=["python3.12"],
        architectures=["x86_64"],
        packages=[PackageRecord(name="six", version="1.16.0", tags=["py3-none-any"])],
        tool_version="0", inputs_hash=inputs_hash, inputs={"artifacts": [zip_path.name]})
    write_manifest(out / f"{name}.json", manifest)
    return zip_path


def test_the_same_inputs_with_their_zip_untouched_stand(tmp_path: Path) -> None:
    _build(tmp_path, "api", "h1")
    [(path, manifest)] = intact_build(tmp_path, "api", "h1") or []
    assert path == tmp_path / "api.json"
    assert manifest.pins() == {"six": "1.16.0"}
    assert not manifest.proven()  # the proof was not run for it


def test_other_inputs_a_changed_zip_or_none_at_all_do_not(tmp_path: Path) -> None:
    assert intact_build(tmp_path, "api", "h1") is None
    zip_path = _build(tmp_path, "api", "h1")
    assert intact_build(tmp_path, "api", "h2") is None
    zip_path.write_bytes(b"changed")
    assert intact_build(tmp_path, "api", "h1") is None


def test_the_inputs_hash_does_not_depend_on_the_order_of_keys() -> None:
    assert hash_inputs({"a": 1, "b": [2]}) == hash_inputs({"b": [2], "a": 1})
