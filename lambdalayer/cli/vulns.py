"""`--vulns`, `--fail-on`, `--vuln-service` for `check` and `build`: ask OSV about each
distribution of a layer and render the answer (supply/osv.py does the asking)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lambdalayer.cli.output import human_console

if TYPE_CHECKING:  # neither rich nor packaging for --help or a plain build's summary
    from lambdalayer.supply.osv import VulnReport

F = TypeVar("F", bound=Callable[..., Any])
SERVICE_ENV = "LAMBDALAYER_VULN_SERVICE"


_ASK = ("Ask OSV (the database pip-audit and osv-scanner use) about every distribution's "
        "exact version; list each known vulnerability with its fixed versions and a fix line.")


def vuln_options(command: F) -> F:
    """The three options of `check`, in the order --help shows them."""
    return _with_options(command, click.option("--vulns", is_flag=True, help=_ASK))


def build_vuln_options(command: F) -> F:
    """`build`'s: --vulns/--no-vulns (None: not given; the config decides), then the same."""
    return _with_options(command, click.option(
        "--vulns/--no-vulns", "vulns", default=None,
        help=_ASK + " Asked once the zip, SBOM and manifest are written, and recorded in "
                    "the manifest. Also `vulns = true` in the config, or LAMBDALAYER_VULNS=1."))


def _with_options(command: F, vulns: Callable[[F], F]) -> F:
    for option in reversed((
        vulns,
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
    """The vulnerabilities of the layer zip or folder `source` (one core call)."""
    from lambdalayer.project.supply_checks import layer_vulns

    return layer_vulns(source, service)


def report_json(report: VulnReport) -> dict[str, Any]:
    return report.as_dict()


def render_vulns(label: str, report: VulnReport, *, stderr: bool = False) -> None:
    """One line per advisory, then the fix line that removes them all: results, on stdout
    (stderr with --json); why the service was not asked goes to stderr."""
    from rich.markup import escape

    console = human_console() if not stderr else _stderr()
    if report.problem:  # a diagnostic, not a result: stderr, as progress and warnings
        _stderr().print(escape(report.problem))
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
