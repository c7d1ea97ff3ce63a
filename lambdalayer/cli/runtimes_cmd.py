"""`lambdalayer runtimes`: the targets we know."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from lambdalayer.cli import cli
from lambdalayer.cli.output import human_console, print_json
from lambdalayer.targets.runtimes import load_runtime_table


@cli.command("runtimes")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def runtimes_command(as_json: bool) -> None:
    """List the Lambda Python runtimes: OS, glibc, architectures, deprecation."""
    table = load_runtime_table()
    rows: list[dict[str, Any]] = [
        {
            "runtime": r.name,
            "python": r.python_version,
            "os": r.os.name,
            "glibc": ".".join(map(str, r.os.glibc)),
            "architectures": list(table.architectures),
            "deprecated": r.deprecated.isoformat() if r.deprecated else None,
            "is_deprecated": r.is_deprecated(),
        }
        for r in table.runtimes.values()
    ]
    if as_json:
        print_json({"runtimes": rows})
        return
    out = Table(title="Lambda Python runtimes")
    for column in ("runtime", "OS", "glibc", "architectures", "deprecated"):
        out.add_column(column)
    for row in rows:
        deprecated = row["deprecated"] or "-"
        if row["is_deprecated"]:
            deprecated = f"[yellow]{deprecated} (deprecated)[/]"
        out.add_row(row["runtime"], row["os"], row["glibc"], ", ".join(row["architectures"]),
                    deprecated)
    human_console().print(out)
