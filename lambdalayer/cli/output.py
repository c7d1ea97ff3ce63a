"""Rendering: JSON documents on stdout, human output through rich.

Human output goes to stdout when it is a terminal and to stderr otherwise, so
`--json` (and pipes) always get a clean stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from lambdalayer.errors import LambdaLayerError

JSON_SCHEMA = 1


def human_console() -> Console:
    """The console for people: stdout on a TTY, stderr otherwise (and always with --json)."""
    return Console(stderr=not sys.stdout.isatty(), highlight=False, soft_wrap=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(document: dict[str, Any]) -> None:
    """Print one JSON document with `"schema": 1` on stdout."""
    sys.stdout.write(json.dumps({"schema": JSON_SCHEMA, **document}, indent=2) + "\n")
    sys.stdout.flush()


def emit_error(err: LambdaLayerError, *, want_json: bool) -> None:
    """Show a user-facing failure: one paragraph, never a traceback."""
    if want_json:
        print_json({"error": {"exit_code": err.exit_code, "type": type(err).__name__,
                              "message": str(err)}})
    error_console().print(f"[bold red]error:[/] {err}", markup=True, highlight=False)


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
