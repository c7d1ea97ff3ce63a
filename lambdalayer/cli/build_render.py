"""`build`'s output: the JSON document, plain lines for logs, rich tables on a terminal."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

from lambdalayer.cli.output import (
    error_console,
    for_people_on_a_terminal,
    human_console,
    print_json,
    say,
    tell,
)
from lambdalayer.common.errors import EXIT_VULNERABLE, Reported
from lambdalayer.common.units import format_size

if TYPE_CHECKING:
    from rich.console import Console

    from lambdalayer.pipeline.request import Artifact, BuildRequest, BuildResult
    from lambdalayer.project.builds import BuildOutcome
    from lambdalayer.project.supply_checks import ArtifactSupply
    from lambdalayer.proof.result import ArtifactProof
    from lambdalayer.proof.runner import ProofReport
    from lambdalayer.reports.sizing import SizeReport


def render_build(outcome: BuildOutcome, *, as_json: bool, verbose: bool = False) -> None:
    """The JSON document (--json), then people's lines (the summary on stdout, warnings on
    stderr); exit 6/7 when --test-report found that. `verbose` adds where the time went,
    per stage (`timings` in the JSON)."""
    result = outcome.result
    if as_json:
        document = _build_json(outcome)
        if verbose:
            document["timings"] = {stage: round(s, 3) for stage, s in result.timings}
        print_json(document)
    if verbose and result.timings:
        tell("time: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.timings))
    if for_people_on_a_terminal():
        _render_rich(human_console(), result)
    else:
        _render_plain(result)
    for supply in outcome.supply:
        _render_supply(supply, as_json)
    for done in outcome.unpacked or ():
        say(f"unpacked {done.name} into {done.directory} ({done.files} entries)")
    for path in outcome.reports or ():
        say(f"wrote {path}")
    if outcome.test_reports is not None:
        _finish_test_reports(list(outcome.test_reports), as_json)
    # Last: the zips, SBOMs and manifests are written and everything was said.
    if any(s.vulns is not None and s.vulns.failing(outcome.fail_on) for s in outcome.supply):
        raise Reported(EXIT_VULNERABLE)


def licence_line(supply: ArtifactSupply) -> str:
    """`licences in NAME.zip: MIT (a, b); BSD-3-Clause (c); unknown (d)`."""
    by_licence: dict[str, list[str]] = {}
    for dist in supply.distributions:
        by_licence.setdefault(dist.licence.text, []).append(dist.name)
    order = sorted(by_licence, key=lambda text: (text == "unknown", text.lower()))
    listed = "; ".join(f"{text} ({', '.join(by_licence[text])})" for text in order)
    return f"licences in {supply.zip_path.name}: {listed or 'no distributions'}"


def _render_supply(supply: ArtifactSupply, as_json: bool) -> None:
    """Each artifact's licences, then what the vulnerability service said (--vulns)."""
    say(licence_line(supply))
    if supply.vulns is not None:
        from lambdalayer.cli.vulns import render_vulns

        render_vulns(str(supply.zip_path), supply.vulns, stderr=as_json)


def supply_json(supply: ArtifactSupply | None) -> dict[str, Any]:
    """An artifact's `licences` and `vulns` (null: not asked) keys (docs/json.md)."""
    if supply is None:
        return {"licences": [], "vulns": None}
    return {"licences": [{"name": d.name, "version": d.version, "licence": d.licence.text,
                          "source": d.licence.source} for d in supply.distributions],
            "vulns": supply.vulns.as_dict() if supply.vulns is not None else None}


def _build_json(outcome: BuildOutcome) -> dict[str, Any]:
    result = outcome.result
    document = ({"artifacts": [artifact_json(a) for a in result.artifacts],
                 "warnings": list(result.warnings)}
                if outcome.test_reports is None
                else _with_test_reports(result, list(outcome.test_reports)))
    by_zip = {s.zip_path: s for s in outcome.supply}
    entries = cast("list[dict[str, Any]]", document["artifacts"])
    for entry, artifact in zip(entries, result.artifacts, strict=True):
        entry.update(supply_json(by_zip.get(artifact.zip_path)))
    if outcome.reports is not None:
        document["reports"] = [str(path) for path in outcome.reports]
    if outcome.unpacked is not None:
        document["unpacked"] = [{"name": u.name, "directory": str(u.directory),
                                 "files": u.files} for u in outcome.unpacked]
    return document


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
        # Pins `build --fix-pairs` added (pipeline/pairfix.py), as the manifest records them.
        "applied_pins": list(m.inputs.get("applied_pins", [])),
        "compiled": None if artifact.compiled is None else {
            "size": artifact.compiled.size, "files": artifact.compiled.files,
            "runtimes": [asdict(r) for r in artifact.compiled.runtimes]},
    }


