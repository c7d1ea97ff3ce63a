"""The progress callback every long step accepts: one short line of what it is doing now."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
