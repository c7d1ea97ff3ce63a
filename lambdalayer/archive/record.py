"""Make every `*.dist-info/RECORD` in a layer describe what the layer ships.

An installer lists in RECORD everything it wrote, with hashes: console scripts
in `bin/` (whose shebang names the installing interpreter, so their hashes
differ from host to host), bytecode, and files a later step rewrote
(`--strip`). The layer drops or changes some of those, and a RECORD that still
names them makes the zip depend on the build host. So after the tree is final,
each RECORD keeps only the rows of files that are really there, with their
current hash and size (PEP 376 / the wheel spec's RECORD format), in the
installer's order; its own row stays hash-less.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from lambdalayer.common.fileio import replace_retrying


def _hash_row(path: Path, size: int) -> tuple[str, str]:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), str(size)


class _Shipped:
    """Which RECORD rows name a regular file that is really below `site` (not a symlink,
    not reached through a symlinked directory that leads out). Each directory is
    resolved once: a tree of five runtimes has thousands of rows in a few directories."""

    def __init__(self, site: Path, walked: Mapping[str, os.stat_result] | None = None,
                 prefix: str = "") -> None:
        self._site = site
        self._root = os.path.realpath(site)
        self._inside: dict[str, bool] = {}
        self._walked = walked or {}
        self._prefix = prefix

    def size(self, name: str) -> int | None:
        """The file's size when the row's file ships, else None."""
        parent, _, leaf = name.rpartition("/")
        if name.startswith("/") or not leaf or ".." in name.split("/"):
            return None  # a path that can only point outside (or at a directory)
        # Found by the walk: below `site` through real folders only, so inside it; its
        # lstat as this would take it (a RECORD may be rewritten since: asked anew).
        info = (self._walked.get(self._prefix + name.replace("/", os.sep))
                if not name.endswith("RECORD") else None)
        if info is not None:
            return info.st_size if stat.S_ISREG(info.st_mode) else None
        inside = self._inside.get(parent)
        if inside is None:
            real = os.path.realpath(self._site / parent)
            inside = real == self._root or real.startswith(self._root + os.sep)
            self._inside[parent] = inside
        if not inside:
            return None
        try:
            info = os.lstat(self._site / name)
        except OSError:
            return None  # dropped by the layout or the size options: not shipped
        return info.st_size if stat.S_ISREG(info.st_mode) else None


def _rewritten(record: Path, site: Path, shipped: _Shipped) -> str:
    """RECORD's new text: rows of files present below `site`, hashes refreshed when the
    size changed (a stripped .so) or the row had none."""
    text = record.read_text("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    own = record.relative_to(site).as_posix()
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        name = row[0]
        if name == own:
            writer.writerow([own, "", ""])
            continue
        size = shipped.size(name)
        if size is None:
            continue  # not shipped: dropped, a symlink, or outside the site
        recorded_size = row[2] if len(row) > 2 else ""
        if len(row) < 3 or not row[1] or recorded_size != str(size):
            writer.writerow([name, *_hash_row(site / name, size)])
        else:
            writer.writerow(row[:3])
    return out.getvalue()


def rewrite_records(site: Path, walked: dict[str, os.stat_result] | None = None,
                    prefix: str = "") -> int:
    """Rewrite the RECORD of every dist-info directly below `site`; how many changed.

    Each is written to a new file renamed over the old one: the tree may share
    files with uv's cache through hard links (install.py). `walked`: what
    common/fileio.tree_stats found in the folder holding `site` at `prefix` ("python/"),
    read instead of asking for each file again, and updated for each RECORD rewritten.
    """
    changed = 0
    shipped = _Shipped(site, walked, prefix)
    for record in sorted(site.glob("*.dist-info/RECORD")):
        new = _rewritten(record, site, shipped)
        if new.encode("utf-8") == record.read_bytes():
            continue
        temporary = record.with_name(".RECORD.tmp")
        temporary.write_text(new, encoding="utf-8", newline="")
        replace_retrying(temporary, record)
        changed += 1
        if walked is not None:
            key = prefix + record.relative_to(site).as_posix().replace("/", os.sep)
            walked[key] = os.lstat(record)
    return changed
