"""Sizes of a layer tree on disk, attributed to packages through their dist-info RECORDs.

The one place `diff` and `report` measure a tree: it finds the layer's import
roots (python/ and python/lib/pythonX.Y/site-packages), reads the installed
distributions there and hands them to `sizing.measure`, the same
attribution `build` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common.distinfo import InstalledDist, read_installed, run_budget
from lambdalayer.reports.sizing import SizeReport, measure

_SITE_GLOB = "python/lib/python*/site-packages"


@dataclass(frozen=True, kw_only=True)
class LayerSizes:
    root: Path  # the layer root (holding python/)
    sizes: SizeReport
    site_dirs: dict[Path, list[InstalledDist]]


def layer_root(path: Path) -> Path:
    """`path`, or its parent when the user passed the layer's python/ directory."""
    if path.name == "python" and not (path / "python").is_dir():
        return path.parent
    return path


def measure_layer(path: Path, top: int = 5) -> LayerSizes:
    """Measure the layer at `path` (its root or its python/ directory)."""
    root = layer_root(path)
    budget = run_budget()  # one for all RECORDs of the layer
    site_dirs = {site: read_installed(site, budget)
                 for site in [root / "python", *sorted(root.glob(_SITE_GLOB))]
                 if site.is_dir()}
    return LayerSizes(root=root, sizes=measure(root, site_dirs, top), site_dirs=site_dirs)
