"""The interpreters a project config names, as a value carried on the build request.

Kept apart from find.py (which imports the launchers and probes) so that the request
types, imported on every command's start-up path, stay cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfiguredInterpreters:
    """Explicit interpreters from the project config ([tool.lambdalayer.interpreters]):
    (X.Y, machine) -> (path, where it was named). Frozen and hashable, so find_for's
    cache keys on it; the LAMBDALAYER_PYTHON_X_Y_ARCH variables sit above it, as the
    environment does elsewhere."""

    choices: tuple[tuple[tuple[str, str], tuple[Path, str]], ...] = ()

    @classmethod
    def of(cls, chosen: Mapping[tuple[str, str], tuple[Path, str]]) -> ConfiguredInterpreters:
        """From (X.Y, machine) -> (path, where it was named)."""
        return cls(choices=tuple(sorted(chosen.items(), key=lambda item: item[0])))

    def get(self, version: str, machine: str) -> tuple[Path, str] | None:
        return dict(self.choices).get((version, machine))


NOTHING_CONFIGURED = ConfiguredInterpreters()
