"""Audit speed against reading every file once, measured in one run.

    python bench/audit_bench.py [--repeat 5] [--tree DIR]

Builds (or reuses, with --tree) the numpy+pandas+pyarrow layer tree for
python3.12/x86_64 with `uv pip install --target`, then times, alternating so
that both see the same page cache:
- reading every file in the tree once (os.walk + read), the floor for any
  tool that looks at the layer's bytes;
- `audit_layer(tree, [python3.12/x86_64])`.
Goal: audit <= 1.5x the read. Prints medians and the ratio; exits 1
when the goal is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lambdalayer.audit import audit_layer
from lambdalayer.common.uvtool import uv_binary
from lambdalayer.targets.target import Target

GOAL = 1.5
TARGET = ("python3.12", "x86_64")


def build_tree(destination: Path) -> None:
    target = Target.parse(*TARGET)
    subprocess.run(
        [uv_binary(), "pip", "install", "--quiet", "--target", str(destination / "python"),
         "--python-version", target.runtime.python_version, "--python-platform",
         target.uv_platform, "--only-binary", ":all:", "numpy", "pandas", "pyarrow"],
        check=True)


def read_everything(root: Path) -> float:
    start = time.perf_counter()
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    total += len(chunk)
    elapsed = time.perf_counter() - start
    assert total > 0
    return elapsed


def audit(root: Path) -> float:
    start = time.perf_counter()
    audit_layer(root, [Target.parse(*TARGET)])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", type=Path, help="Reuse (or create) the layer tree here.")
    args = parser.parse_args()
    root = args.tree or Path(tempfile.mkdtemp(prefix="lambdalayer-audit-bench-"))
    if not (root / "python").is_dir():
        build_tree(root)
    files = sum(len(names) for _, _, names in os.walk(root))
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    read_everything(root)  # warm the page cache for both
    audit(root)  # ... and the imports (pyelftools) for the audit
    reads, audits = [], []
    for _ in range(args.repeat):
        reads.append(read_everything(root))
        audits.append(audit(root))
    read_median = statistics.median(reads)
    audit_median = statistics.median(audits)
    ratio = audit_median / read_median
    print(f"tree: {root} ({files:,} files, {size / 1e6:.0f} MB)")
    print(f"read every file once: median {read_median:.3f} s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in reads)})")
    print(f"audit_layer:          median {audit_median:.3f} s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in audits)})")
    verdict = "ok" if ratio <= GOAL else "MISSED"
    print(f"ratio audit/read: {ratio:.2f}x (goal <= {GOAL}x): {verdict}")
    sys.exit(0 if ratio <= GOAL else 1)


if __name__ == "__main__":
    main()
