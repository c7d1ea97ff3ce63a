"""`lambdalayer runtimes`: the targets we know, and where Lambda's deprecation of each stands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.output import (
    for_people_on_a_terminal,
    human_console,
    print_json,
    say,
    tell,
)
from lambdalayer.targets.runtimes import (
    LIFECYCLE_FIELDS,
    Runtime,
    RuntimeTable,
    load_runtime_table,
)

_PHASE_STYLE = {"supported": "green", "deprecated": "yellow", "create blocked": "red",
                "update blocked": "red"}


def _dates(runtime: Runtime) -> dict[str, str | None]:
    return {field: (None if getattr(runtime, field) is None
                    else getattr(runtime, field).isoformat()) for field in LIFECYCLE_FIELDS}


def _shown(runtime: Runtime, field: str) -> str:
    """A date for the table; '?' marks one not checked against AWS's table."""
    day = getattr(runtime, field)
    if day is None:
        return "-"
    return f"{day}?" if field in runtime.unverified else str(day)


@cli.command("runtimes")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def runtimes_command(as_json: bool) -> None:
    """List the Lambda Python runtimes: OS, glibc, architectures, and each one's phase.

    A phase is supported, deprecated (no more patches; not a default target),
    create blocked or update blocked, from AWS's runtime table (the dates and
    their sources are in lambdalayer/targets/runtimes.toml). A Python runtime
    that botocore's Lambda model lists and the table lacks is reported.
    """
    from lambdalayer.targets.lambda_model import (
        botocore_lambda_model,
        missing_python_runtimes,
        model_runtimes,
        note_for,
    )

    table = load_runtime_table()
    today = dt.date.today()
    model = botocore_lambda_model()
    missing = missing_python_runtimes(model_runtimes(model) if model else [], table.runtimes)
    rows: list[dict[str, Any]] = [
        {
            "runtime": r.name,
            "python": r.python_version,
            "os": r.os.name,
            "glibc": ".".join(map(str, r.os.glibc)),
            "architectures": list(table.architectures),
            **_dates(r),
            "unverified": list(r.unverified),
            "source": r.source,
            "phase": r.phase(today),
            "is_deprecated": r.is_deprecated(today),
            "default_target": not r.is_deprecated(today),
        }
        for r in table.runtimes.values()
    ]
    if as_json:
        print_json({"today": today.isoformat(), "runtimes": rows,
                    "not_in_table": missing})
        return
    _render(table, rows, today)
    if any(r.unverified for r in table.runtimes.values()):
        say("? = not checked against AWS's runtime table; see the sources in runtimes.toml.")
    note = note_for(missing)
    if note:
        tell(note)


def _render(table: RuntimeTable, rows: list[dict[str, Any]], today: dt.date) -> None:
    """A table on a terminal; one aligned plain line per runtime in a log."""
    if for_people_on_a_terminal():
        from rich.markup import escape  # only for a terminal: a log's lines need no rich
        from rich.table import Table

        out = Table(title=f"Lambda Python runtimes on {today}")
        for column in ("runtime", "OS", "glibc", "architectures", "phase", "deprecated",
                       "create blocked", "update blocked"):
            out.add_column(column, no_wrap=column not in ("OS", "phase"))
        for r, row in zip(table.runtimes.values(), rows, strict=True):
            phase = row["phase"]
            out.add_row(r.name, r.os.name, row["glibc"], ", ".join(row["architectures"]),
                        f"[{_PHASE_STYLE[phase]}]{phase}[/]",
                        *(escape(_shown(r, field)) for field in LIFECYCLE_FIELDS))
        human_console().print(out)
    else:
        # Read in logs: one plain line per runtime, never squeezed to a terminal's width.
        click.echo(f"Lambda Python runtimes on {today}:")
        width = max(len(name) for name in table.runtimes)
        systems = [f"{r.os.name} (glibc {row['glibc']}; {', '.join(row['architectures'])})"
                   for r, row in zip(table.runtimes.values(), rows, strict=True)]
        os_width = max(len(system) for system in systems)  # AL2 and AL2023 rows line up
        phase_width = max(len(row["phase"]) for row in rows)
        for r, row, system in zip(table.runtimes.values(), rows, systems, strict=True):
            dates = ", ".join(f"{field.replace('_', ' ')} {_shown(r, field)}"
                              for field in LIFECYCLE_FIELDS if getattr(r, field))
            line = f"{r.name:<{width}}  {system:<{os_width}}  {row['phase']:<{phase_width}}"
            click.echo((line + (f"  [{dates}]" if dates else "")).rstrip())
