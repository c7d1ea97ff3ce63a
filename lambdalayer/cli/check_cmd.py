"""`lambdalayer check`: will this layer load on its target? (the native-extension audit)"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from lambdalayer.cli import cli
from lambdalayer.cli.options import target_options
from lambdalayer.cli.output import (
    for_people_on_a_terminal,
    human_console,
    marks,
    print_json,
    say,
)
from lambdalayer.cli.vulns import vuln_options
from lambdalayer.common.errors import EXIT_AUDIT, EXIT_VULNERABLE, Reported, UsageError
from lambdalayer.common.units import format_size

if TYPE_CHECKING:  # the audit is imported when the command runs, not for --help
    from lambdalayer.audit import AuditReport

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
_MAX_PATHS = 5


@cli.command("check")
@click.argument("source", metavar="PATH|ZIP|LAYER_ARN")
@target_options("Lambda runtime to check for", "the runtimes in the manifest beside the zip",
                "the manifest's, else x86_64")
@click.option("--allow", "allow", multiple=True, metavar="CODE",
              help="Do not fail on findings with this code (e.g. unverified-system-library); "
                   "repeatable. They are still reported.")
@click.option("--region", metavar="REGION",
              help="For a layer ARN: the region to call (default: the ARN's).")
@click.option("--profile", metavar="NAME", help="For a layer ARN: AWS profile to use.")
@click.option("--endpoint-url", metavar="URL",
              help="For a layer ARN: send AWS calls here (boto3 also reads AWS_ENDPOINT_URL).")
@vuln_options
@click.option("--sbom", "sbom", type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE", help="Also write the zip's (or the ARN's) CycloneDX SBOM to "
                                   "FILE (e.g. layer.cdx.json).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def check_command(source: str, runtimes: tuple[str, ...], archs: tuple[str, ...],
                  allow: tuple[str, ...], region: str | None, profile: str | None,
                  endpoint_url: str | None, vulns: bool, fail_on: str | None,
                  vuln_service: str | None, sbom: Path | None, as_json: bool) -> None:
    """Audit a layer directory, zip or published layer version for its targets.

    Looks inside every file: macOS/Windows binaries, Linux binaries for the other
    architecture, glibc/libstdc++ symbol versions newer than the runtime's OS,
    shared libraries neither bundled nor on the base image, extension file names
    the interpreter will not load, wheel tags, Lambda's size limits and file
    modes. Exits 4 when an error finding is not waived with --allow. A zip that
    `build` wrote is checked for the targets in its manifest (dist/NAME.json).

    \b
      lambdalayer check dist/pg8000.zip
      lambdalayer check dist/pg8000.zip --runtime python3.12 --arch x86_64
      lambdalayer check ./python --runtime python3.11 --arch arm64
      lambdalayer check arn:aws:lambda:us-east-1:123456789012:layer:x:3 --runtime python3.11
      lambdalayer check dist/pg8000.zip --vulns --fail-on high
      lambdalayer check arn:aws:lambda:us-east-1:123456789012:layer:x:3 --sbom x.cdx.json
    """
    from lambdalayer.project.checking import check_source

    if (fail_on or vuln_service) and not vulns:
        raise UsageError("--fail-on and --vuln-service go with --vulns: add --vulns.")
    if vulns and source.startswith("arn:"):
        raise UsageError("--vulns reads a layer zip or folder: download the layer first "
                         "(`lambdalayer check` of the ARN audits it) or check dist/NAME.zip.")
    allowed = frozenset(code.strip() for code in allow)
    report = check_source(source, runtimes=runtimes, archs=archs, allow=allowed, region=region,
                          profile=profile, endpoint_url=endpoint_url, sbom=sbom)
    from lambdalayer.cli.vulns import render_vulns, report_json, vuln_report

    vuln = vuln_report(Path(source), vuln_service) if vulns else None
    if as_json:
        print_json({
            "ok": report.ok,
            **({"vulns": report_json(vuln)} if vuln is not None else {}),
            "source": source,
            **({"sbom": str(sbom)} if sbom is not None else {}),
            "targets": list(report.targets),
            "allowed": sorted(allowed),
            "unzipped_size": report.unzipped_size,
            "zipped_size": report.zipped_size,
            "findings": [f.as_dict() for f in report.findings],
        })
    else:
        _render(source, report)
        if sbom is not None:
            say(f"wrote the SBOM {sbom}")
        if vuln is not None:
            render_vulns(source, vuln)
    if not report.ok:
        # Not an AuditError: the findings are the message, already rendered above.
        raise Reported(EXIT_AUDIT)
    if vuln is not None and vuln.failing(fail_on):
        raise Reported(EXIT_VULNERABLE)


def _plain(source: str, report: AuditReport) -> list[str]:
    """For a log or a pipe: one finding per line, each fix once per package."""
    lines = [f"lambdalayer check {source}"]
    ordered = sorted(report.findings, key=lambda f: (f.package is None, f.package or ""))
    for package, group in groupby(ordered, key=lambda f: f.package):
        lines.append(f"{package or '(layer)'}:")
        rows: dict[tuple[str, str, str], list[str]] = {}
        fixes: dict[str, None] = {}
        for finding in group:
            label = "allowed" if report.allowed(finding) else finding.severity
            rows.setdefault((label, finding.code, finding.summary()), []).append(
                finding.path or "-")
            if finding.fix:
                fixes[finding.fix] = None
        for (label, code, message), paths in rows.items():
            more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
            lines.append(f"  {label} {code} {paths[0]}{more}: {message}")
        lines.extend(f"  fix: {fix}" for fix in fixes)
    return lines


def _render(source: str, report: AuditReport) -> None:
    console = human_console()
    if report.findings and not for_people_on_a_terminal():
        for line in _plain(source, report):
            console.print(escape(line))
    elif report.findings:
        table = Table(title=f"lambdalayer check {escape(source)}", show_lines=True,
                      title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("code", no_wrap=True)
        table.add_column("file", overflow="fold", max_width=48)
        table.add_column("what happens on Lambda, and what to do", overflow="fold")
        ordered = sorted(report.findings, key=lambda f: (f.package is None, f.package or ""))
        for package, group in groupby(ordered, key=lambda f: f.package):
            table.add_section()
            table.add_row("", f"[bold]{escape(package or '(layer)')}[/]", "", "")
            # One row per distinct problem: nine macOS .dylib files of one package
            # share a message, and the user needs to read it once.
            rows: dict[tuple[str, str, str], list[str]] = {}
            for finding in group:
                label = "allowed" if report.allowed(finding) else finding.severity
                rows.setdefault((label, finding.code, finding.message), []).append(
                    finding.path or "-")
            for (label, code, message), paths in rows.items():
                shown = paths[:_MAX_PATHS]
                if len(paths) > _MAX_PATHS:
                    shown.append(f"... and {len(paths) - _MAX_PATHS} more")
                style = "dim" if label == "allowed" else _STYLE[label]
                table.add_row(f"[{style}]{label}[/]", escape(code),
                              escape("\n".join(shown)), escape(message))
        console.print(table)
    errors = len(report.errors)
    warnings = len(report.warnings)
    size = f"{report.files:,} files, {format_size(report.unzipped_size)} unzipped"
    targets = ", ".join(report.targets)
    passed, failed = marks()
    if errors:
        console.print(f"[bold red]{failed} {errors} error{'s' * (errors != 1)}[/], {warnings} "
                      f"warning{'s' * (warnings != 1)} for {escape(targets)} ({size}): this "
                      "layer would fail on Lambda.")
    else:
        console.print(f"[green]{passed} no errors[/], {warnings} "
                      f"warning{'s' * (warnings != 1)} for {escape(targets)} ({size}).")
