"""Names that are one file on macOS and Windows but two on Lambda.

APFS, HFS+ and NTFS compare names case-insensitively and (HFS+, APFS lookups)
by Unicode normalisation, so `Foo.py` and `foo.py`, or an NFC and an NFD
spelling of `café.py`, are a single file there: an install on such a host keeps
one and silently loses the other, and extracting the zip there does the same.
Lambda's file system is case-sensitive, so the layer would differ by host.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def fold(name: str) -> str:
    """The key under which a case-insensitive, normalising file system compares `name`."""
    return unicodedata.normalize("NFC", name).casefold()


def collisions(names: Iterable[str]) -> list[tuple[str, ...]]:
    """Groups of two or more distinct names that such a file system takes for one, sorted."""
    groups: dict[str, set[str]] = {}
    for name in names:
        groups.setdefault(fold(name), set()).add(name)
    return sorted(tuple(sorted(group)) for group in groups.values() if len(group) > 1)
