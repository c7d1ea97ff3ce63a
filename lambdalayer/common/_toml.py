"""TOML loading for Python 3.10 (tomli) and 3.11+ (tomllib)."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib as toml_reader
else:  # pragma: no cover - exercised on 3.10 hosts only
    import tomli as toml_reader

TOMLDecodeError = toml_reader.TOMLDecodeError
loads = toml_reader.loads

__all__ = ["TOMLDecodeError", "loads"]
