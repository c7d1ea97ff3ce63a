"""The zip written beside the proof has slack until the proof ends: it waits while the
proof's import and its compile helper claim every core (common/cores.py), then is
written as usual, the same bytes."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.common import cores
from lambdalayer.pipeline import zips
from lambdalayer.pipeline.request import BuildRequest
from lambdalayer.pipeline.wheel_streams.reuse import WheelStreams
from lambdalayer.resolve.requirements import RequirementInputs


def test_the_zip_waits_while_every_core_is_claimed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "layer"
    (root / "python").mkdir(parents=True)
    (root / "python" / "mine.py").write_text("VALUE = 1\n")
    events: list[str] = []
    entered = threading.Event()
    real = zips.write_zip

    def noted(*args: Any, pause: Any = None, **kwargs: Any) -> Any:
        entered.set()
        pause()  # what write_zip calls before reading each member
        events.append("read")
        return real(*args, pause=pause, **kwargs)

    monkeypatch.setattr(zips, "write_zip", noted)
    request = BuildRequest(name="demo", inputs=RequirementInputs(specs=("six",)),
                           out_dir=tmp_path / "dist")
    layer_zips = zips.LayerZips(request, WheelStreams(), [])
    try:
        with cores.claimed(cores._cores()):
            layer_zips.start("demo", root, {})
            assert entered.wait(30)
            events.append("released")
        done = layer_zips.result("demo", root, {})
    finally:
        layer_zips.close()
    assert events == ["released", "read"]
    with zipfile.ZipFile(done.partial) as archive:
        assert archive.read("python/mine.py") == b"VALUE = 1\n"
