"""`--vulns`, `--fail-on`, `--vuln-service` for `check` and `build`: ask OSV about each
distribution of a layer and render the answer (supply/osv.py does the asking)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from lambdalayer.cli.output import human_console
from lambdalayer.supply.osv import VulnReport

F = TypeVar("F", bound=Callable[..., Any])
SERVICE_ENV = "LAMBDALAYER_VULN_SERVICE"


def vuln_options(command: F) -> F:
    """The three options, in the order --help shows them."""
    for option in reversed((
        click.option("--vulns", is_flag=True,
                     help="Ask OSV (the database pip-audit and osv-scanner use) about every "
                          "distribution's exact version; list each known vulnerability "
                          "with its fixed versions and a fix line."),
        click.option("--fail-on", "fail_on", type=click.Choice(["any", "high", "critical"]),
                     help="With --vulns: exit 9 when a vulnerability of this severity or "
                          "worse ships (any: every one). Default: report only."),
        click.option("--vuln-service", "vuln_service", metavar="URL",
                     help="OSV-compatible service to ask (a mirror); default "
                          f"${SERVICE_ENV}, else https://api.osv.dev."),
    )):
        command = option(command)
    return command


def vuln_report(source: Path, service: str | None) -> VulnReport:
    """The vulnerabilities of the layer zip or folder `source` (one core call each)."""
    from lambdalayer.common.cache import usable_root
    from lambdalayer.supply.inventory import layer_distributions
    from lambdalayer.supply.osv import DEFAULT_SERVICE, query

    shipped = layer_distributions(source)
    return query([(d.name, d.version) for d in shipped],
                 service=service or os.environ.get(SERVICE_ENV) or DEFAULT_SERVICE,
                 cache_root=usable_root())


def report_json(report: VulnReport) -> dict[str, Any]:
    return {"service": report.service, "problem": report.problem,
            "checked": len(report.asked), "fixes": list(report.fixes),
            "vulnerabilities": [{"package": a.package, "version": a.version, "id": a.id,
                                 "aliases": list(a.aliases), "severity": a.severity,
                                 "fixed": list(a.fixed), "summary": a.summary}
                                for a in report.advisories]}


def render_vulns(label: str, report: VulnReport, *, stderr: bool = False) -> None:
    """One line per advisory, then the fix line that removes them all."""
    console = human_console() if not stderr else _stderr()
    if report.problem:
        console.print(escape(report.problem))
        return
    if not report.advisories:
        console.print(f"No known vulnerabilities in {escape(label)} "
                      f"({len(report.asked)} distributions asked of {escape(report.service)}).")
        return
    console.print(f"{len(report.advisories)} known vulnerabilit"
                  f"{'y' if len(report.advisories) == 1 else 'ies'} in {escape(label)}:")
    for a in report.advisories:
        aliases = f" ({', '.join(a.aliases)})" if a.aliases else ""
        fixed = f"fixed in {', '.join(a.fixed)}" if a.fixed else "no fixed version yet"
        console.print(escape(f"  {a.package} {a.version}: {a.id}{aliases}, {a.severity}, "
                             f"{fixed}: {a.summary}"))
    if report.fixes:
        console.print("  fix: " + escape(" ".join(f"-p '{fix}'" for fix in report.fixes)))


def _stderr() -> Any:
    from lambdalayer.cli.output import error_console

    return error_console()
