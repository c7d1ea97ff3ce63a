"""Content repeated across the zips of one build (the same package in several runtimes'
and architectures' trees) is deflated once, and the zips keep their bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdalayer.archive import zipwriter
from lambdalayer.archive.zipwriter import CHUNK, RunMemo, iter_tree, write_zip


def _trees(tmp_path: Path) -> list[Path]:
    shared = {"pkg/__init__.py": b"x = 1\n" * 500, "pkg/big.bin": os.urandom(3 * CHUNK),
              "pkg/small.txt": b"same everywhere\n"}
    roots = []
    for arch in ("x86_64", "arm64"):
        root = tmp_path / arch
        for runtime in ("3.12", "3.13"):
            site = root / "python" / "lib" / f"python{runtime}" / "site-packages"
            for name, data in {**shared, f"own-{arch}.py": arch.encode() * 99}.items():
                (site / name).parent.mkdir(parents=True, exist_ok=True)
                (site / name).write_bytes(data)
        roots.append(root)
    return roots


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files each deflate (a whole file or one piece) was run on."""
    calls: list[str] = []
    whole, piece = zipwriter._deflate_whole, zipwriter._deflate_chunk

    def counted_whole(path: Path, level: int) -> tuple[bytes, int, int]:
        calls.append(path.name)
        return whole(path, level)

    def counted_piece(path: Path, index: int, last: bool, level: int) -> bytes:
        calls.append(path.name)
        return piece(path, index, last, level)

    monkeypatch.setattr(zipwriter, "_deflate_whole", counted_whole)
    monkeypatch.setattr(zipwriter, "_deflate_chunk", counted_piece)
    return calls


def test_a_run_memo_deflates_each_content_once_and_keeps_the_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = _trees(tmp_path)
    plain = [write_zip(iter_tree(r), tmp_path / f"plain-{r.name}.zip").size for r in roots]
    calls = _counting(monkeypatch)
    memo = RunMemo()
    for root in roots:
        write_zip(iter_tree(root), tmp_path / f"memo-{root.name}.zip", memo=memo)
    for root, size in zip(roots, plain, strict=True):
        memo_zip = (tmp_path / f"memo-{root.name}.zip").read_bytes()
        assert memo_zip == (tmp_path / f"plain-{root.name}.zip").read_bytes()
        assert len(memo_zip) == size
    # Distinct contents: __init__.py, small.txt, own-x86_64.py, own-arm64.py (one call
    # each) and big.bin (three 1 MiB pieces): 7 deflates for 20 files.
    assert sorted(calls) == sorted(
        ["__init__.py", "small.txt", "own-x86_64.py", "own-arm64.py", *["big.bin"] * 3])
    assert memo.hits >= 3


def test_a_full_memo_compresses_again_with_the_same_bytes(tmp_path: Path) -> None:
    [root, _other] = _trees(tmp_path)
    write_zip(iter_tree(root), tmp_path / "plain.zip")
    write_zip(iter_tree(root), tmp_path / "tiny.zip", memo=RunMemo(budget=10))
    assert (tmp_path / "plain.zip").read_bytes() == (tmp_path / "tiny.zip").read_bytes()


def test_hard_links_are_read_once_per_run(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """uv links one cached wheel's files into every target's tree: one read per inode."""
    root = tmp_path / "layer"
    first = root / "python" / "lib" / "python3.12" / "site-packages" / "m.py"
    first.parent.mkdir(parents=True)
    first.write_bytes(b"value = 1\n" * 100)
    for runtime in ("3.13", "3.14"):
        other = root / "python" / "lib" / f"python{runtime}" / "site-packages" / "m.py"
        other.parent.mkdir(parents=True)
        os.link(first, other)
    plain = tmp_path / "plain.zip"
    write_zip(iter_tree(root), plain)
    opened: list[Path] = []
    real_open = Path.open

    def counted(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "m.py" and args[:1] == ("rb",):
            opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", counted)
    memo = RunMemo()
    write_zip(iter_tree(root), tmp_path / "memo.zip", memo=memo, workers=1)
    assert (tmp_path / "memo.zip").read_bytes() == plain.read_bytes()
    # One probe read and one deflate read; normalised_mode opens each name (3) for its
    # first bytes. Without the memo of inodes: three probe reads.
    assert len(opened) == 3 + 1 + 1
