"""`lambdalayer build`: resolve, audit and zip a layer."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import aws_options, index_options
from lambdalayer.cli.output import human_console, print_json, say
from lambdalayer.common.errors import Reported, UsageError
from lambdalayer.common.units import format_size
from lambdalayer.pipeline.layer import build_layer
from lambdalayer.pipeline.request import Artifact, BuildRequest, BuildResult

if TYPE_CHECKING:
    from rich.console import Console

    from lambdalayer.archive.unpack import Unpacked
    from lambdalayer.proof.runner import ProofReport
    from lambdalayer.proof.verdict import ArtifactProof
    from lambdalayer.reports.sizing import SizeReport


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
        "import_test": artifact_proof_json(artifact.proof),
        "compiled": None if artifact.compiled is None else {
            "size": artifact.compiled.size, "files": artifact.compiled.files,
            "runtimes": [asdict(r) for r in artifact.compiled.runtimes]},
    }


def artifact_proof_json(proof: ArtifactProof | None) -> dict[str, Any]:
    """DESIGN.md §3: {"status", "reason", "interpreter"} plus how each target was proven."""
    if proof is None:
        return {"status": "skipped", "reason": "the zip was up to date; not rebuilt",
                "interpreter": None, "targets": []}
    return {"status": proof.status, "reason": proof.reason, "interpreter": proof.interpreter,
            "targets": [asdict(t) for t in proof.targets]}


def _proof_lines(artifact: Artifact) -> list[str]:
    proof = artifact.proof
    if proof is None:
        return []
    if not proof.targets:
        return [f"  not import-tested: {proof.reason}"]
    covered: dict[str, list[str]] = {}
    for target in proof.targets:
        if target.covered_by:
            covered.setdefault(target.covered_by, []).append(target.target.split("/")[1])
    lines = []
    for target in proof.targets:
        if not target.covered_by:
            also = covered.get(target.target)
            suffix = f"; stands for {', '.join(also)} too (pure Python)" if also else ""
            lines.append(f"  {target.line()}{suffix}")
    return lines


def _summary_lines(artifact: Artifact) -> list[str]:
    m = artifact.manifest
    if artifact.sizes is None:
        state = "up to date"
    else:
        state = "rebuilt (same bytes)" if artifact.up_to_date else "built"
    return [
        f"{state} {artifact.zip_path} — {format_size(m.size)} zipped, "
        f"{format_size(m.unzipped_size)} unzipped",
        f"  runtimes: {', '.join(m.runtimes)}; architectures: {', '.join(m.architectures)}",
        f"  CodeSha256: {m.code_sha256}",
        *_compiled_lines(artifact),
        *_proof_lines(artifact),
    ]


def _compiled_lines(artifact: Artifact) -> list[str]:
    compiled = artifact.compiled
    if compiled is None:
        return []
    runtimes = ", ".join(f"{r.runtime} (CPython {r.python_version})" for r in compiled.runtimes)
    lines = [f"  bytecode: {compiled.files} .pyc for {runtimes}: "
             f"+{format_size(compiled.size)} unzipped"]
    for runtime in compiled.runtimes:
        for path, message in runtime.failed[:5]:
            lines.append(f"  warning: {path} does not compile for {runtime.runtime}: {message}")
        if len(runtime.failed) > 5:
            lines.append(f"  warning: ... and {len(runtime.failed) - 5} more")
    return lines


def _size_notes(sizes: SizeReport) -> list[str]:
    """The largest files and what the size options removed, under the package table."""
    from lambdalayer.reports.sizing import short_path

    lines = []
    if sizes.largest_files:
        lines.append("  largest files: " + ", ".join(
            f"{short_path(path)} {format_size(size)}" for path, size in sizes.largest_files[:3]))
    if sizes.reductions:
        lines.append("  removed: " + "; ".join(
            f"{what} ({format_size(size)})" for what, size in sizes.reductions))
    return lines


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
        zipped = artifact.sizes.compressed_total or 1
        width = max(len(p.name) for p in artifact.sizes.packages)
        for package in artifact.sizes.packages:
            say(f"  {package.name:<{width}}  {package.version:<14} "
                f"{format_size(package.size):>10}  {100 * package.size / total:3.0f}%  "
                f"zipped {format_size(package.compressed or 0):>9} "
                f"{100 * (package.compressed or 0) / zipped:3.0f}%")
        for line in _size_notes(artifact.sizes):
            say(line)
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
        table.add_column("zipped", justify="right")
        table.add_column("share", justify="right")
        total = artifact.sizes.total or 1
        zipped = artifact.sizes.compressed_total or 1
        for package in artifact.sizes.packages:
            table.add_row(escape(package.name), escape(package.version),
                          format_size(package.size),
                          f"{100 * package.size / total:.0f}%",
                          format_size(package.compressed or 0),
                          f"{100 * (package.compressed or 0) / zipped:.0f}%")
        console.print(table)
        for line in _size_notes(artifact.sizes):
            console.print(escape(line))
        for finding in artifact.manifest.findings:
            colour = "red" if finding.severity == "error" else "yellow"
            console.print(f"  [{colour}]{finding.severity}[/] {escape(finding.code)} "
                          f"{escape(finding.path)}: "
                          f"{escape(finding.message)}")


@cli.command("build")
@click.argument("name", required=False)
@click.option("-r", "--requirements", "requirement_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="A requirements file (pip, pip-compile or uv format; --hash lines enforced).")
@click.option("-p", "--package", "packages", multiple=True, metavar="SPEC",
              help="A requirement such as 'orjson>=3.10'. Repeatable.")
@click.option("--source", "sources", multiple=True, metavar="DIR",
              type=click.Path(path_type=Path),
              help="A folder of your own modules and packages, copied into the layer's "
                   "python/ (leaves out __pycache__, VCS/editor files and what its "
                   ".gitignore excludes). Repeatable.")
@click.option("--include", "includes", multiple=True, metavar="SRC:DEST",
              help="A file or folder placed at DEST below the layer root, e.g. "
                   "./jq:bin/ or ./libfoo.so:lib/ (/opt/lib is on Lambda's library path). "
                   "Repeatable.")
@click.option("--project", "project", metavar="DIR", type=click.Path(path_type=Path),
              help="The runtime dependencies of the project in DIR: exactly its uv.lock's "
                   "versions and hashes when it has one, no dev groups.")
@click.option("--with-self", "with_self", is_flag=True,
              help="With --project: the project itself too, built into a pure wheel.")
@click.option("--runtime", "runtimes", multiple=True, metavar="RUNTIME",
              help="Target runtime, e.g. python3.12. Repeatable. Default: every current "
                   "runtime (see `lambdalayer runtimes`).")
@click.option("--arch", "architectures", multiple=True, metavar="ARCH",
              help="x86_64 or arm64. Repeatable. Default: both.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where zips and manifests go (default: the config's `out`, else dist).")
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Build only this configured layer. Repeatable. Default: all of them.")
@click.option("--recipes", "recipes_dir", type=click.Path(path_type=Path, file_okay=False),
              help="A directory of your own recipes (overrides the config's `recipes`).")
@click.option("--locked", is_flag=True,
              help="Build configured layers from their lock files; fail if one is missing "
                   "or stale (CI).")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--verbose", is_flag=True,
              help="On an audit refusal, list every finding (file by file), not one line per "
                   "kind of problem.")
@click.option("--allow", "allow", multiple=True, metavar="CODE",
              help="Accept an audit finding by code (recorded in the manifest). Repeatable.")
@click.option("--for-function", "for_function", metavar="FUNCTION",
              help="Build for this Lambda function's runtime and architecture (read from AWS).")
@click.option("--region", metavar="REGION", help="The function's region (with --for-function).")
@click.option("--compile", "compile_", is_flag=True,
              help="Ship .pyc compiled by each runtime's own interpreter (faster cold starts "
                   "from read-only /opt); needs a local CPython per runtime.")
@click.option("--smoke/--no-smoke", "smoke", default=None,
              help="Every build imports the layer after the audit on a CPython of each "
                   "target (native, or emulated: `lambdalayer interpreters`) and writes no "
                   "zip if an import fails (exit 6). --no-smoke (config: smoke = false) "
                   "skips that; --smoke also reports what `lambdalayer test` finds in each "
                   "zip (from the same interpreter run: the proof then imports what `test` "
                   "would) and exits 7 when a target cannot be tried here.")
@click.option("--slim", is_flag=True,
              help="Leave out what no import needs: tests/ and test/ dirs, C/C++ sources and "
                   "headers, .pyx/.pxd/.pyi, docs and examples inside packages.")
@click.option("--strip", is_flag=True,
              help="Strip symbols and debug info from the .so files (llvm-strip or a strip "
                   "that understands the target; skipped with a warning if none).")
@click.option("--exclude", "excludes", multiple=True, metavar="PKG",
              help="Leave out PKG and the dependencies only it needs. Repeatable. "
                   ":runtime: = what Lambda's Python runtime ships (boto3, botocore, "
                   "s3transfer, jmespath, python-dateutil, six, urllib3).")
@click.option("--compression-level", "compression_level", type=click.IntRange(0, 9),
              metavar="0-9", help="Deflate level for the zip (default 6; 9 is smallest).")
@index_options
@click.option("--unpacked", "unpacked_dir", metavar="DIR",
              type=click.Path(path_type=Path, file_okay=False),
              help="Also write the layer tree (exactly the zip's contents: python/...) to "
                   "DIR, replacing what is there; DIR/NAME per zip when there are several. "
                   "For SAM's BuildMethod makefile: --unpacked $(ARTIFACTS_DIR).")
@click.option("--report", "report_file", metavar="FILE.html",
              type=click.Path(path_type=Path, dir_okay=False),
              help="Also write an HTML picture of the layer (`lambdalayer report`); "
                   "FILE-NAME.html per zip when there are several.")
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def build_command(name: str | None, requirement_files: tuple[Path, ...],
                  packages: tuple[str, ...], sources: tuple[Path, ...],
                  includes: tuple[str, ...], project: Path | None, with_self: bool,
                  runtimes: tuple[str, ...],
                  architectures: tuple[str, ...], out_dir: Path | None, layers: tuple[str, ...],
                  recipes_dir: Path | None, locked: bool, force: bool,
                  allow: tuple[str, ...], verbose: bool, for_function: str | None,
                  region: str | None,
                  compile_: bool, smoke: bool | None, slim: bool, strip: bool,
                  excludes: tuple[str, ...], compression_level: int | None,
                  index_url: str | None, extra_index_urls: tuple[str, ...],
                  find_links: tuple[str, ...],
                  unpacked_dir: Path | None, report_file: Path | None, profile: str | None,
                  endpoint_url: str | None, as_json: bool) -> None:
    """Build a layer zip (and its manifest) for Lambda targets.

    NAME alone is a configured layer or a recipe (`lambdalayer build pg8000`);
    with -r/-p it is the name of the layer you are building; with nothing, every
    layer in the project config ([tool.lambdalayer] in pyproject.toml, or
    lambdalayer.toml) is built. A pure-Python result is one zip for every
    runtime and both architectures; native code is built per architecture and
    needs --runtime (recipes and configured layers may default it).

    \b
      lambdalayer build pg8000
      lambdalayer build analytics -r requirements.txt --runtime python3.12 --arch arm64
      lambdalayer build tools -p anyio -p 'orjson>=3.10' --runtime python3.10
      lambdalayer build analytics -p pandas -p pyarrow --runtime python3.12 --slim --strip
      lambdalayer build api -r requirements.txt --runtime python3.12 --exclude :runtime:
      lambdalayer build common -p ./libs/common          # your own project, built to a wheel
      lambdalayer build shared --source src --include ./jq:bin/
      lambdalayer build deps --project . --runtime python3.12   # uv.lock's versions
    """
    from lambdalayer.cli.interpreters_cmd import use_config_interpreters
    from lambdalayer.project.config import load_config
    from lambdalayer.project.precedence import BuildFlags, apply_locks, plan_builds
    from lambdalayer.resolve.index_settings import IndexSettings

    if for_function:
        if runtimes or architectures:
            raise UsageError("--for-function reads the runtime and architecture from the "
                             "function; drop --runtime/--arch.")
        from lambdalayer.aws.functions import function_target

        runtime, arch = function_target(for_function, region=region, profile=profile,
                                        endpoint_url=endpoint_url)
        runtimes, architectures = (runtime,), (arch,)
    flags = BuildFlags(
        name=name, layers=layers, requirement_files=requirement_files, packages=packages,
        runtimes=runtimes, architectures=architectures, out_dir=out_dir,
        recipes_dir=recipes_dir, force=force, allow=allow, locked=locked,
        sources=sources, includes=includes, project=project, with_self=with_self,
        index=IndexSettings(index_url=index_url, extra_index_urls=extra_index_urls,
                            find_links=find_links),
        options={"compile": compile_, "test_report": bool(smoke), "no_proof": smoke is False,
                 "slim": slim, "strip": strip,
                 "excludes": excludes, "compression_level": compression_level},
    )
    config = load_config()
    use_config_interpreters(config)
    requests, lock_warnings = apply_locks(plan_builds(flags, config), config, locked=locked)
    from lambdalayer.project.outputs import check_build_outputs

    check_build_outputs([r.out_dir for r in requests], config, unpacked=unpacked_dir,
                        report=report_file)
    results = [_build_with_progress(request) for request in requests]
    result = BuildResult(
        artifacts=tuple(a for r in results for a in r.artifacts),
        warnings=tuple(lock_warnings) + tuple(w for r in results for w in r.warnings),
    )
    unpacked = _unpack(result, unpacked_dir)
    reports = _reports(result, report_file)
    test_reports = None
    if smoke:
        from lambdalayer.cli.layer_test_cmd import prove_artifacts

        test_reports = prove_artifacts(result.artifacts)
    if as_json:
        document = ({"artifacts": [artifact_json(a) for a in result.artifacts],
                     "warnings": list(result.warnings)}
                    if test_reports is None else _with_test_reports(result, test_reports))
        if report_file is not None:
            document["reports"] = [str(path) for path in reports]
        if unpacked_dir is not None:
            document["unpacked"] = [{"name": u.name, "directory": str(u.directory),
                                     "files": u.files} for u in unpacked]
        print_json(document)
    if _interactive():
        _render_rich(human_console(), result)
    else:
        _render_plain(result)
    for done in unpacked:
        say(f"unpacked {done.name} into {done.directory} ({done.files} entries)")
    for path in reports:
        say(f"wrote {path}")
    if test_reports is not None:
        _finish_test_reports(test_reports, as_json)


def _unpack(result: BuildResult, directory: Path | None) -> list[Unpacked]:
    if directory is None:
        return []
    from lambdalayer.archive.unpack import unpack_layers

    return unpack_layers([(a.name, a.zip_path) for a in result.artifacts], directory)


def _reports(result: BuildResult, report_file: Path | None) -> list[Path]:
    if report_file is None:
        return []
    from lambdalayer.reports.html_report import make_report, write_report

    written = []
    for artifact in result.artifacts:
        path = report_file if len(result.artifacts) == 1 else report_file.with_name(
            f"{report_file.stem}-{artifact.name}{report_file.suffix}")
        write_report(make_report(artifact.zip_path), path, option="--report")
        written.append(path)
    return written


def _with_test_reports(result: BuildResult, reports: list[ProofReport]) -> dict[str, Any]:
    from lambdalayer.cli.layer_test_cmd import proof_json

    return {"artifacts": [{**artifact_json(a), "smoke": proof_json(r)}
                          for a, r in zip(result.artifacts, reports, strict=True)],
            "warnings": list(result.warnings)}


def _finish_test_reports(reports: list[ProofReport], as_json: bool) -> None:
    """Show what `lambdalayer test` found in each zip; exit 6/7 unless all passed (zips stay)."""
    from lambdalayer.cli.layer_test_cmd import proof_exit_code, render_proof

    if not as_json:
        for report in reports:
            render_proof(report)
    status = proof_exit_code(reports)
    if status:
        raise Reported(status)


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
