"""`lambdalayer build`: resolve, audit and zip a layer."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambdalayer.build import Artifact, BuildRequest, BuildResult, build_layer
from lambdalayer.cli import cli
from lambdalayer.cli.options import aws_options
from lambdalayer.cli.output import format_size, human_console, print_json, say
from lambdalayer.errors import UsageError
from lambdalayer.recipes import get_recipe
from lambdalayer.requirements import RequirementInputs, parse_spec, read_requirement_file

if TYPE_CHECKING:
    from rich.console import Console


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    m = artifact.manifest
    return {
        "name": m.name,
        "path": str(artifact.zip_path),
        "manifest": str(artifact.manifest_path),
        "sha256": m.sha256,
        "code_sha256": m.code_sha256,
        "size": m.size,
        "unzipped_size": m.unzipped_size,
        "runtimes": m.runtimes,
        "architectures": m.architectures,
        "packages": [{"name": p.name, "version": p.version, "size": p.size} for p in m.packages],
        "findings": [asdict(f) for f in m.findings],
        "up_to_date": artifact.up_to_date,
    }


def _summary_lines(artifact: Artifact) -> list[str]:
    m = artifact.manifest
    state = "up to date" if artifact.up_to_date else "built"
    return [
        f"{state} {artifact.zip_path} — {format_size(m.size)} zipped, "
        f"{format_size(m.unzipped_size)} unzipped",
        f"  runtimes: {', '.join(m.runtimes)}; architectures: {', '.join(m.architectures)}",
        f"  CodeSha256: {m.code_sha256}",
    ]


def _render_plain(result: BuildResult) -> None:
    """Plain lines for logs and pipes; rich is not even imported (start-up time)."""
    for warning in result.warnings:
        say(f"warning: {warning}")
    for artifact in result.artifacts:
        for line in _summary_lines(artifact):
            say(line)
        if artifact.sizes is None:
            say("  inputs and pins unchanged, zip matches its manifest (--force rebuilds)")
            continue
        total = artifact.sizes.total or 1
        width = max(len(p.name) for p in artifact.sizes.packages)
        for package in artifact.sizes.packages:
            say(f"  {package.name:<{width}}  {package.version:<14} "
                f"{format_size(package.size):>10}  {100 * package.size / total:3.0f}%")
        for finding in artifact.manifest.findings:
            say(f"  {finding.severity} {finding.code} {finding.path}: {finding.message}")


def _render_rich(console: Console, result: BuildResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    for artifact in result.artifacts:
        first, *rest = _summary_lines(artifact)
        console.print(f"[green]{escape(first)}[/]")
        for line in rest:
            console.print(escape(line))
        if artifact.sizes is None:
            console.print("  inputs and pins unchanged, zip matches its manifest "
                          "(--force rebuilds)")
            continue
        table = Table(show_edge=False, pad_edge=False, box=None)
        table.add_column("package", style="bold")
        table.add_column("version")
        table.add_column("unzipped", justify="right")
        table.add_column("share", justify="right")
        total = artifact.sizes.total or 1
        for package in artifact.sizes.packages:
            table.add_row(package.name, package.version, format_size(package.size),
                          f"{100 * package.size / total:.0f}%")
        console.print(table)
        for finding in artifact.manifest.findings:
            colour = "red" if finding.severity == "error" else "yellow"
            console.print(f"  [{colour}]{finding.severity}[/] {finding.code} {finding.path}: "
                          f"{escape(finding.message)}")


@cli.command("build")
@click.argument("name", required=False)
@click.option("-r", "--requirements", "requirement_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="A requirements file (pip, pip-compile or uv format; --hash lines enforced).")
@click.option("-p", "--package", "packages", multiple=True, metavar="SPEC",
              help="A requirement such as 'orjson>=3.10'. Repeatable.")
@click.option("--runtime", "runtimes", multiple=True, metavar="RUNTIME",
              help="Target runtime, e.g. python3.12. Repeatable. Default: every current "
                   "runtime (see `lambdalayer runtimes`).")
@click.option("--arch", "architectures", multiple=True, metavar="ARCH",
              help="x86_64 or arm64. Repeatable. Default: both.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("dist"), show_default=True, help="Where zips and manifests go.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--allow", "allow", multiple=True, metavar="CODE",
              help="Accept an audit finding by code (recorded in the manifest). Repeatable.")
@click.option("--for-function", "for_function", metavar="FUNCTION",
              help="Build for this Lambda function's runtime and architecture (read from AWS).")
@click.option("--region", metavar="REGION", help="The function's region (with --for-function).")
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def build_command(name: str | None, requirement_files: tuple[Path, ...],
                  packages: tuple[str, ...], runtimes: tuple[str, ...],
                  architectures: tuple[str, ...], out_dir: Path, force: bool,
                  allow: tuple[str, ...], for_function: str | None, region: str | None,
                  profile: str | None, endpoint_url: str | None, as_json: bool) -> None:
    """Build a layer zip (and its manifest) for Lambda targets.

    NAME alone is a built-in recipe (`lambdalayer build pg8000`); with -r/-p it
    is the name of the layer you are building. A pure-Python result is one zip
    for every runtime and both architectures; native code is built per
    architecture and needs --runtime.

    \b
      lambdalayer build pg8000
      lambdalayer build analytics -r requirements.txt --runtime python3.12 --arch arm64
      lambdalayer build tools -p anyio -p 'orjson>=3.10' --runtime python3.10
    """
    recipe = None
    if name is None:
        raise UsageError(
            "Name a recipe (`lambdalayer build pg8000`) or a layer with its requirements "
            "(`lambdalayer build NAME -p PACKAGE` / `-r requirements.txt`)."
        )
    if not requirement_files and not packages:
        recipe = get_recipe(name)
        inputs = RequirementInputs(specs=recipe.requirements)
    else:
        inputs = RequirementInputs(
            specs=tuple(parse_spec(spec) for spec in packages),
            files=tuple(read_requirement_file(path) for path in requirement_files),
        )
    if for_function:
        if runtimes or architectures:
            raise UsageError("--for-function reads the runtime and architecture from the "
                             "function; drop --runtime/--arch.")
        from lambdalayer.aws.functions import function_target

        runtime, arch = function_target(for_function, region=region, profile=profile,
                                        endpoint_url=endpoint_url)
        runtimes, architectures = (runtime,), (arch,)
    request = BuildRequest(name=name, inputs=inputs, out_dir=out_dir, runtimes=runtimes,
                           architectures=architectures, recipe=recipe, force=force,
                           allow=frozenset(allow))
    result = _build_with_progress(request)
    if as_json:
        print_json({"artifacts": [artifact_json(a) for a in result.artifacts],
                    "warnings": list(result.warnings)})
    if _interactive():
        _render_rich(human_console(), result)
    else:
        _render_plain(result)


def _interactive() -> bool:
    import sys

    return sys.stdout.isatty() or sys.stderr.isatty()


def _build_with_progress(request: BuildRequest) -> BuildResult:
    """A spinner on a terminal, plain progress lines otherwise (CI logs)."""
    if _interactive():
        console = human_console()
        with console.status("building…") as status:
            return build_layer(request, progress=lambda msg: status.update(f"{msg}…"))
    return build_layer(request, progress=lambda msg: say(f"… {msg}"))
