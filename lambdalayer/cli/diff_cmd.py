"""`lambdalayer diff OLD NEW`: what changed between two layers (packages, sizes, findings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import aws_options, target_options
from lambdalayer.cli.output import human_console, print_json, tell
from lambdalayer.common.units import format_size

if TYPE_CHECKING:
    from lambdalayer.reports.diff import LayerDiff, PackageChange


def _signed(size: int) -> str:
    if size == 0:
        return "±0 B"
    return ("+" if size > 0 else "-") + format_size(abs(size))


def _versions(change: PackageChange) -> str:
    if change.change == "added":
        return change.new_version or ""
    if change.change == "removed":
        return change.old_version or ""
    if change.change == "resized":
        return change.new_version or ""
    return f"{change.old_version} → {change.new_version}"


def diff_json(diff: LayerDiff) -> dict[str, Any]:
    """The `--json` document (also what the GitHub Action reads)."""
    def side(s: Any) -> dict[str, Any]:
        return {"source": s.label, "unzipped_size": s.unzipped_size,
                "zipped_size": s.zipped_size,
                "packages": {n: {"version": v, "size": z} for n, (v, z) in s.packages.items()}}

    def finding(key: tuple[str, str, str, str]) -> dict[str, str | None]:
        return {"severity": key[0], "code": key[1], "path": key[2], "package": key[3] or None}

    return {
        "old": side(diff.old), "new": side(diff.new),
        "size_change": diff.size_change, "zipped_change": diff.zipped_change,
        "packages": [{"name": c.name, "change": c.change, "old_version": c.old_version,
                      "new_version": c.new_version, "old_size": c.old_size,
                      "new_size": c.new_size, "size_change": c.size_change}
                     for c in diff.packages],
        "unchanged_packages": diff.unchanged,
        "findings_new": None if diff.findings_new is None else [
            finding(k) for k in diff.findings_new],
        "findings_gone": None if diff.findings_gone is None else [
            finding(k) for k in diff.findings_gone],
        "warnings": [f"{s.label}: {w}" for s in (diff.old, diff.new) for w in s.warnings],
    }


def diff_markdown(diff: LayerDiff) -> str:
    """A GitHub-flavoured Markdown summary (the job summary uses it)."""
    lines = [f"**{diff.old.label}** → **{diff.new.label}**: "
             f"{format_size(diff.old.unzipped_size)} → {format_size(diff.new.unzipped_size)} "
             f"unzipped ({_signed(diff.size_change)})"
             + ("" if diff.zipped_change is None else
                f", zipped {_signed(diff.zipped_change)}"), ""]
    if diff.packages:
        lines += ["| package | change | version | size change |", "|---|---|---|---:|"]
        lines += [f"| {c.name} | {c.change} | {_versions(c)} | {_signed(c.size_change)} |"
                  for c in diff.packages]
    else:
        lines.append("No package changes.")
    lines.append("")
    if diff.findings_new is None:
        lines.append("Findings not compared (no manifest or targets on one side).")
    else:
        for title, keys in (("New findings", diff.findings_new),
                            ("Findings gone", diff.findings_gone or ())):
            if keys:
                lines.append(f"{title}:")
                lines += [f"- {k[0]} `{k[1]}` {k[2] or '(layer)'}"
                          + (f" ({k[3]})" if k[3] else "") for k in keys]
        if not diff.findings_new and not diff.findings_gone:
            lines.append("No new or resolved audit findings.")
    return "\n".join(lines) + "\n"


def diff_short(diff: LayerDiff) -> list[str]:
    """A few plain lines (what `publish` prints against the version it supersedes)."""
    parts = []
    for kind in ("added", "removed", "upgraded", "downgraded", "changed"):
        names = [c for c in diff.packages if c.change == kind]
        if names:
            parts.append(f"{kind} " + ", ".join(
                f"{c.name} {_versions(c)}".strip() for c in names))
    summary = "; ".join(parts) or "same packages"
    lines = [f"vs {diff.old.label}: {summary}; {_signed(diff.size_change)} unzipped"]
    if diff.findings_new:
        lines.append(f"  {len(diff.findings_new)} new finding(s): " + ", ".join(
            sorted({k[1] for k in diff.findings_new})))
    return lines


def _render(diff: LayerDiff) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = human_console()
    table = Table(title=f"{escape(diff.old.label)} → {escape(diff.new.label)}",
                  title_justify="left", show_edge=False, box=None)
    table.add_column("package", style="bold")
    table.add_column("change")
    table.add_column("version")
    table.add_column("size change", justify="right")
    colour = {"added": "green", "removed": "red", "upgraded": "cyan", "downgraded": "yellow",
              "changed": "cyan", "resized": "dim"}
    for c in diff.packages:
        table.add_row(escape(c.name), f"[{colour[c.change]}]{c.change}[/]",
                      escape(_versions(c)), _signed(c.size_change))
    if diff.packages:
        console.print(table)
    else:
        console.print("No package changes.")
    console.print(f"total: {format_size(diff.old.unzipped_size)} → "
                  f"{format_size(diff.new.unzipped_size)} unzipped "
                  f"({_signed(diff.size_change)})"
                  + ("" if diff.zipped_change is None
                     else f", zipped {_signed(diff.zipped_change)}")
                  + f"; {diff.unchanged} package(s) unchanged")
    if diff.findings_new is None:
        console.print("[dim]findings not compared: give --runtime/--arch, or a manifest[/]")
        return
    for title, keys, style in (("new", diff.findings_new, "red"),
                               ("gone", diff.findings_gone or (), "green")):
        for key in keys:
            console.print(f"[{style}]{title}[/] {key[0]} {escape(key[1])} "
                          f"{escape(key[2] or '(layer)')}"
                          + (f" ({escape(key[3])})" if key[3] else ""))


@cli.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@target_options("Runtime to audit sides without a manifest for",
                "the manifest's or the published version's", "x86_64", arch_needs_runtime=True)
@click.option("--region", metavar="REGION", help="For ARNs and NAME:VERSION: the region.")
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print GitHub-flavoured Markdown (for a job summary or a PR comment).")
def diff_command(old: str, new: str, runtimes: tuple[str, ...], archs: tuple[str, ...],
                 region: str | None, profile: str | None, endpoint_url: str | None,
                 as_json: bool, as_markdown: bool) -> None:
    """Show what changed between two layers: packages added, removed, upgraded or
    downgraded, size per package and in total, audit findings new and gone.

    OLD and NEW are each a layer .zip, its manifest (dist/NAME.json), a layer
    directory, a layer version ARN or NAME:VERSION (downloaded from AWS and
    unpacked safely). Exits 0 whatever changed; 2 when a side cannot be read,
    5 when AWS fails.

    \b
      lambdalayer diff old/pg8000.zip dist/pg8000.zip
      lambdalayer diff pg8000:3 dist/pg8000.json --markdown >> "$GITHUB_STEP_SUMMARY"
      lambdalayer diff arn:aws:lambda:us-east-1:123456789012:layer:pg8000:3 dist/pg8000.zip
    """
    from lambdalayer.common.errors import UsageError
    from lambdalayer.reports.diff import AwsAccess, diff_layers
    from lambdalayer.targets.target import expand_targets

    if as_json and as_markdown:
        raise UsageError("Choose one of --json and --markdown.")
    targets = None
    if runtimes:
        targets = expand_targets(list(runtimes), list(archs or ("x86_64",)))
    diff = diff_layers(old, new, targets=targets,
                       aws=AwsAccess(region=region, profile=profile, endpoint_url=endpoint_url))
    for snapshot in (diff.old, diff.new):
        for warning in snapshot.warnings:
            tell(f"warning: {snapshot.label}: {warning}; its files count as (other files)")
    if as_json:
        print_json(diff_json(diff))
    elif as_markdown:
        click.echo(diff_markdown(diff), nl=False)
    else:
        _render(diff)
