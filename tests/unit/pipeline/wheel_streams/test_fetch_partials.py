"""A signal ends the process while a wheel is still being fetched for its deflate streams:
the last cleanup removes the half-written file, and no fetch starts after it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdalayer.common import interrupt
from lambdalayer.pipeline.wheel_streams import fetch as wheel_fetch


def test_the_last_cleanup_removes_downloads_under_way_and_stops_new_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wheel_fetch, "_CLOSED", [False])
    monkeypatch.setattr(wheel_fetch, "_PARTIALS", set())
    assert wheel_fetch._remove_partials in interrupt._last_steps
    finished_fd, finished = wheel_fetch._partial_file(tmp_path)
    os.close(finished_fd)
    kept = tmp_path / "kept.whl"
    os.replace(finished, kept)
    wheel_fetch._settled(finished)  # a whole wheel, in place: the cleanup leaves it
    descriptor, partial = wheel_fetch._partial_file(tmp_path)
    os.write(descriptor, b"half a wheel")
    assert partial.name.startswith(".tmp-")
    wheel_fetch._remove_partials()  # what interrupt.final_cleanup runs
    os.close(descriptor)
    assert list(tmp_path.iterdir()) == [kept]
    with pytest.raises(OSError, match="being stopped"):
        wheel_fetch._partial_file(tmp_path)
    assert list(tmp_path.iterdir()) == [kept]
