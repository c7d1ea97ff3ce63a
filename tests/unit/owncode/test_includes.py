"""Where an `--include SRC:DEST` lands in the layer, and the DESTs that would leave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.common.errors import UsageError
from lambdalayer.owncode.sources import parse_include


@pytest.mark.parametrize("dest", ["../bin", "/opt/bin", "bin/../../x", ".."])
def test_include_dest_must_stay_inside_the_layer(dest: str, tmp_path: Path) -> None:
    (tmp_path / "tool").write_text("x", "utf-8")
    with pytest.raises(UsageError, match="outside the layer"):
        parse_include(f"tool:{dest}", tmp_path)


def test_include_dest_of_a_file(tmp_path: Path) -> None:
    (tmp_path / "tool").write_text("x", "utf-8")
    assert parse_include("tool:bin/", tmp_path).dest == "bin/tool"
    assert parse_include("tool:bin/jq", tmp_path).dest == "bin/jq"
    assert parse_include("tool:", tmp_path).dest == "tool"