def artifact_proof_json(proof: ArtifactProof | None) -> dict[str, Any]:
    """{"status", "reason", "interpreter"} plus how each target was proven (docs/json.md)."""
    if proof is None:
        return {"status": "skipped", "reason": "the zip was up to date; not rebuilt",
                "interpreter": None, "targets": []}
    return {"status": proof.status, "reason": proof.reason, "interpreter": proof.interpreter,
            "targets": [{**asdict(t), "sandbox_kind": t.sandbox_kind} for t in proof.targets]}


def _proof_lines(artifact: Artifact) -> list[str]:
    proof = artifact.proof
    if proof is None:
        return []
    if not proof.targets:
        return [f"  not proven: {proof.reason}"]
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
    if proof.status == "passed":
        lines += [f"  imported {name}: {', '.join(mods)}" for name, mods in proof.own_code]
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
        tell(f"warning: {warning}")
    for artifact in result.artifacts:
        for line in _summary_lines(artifact):
            say(line)
        if artifact.sizes is None:
            say("  inputs and pins unchanged, zip matches its manifest (--force rebuilds)")
            continue
        total = artifact.sizes.total or 1
        zipped = artifact.sizes.compressed_total or 1
        width = max((len(p.name) for p in artifact.sizes.packages), default=7)
        # As wide as the longest version: certifi's 2026.10.19.post1 must not shift a row.
        version_width = max((len(p.version) for p in artifact.sizes.packages), default=0)
        for package in artifact.sizes.packages:
            say(f"  {package.name:<{width}}  {package.version:<{version_width}} "
                f"{format_size(package.size):>10}  {100 * package.size / total:3.0f}%  "
                f"zipped {format_size(package.compressed or 0):>9} "
                f"{100 * (package.compressed or 0) / zipped:3.0f}%")
        for line in _size_notes(artifact.sizes):
            say(line)
        for finding in artifact.manifest.findings:
            say(f"  {finding.severity} {finding.code} {finding.path}: {finding.message}")
    for note in _run_notes(result):
        tell(note)  # how the proof ran: a diagnostic, on stderr


def _run_notes(result: BuildResult) -> list[str]:
    """How the proofs ran; none for zips that were up to date (no proof ran: nothing to
    import, which keeps the up-to-date path short)."""
    proofs = [artifact.proof for artifact in result.artifacts]
    if all(proof is None for proof in proofs):
        return []
    from lambdalayer.proof.result import run_notes

    return run_notes(proofs)


def _render_rich(console: Console, result: BuildResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    for warning in result.warnings:
        error_console().print(f"[yellow]warning:[/] {escape(warning)}")
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
    notes = error_console()  # how the proof ran: diagnostics, on stderr
    for note in _run_notes(result):
        if note.startswith("warning: "):  # a proof ran without a sandbox
            notes.print(f"[yellow]warning:[/] {escape(note.removeprefix('warning: '))}")
        else:
            notes.print(f"[dim]{escape(note)}[/]")


def _with_test_reports(result: BuildResult, reports: list[ProofReport]) -> dict[str, Any]:
    from lambdalayer.cli.layer_test_cmd import proof_json

    return {"artifacts": [{**artifact_json(a), "test_report": proof_json(r)}
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


def build_with_progress(request: BuildRequest) -> BuildResult:
    """Progress on stderr: a spinner on a terminal, plain lines otherwise (CI logs)."""
    import sys

    from lambdalayer.pipeline.layer import build_layer

    if sys.stderr.isatty():
        with error_console().status("building…") as status:
            return build_layer(request, progress=lambda msg: status.update(f"{msg}…"))
    return build_layer(request, progress=lambda msg: tell(f"… {msg}"))
