"""Where a layer's bytes go: per-package sizes and the largest files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lambdalayer.distinfo import InstalledDist

# Lambda's limits (DESIGN.md §2): function + layers unzipped, and direct upload.
UNZIPPED_LIMIT = 262_144_000
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class PackageSize:
    name: str
    version: str
    size: int
    files: int


@dataclass(frozen=True, kw_only=True)
class SizeReport:
    total: int
    packages: tuple[PackageSize, ...]  # largest first; "(other)" holds unowned files
    largest_files: tuple[tuple[str, int], ...]


def measure(layer_root: Path, site_dirs: dict[Path, list[InstalledDist]],
            top: int = 5) -> SizeReport:
    """Sizes of everything below `layer_root`, attributed to packages through RECORD."""
    sizes: dict[str, int] = {}
    for dirpath, _dirs, filenames in os.walk(layer_root):
        for filename in filenames:
            path = Path(dirpath, filename)
            sizes[path.relative_to(layer_root).as_posix()] = path.stat().st_size
    owned: dict[tuple[str, str], tuple[int, int]] = {}
    claimed: set[str] = set()
    for site_dir, dists in site_dirs.items():
        prefix = PurePosixPath(site_dir.relative_to(layer_root).as_posix())
        for dist in dists:
            total, count = owned.get((dist.display_name, dist.version), (0, 0))
            for record_path in dist.files:
                key = str(prefix / record_path)
                if key in sizes and key not in claimed:
                    claimed.add(key)
                    total += sizes[key]
                    count += 1
            owned[(dist.display_name, dist.version)] = (total, count)
    packages = [PackageSize(name=n, version=v, size=s, files=c) for (n, v), (s, c) in owned.items()]
    other = [path for path in sizes if path not in claimed]
    if other:
        packages.append(PackageSize(name="(other)", version="", files=len(other),
                                    size=sum(sizes[p] for p in other)))
    packages.sort(key=lambda p: (-p.size, p.name))
    largest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:top]
    return SizeReport(total=sum(sizes.values()), packages=tuple(packages),
                      largest_files=tuple(largest))
