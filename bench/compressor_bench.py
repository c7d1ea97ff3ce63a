"""Which deflate should write layer zips? Measured in one run.

    python bench/compressor_bench.py [--repeat 3] [--packages numpy pandas]

On one installed tree (python3.12 x86_64 wheels, uv's cache warm after the first
run) it times, alternating so noise hits all alike, and prints medians, sizes and
ratios against today's writer:

1. today's writer: `write_zip` (CPython's zlib, level 6, files and 1 MiB pieces
   deflated in parallel threads, no member cache);
2. Info-ZIP `zip -r -X -6` on the same tree (one thread);
3. libdeflate through the `deflate` binding from PyPI, when importable (install it
   into the bench's environment only; it is not a dependency): every file
   compressed whole at level 6 in the same thread pool. Not a zip: the time and
   the total compressed size are what a libdeflate writer could at best reach.
   libdeflate has no streaming API (no preset dictionary, no sync flush), so a big
   file cannot be split into pieces the way write_zip does.
It also prints each compressor's known-answer digest (lambdalayer/archive/compressor.py):
the same digest on two hosts means the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lambdalayer.archive.compressor import _sample, implementation, output_digest
from lambdalayer.archive.zipwriter import iter_tree, write_zip
from lambdalayer.common.uvtool import uv_binary


def install(dest: Path, packages: list[str]) -> None:
    subprocess.run(
        [uv_binary(), "pip", "install", "--target", str(dest), "--python-platform",
         "x86_64-manylinux_2_34", "--python-version", "3.12", "--only-binary", ":all:",
         "--python", sys.executable, "-q", *packages], check=True, capture_output=True)
    shutil.rmtree(dest / "bin", ignore_errors=True)


def libdeflate_all(tree: Path, workers: int) -> int:
    import deflate  # type: ignore[import-not-found]

    files = [path for _, path in iter_tree(tree)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(lambda p: len(deflate.deflate_compress(p.read_bytes(), 6)), files))


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--packages", nargs="+", default=["numpy", "pandas"])
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    try:
        import deflate

        have_libdeflate = True
    except ImportError:
        have_libdeflate = False
    with tempfile.TemporaryDirectory(prefix="compressor-bench-") as scratch:
        tree, out = Path(scratch, "tree"), Path(scratch, "out")
        out.mkdir()
        install(tree, args.packages)
        raw = sum(p.stat().st_size for _, p in iter_tree(tree))
        runs: dict[str, Callable[[], int]] = {
            "write_zip (zlib, today)": lambda: write_zip(
                iter_tree(tree), out / "ours.zip", workers=workers).size,
            "Info-ZIP zip -X -6": lambda: (subprocess.run(
                ["zip", "-q", "-r", "-X", "-6", str(out / "info.zip"), "."], cwd=tree,
                check=True), (out / "info.zip").stat().st_size)[1],
        }
        if have_libdeflate:
            runs["libdeflate (deflate binding)"] = lambda: libdeflate_all(tree, workers)
        times: dict[str, list[float]] = {name: [] for name in runs}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, action in runs.items():
                (out / "info.zip").unlink(missing_ok=True)
                seconds, size = timed(action)
                times[name].append(seconds)
                sizes[name] = int(size)  # type: ignore[call-overload]
    base = "write_zip (zlib, today)"
    print(f"tree: {' '.join(args.packages)} for python3.12 x86_64, {raw / 1e6:.1f} MB, "
          f"{workers} worker(s), {args.repeat} run(s) each")
    for name in runs:
        median = statistics.median(times[name])
        print(f"{name:32} median {median:6.2f} s  ({median / statistics.median(times[base]):.2f}x)"
              f"  size {sizes[name] / 1e6:7.2f} MB ({sizes[name] / sizes[base]:.3f}x)")
    print(f"known answer: {implementation()} level 6 -> {output_digest(6)}")
    if have_libdeflate:
        import deflate

        digest = hashlib.sha256(deflate.deflate_compress(_sample(), 6)).hexdigest()[:16]
        print(f"known answer: libdeflate (deflate {getattr(deflate, '__version__', '?')}) "
              f"level 6 -> {digest}")
    print(f"zlib module: {zlib.ZLIB_RUNTIME_VERSION}")


if __name__ == "__main__":
    main()
