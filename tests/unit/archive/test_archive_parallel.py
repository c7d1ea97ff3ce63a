"""Parallel, chunked, cached deflate: same bytes whatever the workers and the cache."""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import pytest

from lambdalayer.archive.zipwriter import CHUNK, iter_tree, write_zip
from lambdalayer.common.cache import DeflateCache

# Sizes around the chunking thresholds, half random (incompressible) half text.
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 12345]


def content(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    text = b"".join(b"line %d of a module\n" % rng.randrange(1000) for _ in range(size // 20 + 1))
    return (rng.randbytes(size // 2) + text)[:size]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for index, size in enumerate(SIZES):
        path = root / "python" / f"pkg{index}" / f"lib{index}.so"
        path.parent.mkdir(parents=True)
        path.write_bytes(content(size, index))
    return root


def test_worker_count_does_not_change_the_bytes_and_every_member_is_intact(
    tree: Path, tmp_path: Path
) -> None:
    outputs = []
    for workers in (1, 2, 7):
        out = tmp_path / f"w{workers}.zip"
        stats = write_zip(iter_tree(tree), out, workers=workers)
        outputs.append(out.read_bytes())
        assert stats.unzipped_size == sum(SIZES)
    assert outputs[0] == outputs[1] == outputs[2]
    with zipfile.ZipFile(tmp_path / "w1.zip") as archive:
        assert archive.testzip() is None
        for index, size in enumerate(SIZES):
            assert archive.read(f"python/pkg{index}/lib{index}.so") == content(size, index)


def test_a_warm_cache_gives_the_same_bytes_and_a_damaged_entry_is_ignored(
    tree: Path, tmp_path: Path
) -> None:
    cache_root = tmp_path / "cache"
    plain = tmp_path / "plain.zip"
    write_zip(iter_tree(tree), plain, workers=2)
    cold = tmp_path / "cold.zip"
    write_zip(iter_tree(tree), cold, workers=2, cache=DeflateCache(cache_root, 10**9))
    entries = [p for p in (cache_root / "zip-members").rglob("*") if p.is_file()]
    assert len(entries) == sum(1 for s in SIZES if s >= 256 * 1024)
    warm = tmp_path / "warm.zip"
    write_zip(iter_tree(tree), warm, workers=1, cache=DeflateCache(cache_root, 10**9))
    assert plain.read_bytes() == cold.read_bytes() == warm.read_bytes()
    damaged = max(entries, key=lambda p: p.stat().st_size)
    damaged.write_bytes(damaged.read_bytes()[:-10])
    again = tmp_path / "again.zip"
    write_zip(iter_tree(tree), again, workers=2, cache=DeflateCache(cache_root, 10**9))
    assert again.read_bytes() == plain.read_bytes()


def test_levels_change_size_not_content(tree: Path, tmp_path: Path) -> None:
    sizes = {}
    for level in (0, 1, 9):
        out = tmp_path / f"l{level}.zip"
        sizes[level] = write_zip(iter_tree(tree), out, level=level).size
        with zipfile.ZipFile(out) as archive:
            assert archive.testzip() is None
    assert sizes[0] > sizes[1] >= sizes[9]


def test_cache_cap_drops_least_recently_used_entries(tmp_path: Path) -> None:
    cache = DeflateCache(tmp_path / "cache", cap=3000)
    for index in range(5):
        cache.put(f"{index:02d}key", os.urandom(1000))
        os.utime(cache._path(f"{index:02d}key"), (index, index))
    members = [p for p in (tmp_path / "cache" / "zip-members").rglob("*") if p.is_file()]
    kept = sorted(p.name for p in members)
    assert sum(p.stat().st_size for p in members) <= 3000
    assert kept[-1] == "04key" and "00key" not in kept
