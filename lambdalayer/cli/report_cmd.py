"""`lambdalayer report ZIP|DIR -o FILE.html`: a self-contained HTML picture of a layer."""

from __future__ import annotations

from pathlib import Path

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import target_options
from lambdalayer.cli.output import print_json, say
from lambdalayer.cli.vulns import vuln_options
from lambdalayer.common.units import format_size


@cli.command("report")
@click.argument("source", metavar="ZIP|DIR", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, metavar="FILE.html",
              type=click.Path(path_type=Path),  # judged by check_report_file
              help="Where to write the page (one file: inline CSS, SVG and JS).")
@target_options("Runtime to audit for", "the zip's manifest's", "x86_64",
                arch_needs_runtime=True)
@click.option("--sbom", "sbom", type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE", help="Also write the zip's CycloneDX SBOM to FILE.")
@vuln_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def report_command(source: Path, output: Path, runtimes: tuple[str, ...],
                   archs: tuple[str, ...], sbom: Path | None, vulns: bool,
                   fail_on: str | None, vuln_service: str | None, as_json: bool) -> None:
    """Write one HTML page about a layer: a treemap of the unzipped size by package,
    directory and file (zipped sizes on hover), the targets, the audit findings and
    what --slim/--strip/--exclude would save, each distribution's licence and the
    known vulnerabilities (asked now with --vulns, else those `build --vulns` recorded
    in the manifest). The page opens offline and makes no request.

    \b
      lambdalayer report dist/pg8000.zip -o pg8000.html
      lambdalayer report ./layer --runtime python3.12 --arch arm64 -o layer.html
      lambdalayer report dist/pg8000.zip -o pg8000.html --sbom pg8000.cdx.json
      lambdalayer report dist/pg8000.zip -o pg8000.html --vulns
    """
    from lambdalayer.common.cache import cache_root
    from lambdalayer.common.errors import EXIT_VULNERABLE, Reported, UsageError
    from lambdalayer.common.safepaths import Protected, check_report_file
    from lambdalayer.reports.html_report import make_report, write_report
    from lambdalayer.targets.target import expand_targets

    # Before the (slow) measuring: a bad -o fails at once.
    check_report_file(output, Protected.make(cache=cache_root()), option="-o")
    if (fail_on or vuln_service) and not vulns:
        raise UsageError("--fail-on and --vuln-service go with --vulns: add --vulns.")
    if sbom is not None:
        from lambdalayer.common.safepaths import check_writable

        check_writable(sbom, option="--sbom", want_dir=False)
    targets = expand_targets(list(runtimes), list(archs or ("x86_64",))) if runtimes else None
    if sbom is not None:  # first: a folder is refused before the slow part
        from lambdalayer.project.checking import existing_sbom

        existing_sbom(source, sbom, targets or [], name=None)
    report = make_report(source, targets)  # first: an unreadable layer is its usage error
    asked = None
    if vulns:
        import dataclasses

        from lambdalayer.cli.vulns import vuln_report

        asked = vuln_report(source, vuln_service)
        report = dataclasses.replace(report, vulns=asked.as_dict())
    write_report(report, output)
    if as_json:
        print_json({"report": str(output), "source": str(source), "unzipped_size": report.total,
                    "zipped_size": report.zipped_total, "packages": len(report.packages),
                    "findings": len(report.findings),
                    **({"sbom": str(sbom)} if sbom is not None else {}),
                    **({"vulns": asked.as_dict()} if asked is not None else {})})
    else:
        say(f"wrote {output}: {format_size(report.total)} unzipped in "
            f"{len(report.packages)} package(s), {len(report.findings)} finding(s)")
        if asked is not None:
            from lambdalayer.cli.vulns import render_vulns

            render_vulns(str(source), asked)
    if asked is not None and asked.failing(fail_on):
        raise Reported(EXIT_VULNERABLE)
