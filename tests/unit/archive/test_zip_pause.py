"""write_zip's `pause`: called before each member is read, so a zip with slack (written
beside the proof) reads nothing while the proof claims every core; the bytes are the
same however long it paused."""

from __future__ import annotations

import threading
from pathlib import Path

from lambdalayer.archive.zipwriter import RunMemo, iter_tree, write_zip
from lambdalayer.common import cores


class _Recorder:
    """A StreamSource that offers nothing and notes when a member was read."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def stream_for(self, path: Path, size: int, crc: int, sha256: str) -> bytes | None:
        self.events.append("read")
        return None


def _tree(root: Path) -> Path:
    for index in range(20):
        (root / "python" / f"m{index}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / "python" / f"m{index}.py").write_bytes(b"x = %d\n" % index * 500)
    return root


def test_nothing_is_read_while_every_core_is_claimed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    events: list[str] = []
    streams = {name: _Recorder(events) for name, _ in iter_tree(root)}
    paused = threading.Event()

    def pause() -> None:
        paused.set()
        cores.wait_for_spare()

    out = tmp_path / "paused.zip"
    writer = threading.Thread(target=write_zip, args=(iter_tree(root), out),
                              kwargs={"memo": RunMemo(), "streams": streams, "pause": pause})
    with cores.claimed(cores._cores()):
        writer.start()
        assert paused.wait(30)  # the writer is at its first pause, held by the claim
        events.append("released")
    writer.join(60)
    assert events[0] == "released" and events.count("read") == 20
    write_zip(iter_tree(root), tmp_path / "plain.zip", memo=RunMemo())
    assert out.read_bytes() == (tmp_path / "plain.zip").read_bytes()


def test_without_a_memo_every_deflate_waits_too(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    calls: list[str] = []
    write_zip(iter_tree(root), tmp_path / "z.zip", workers=2,
              pause=lambda: calls.append("pause"))
    # Before each of the 20 deflates and before each of the 20 members is written.
    assert len(calls) == 40
    write_zip(iter_tree(root), tmp_path / "plain.zip", workers=2)
    assert (tmp_path / "z.zip").read_bytes() == (tmp_path / "plain.zip").read_bytes()
