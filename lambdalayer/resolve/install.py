"""Lay resolved wheels out as a Lambda layer tree.

uv installs by hard-linking files from its cache where it can, so files in a
tree may be shared with the cache: never modify one in place; write a new
file and rename it over the old one.

Lambda puts `/opt/python` and `/opt/python/lib/pythonX.Y/site-packages` on
sys.path (docs/lambda-facts.md). A tree valid for every runtime goes to `python/`;
trees that differ per runtime go to each runtime's own site-packages.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Installer leftovers no import needs: console scripts (Lambda never runs them
# and their shebangs name the build host's interpreter), uv's lock file, and
# bytecode compiled by the host's Python (wrong magic for other runtimes).
_DROPPED_TOP_LEVEL = frozenset({"bin", ".lock"})
_DROPPED_DIRS = frozenset({"__pycache__"})
_DROPPED_SUFFIXES = (".pyc", ".pyo")


def lay_out(resolved_tree: Path, layer_root: Path, prefix: str) -> Path:
    """Move `resolved_tree`'s contents to `layer_root/prefix`, dropping installer leftovers.

    Returns the directory the packages now live in. `resolved_tree` is consumed.
    """
    destination = layer_root / prefix
    destination.mkdir(parents=True, exist_ok=True)
    for entry in sorted(resolved_tree.iterdir()):
        if entry.name in _DROPPED_TOP_LEVEL:
            continue
        shutil.move(str(entry), destination / entry.name)
    for dirpath, dirnames, filenames in os.walk(destination):
        for name in [d for d in dirnames if d in _DROPPED_DIRS]:
            shutil.rmtree(Path(dirpath, name))
            dirnames.remove(name)
        for name in filenames:
            if name.endswith(_DROPPED_SUFFIXES):
                Path(dirpath, name).unlink()
    return destination
