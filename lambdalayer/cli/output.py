"""Rendering: results on stdout, progress and diagnostics on stderr (as uv, git, pip).

Results (listings, reports, diffs, the build summary) go to stdout whether or
not it is a terminal, so piping `lambdalayer recipes` into wc counts recipes. Progress
("… resolving"), warnings and errors go to stderr. With `--json` the JSON
document is stdout's only content and people's results move to stderr
(`json_given`). rich is imported only when something is rendered with it:
`--help` and an up-to-date build skip it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from lambdalayer.common.errors import LambdaLayerError
from lambdalayer.common.redact import redact_text

if TYPE_CHECKING:
    from rich.console import Console

JSON_SCHEMA = 1

# Set once by main() when the command line has --json: results for people then go
# to stderr, leaving stdout to the one JSON document.
_json_given = False


def json_given() -> None:
    """--json was given: stdout carries only the JSON document from now on."""
    global _json_given
    _json_given = True


def results_stream() -> Any:
    """Where results for people go: stdout, or stderr under --json."""
    return sys.stderr if _json_given else sys.stdout


def _tolerant_streams() -> None:
    """A console that cannot encode a character (a Windows code page) shows '?' rather than
    crashing the command with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def can_print(text: str, stream: object = None) -> bool:
    """Whether `stream` (default: where human output goes) can encode `text`."""
    stream = stream or results_stream()
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def marks() -> tuple[str, str]:
    """(pass, fail) marks: ✓ and ✗, or ASCII where the console cannot print those."""
    return ("✓", "✗") if can_print("✓✗") else ("OK", "X")


# Width for output that is not a terminal (a CI log, a pipe): rich would assume 80
# columns and fold every command we print over several rows. COLUMNS still wins.
LOG_WIDTH = 240


def _width(stream: object) -> int | None:
    isatty = getattr(stream, "isatty", None)
    if (callable(isatty) and isatty()) or os.environ.get("COLUMNS"):
        return None  # rich measures the terminal, or reads COLUMNS
    return LOG_WIDTH


def human_console() -> Console:
    """The console for results: stdout (stderr under --json)."""
    from rich.console import Console

    _tolerant_streams()
    return Console(stderr=_json_given, highlight=False, soft_wrap=True,
                   width=_width(results_stream()))


def error_console() -> Console:
    """The console for progress, warnings and errors: always stderr."""
    from rich.console import Console

    _tolerant_streams()
    return Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


def for_people_on_a_terminal() -> bool:
    """Whether results reach a terminal (tables) or a log or pipe (plain lines)."""
    isatty = getattr(results_stream(), "isatty", None)
    return bool(callable(isatty) and isatty())


def say(message: str) -> None:
    """One plain line of results, without loading rich (stdout; stderr under --json)."""
    _tolerant_streams()
    click.echo(redact_text(message), err=_json_given)


def tell(message: str) -> None:
    """One plain line of progress or a warning, without loading rich (always stderr)."""
    _tolerant_streams()
    click.echo(redact_text(message), err=True)


def print_json(document: dict[str, Any]) -> None:
    """Print one JSON document with `"schema": 1` on stdout."""
    # Userinfo in any URL (an index token, a direct reference) never reaches stdout.
    text = json.dumps({"schema": JSON_SCHEMA, **document}, indent=2)
    sys.stdout.write(redact_text(text) + "\n")
    sys.stdout.flush()


def emit_error(err: LambdaLayerError, *, want_json: bool, verbose: bool = False) -> None:
    """Show a user-facing failure: one paragraph, never a traceback; its per-item
    details (every audit finding) in the JSON document and with --verbose."""
    from rich.markup import escape

    if want_json:
        document: dict[str, Any] = {"exit_code": err.exit_code, "type": type(err).__name__,
                                    "message": redact_text(str(err))}
        if err.details:
            document["findings"] = list(err.details)
        print_json({"error": document})
    console = error_console()
    console.print(f"[bold red]error:[/] {escape(redact_text(str(err)))}")
    if verbose:
        for item in err.details:
            evidence = f" ({item['evidence']})" if item.get("evidence") else ""
            console.print(escape(f"  {item.get('severity')} {item.get('code')} "
                                 f"{item.get('path')}: {item.get('message')}{evidence}"))


