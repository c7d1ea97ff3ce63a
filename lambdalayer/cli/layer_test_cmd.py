"""`lambdalayer test`: import a layer on a real interpreter, as Lambda would.

Exit status: 0 every target passed; 6 an import (or the handler) failed; 7 a
target could not run on this host (the audit runs for it instead). `build
--test-report` reuses `proof_json`, `render_proof` and `proof_exit_code` from here
(its reports come from pipeline.artifact_proofs.prove_artifacts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import proof_sandbox_option, target_options
from lambdalayer.cli.output import error_console, human_console, marks, print_json
from lambdalayer.common.errors import (
    EXIT_OK,
    EXIT_TEST_FAILED,
    EXIT_TEST_NOT_RUN,
    Reported,
    UsageError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from lambdalayer.project.config import ProofSandbox
    from lambdalayer.proof.runner import FunctionCode, ProofReport
    from lambdalayer.proof.target_run import TargetRun

_TRACEBACK_LINES = 12


def _event(raw: str | None) -> Any:
    if raw is None:
        return None
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"--event {raw}: cannot read {raw[1:]} ({exc.strerror}).") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--event is not valid JSON ({exc}). Give a JSON document or "
                         "@FILE.json.") from exc


@cli.command("test")
@click.argument("source", metavar="ZIP|DIR", type=click.Path(path_type=Path))
@target_options("Runtime to test", "the runtimes in the manifest beside the zip",
                "the manifest's, else x86_64")
@click.option("--import", "imports", multiple=True, metavar="MODULE",
              help="Module to import; repeatable. Default: the recipe's proof imports, else "
                   "every top-level package in the layer.")
@click.option("--code", type=click.Path(path_type=Path), metavar="DIR|ZIP",
              help="The function's code, placed where Lambda puts it (/var/task).")
@click.option("--handler", metavar="MODULE.FUNCTION",
              help="Import the function's handler from --code (e.g. handler.lambda_handler).")
@click.option("--event", metavar="JSON|@FILE",
              help="Invoke the handler once with this event.")
@click.option("--pass-env", "pass_env", multiple=True, metavar="NAME",
              help="Give the layer's code this host environment variable (repeatable). By "
                   "default it sees a Lambda-like environment: no AWS credentials, no CI "
                   "tokens.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds each target's interpreter may run.")
@proof_sandbox_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def test_command(source: Path, runtimes: tuple[str, ...], archs: tuple[str, ...],
                 imports: tuple[str, ...], code: Path | None, handler: str | None,
                 event: str | None, timeout: float, pass_env: tuple[str, ...],
                 proof_sandbox: ProofSandbox | None, as_json: bool) -> None:
    """Import a layer on a local CPython of each target runtime, as Lambda would.

    The layer goes to a temporary /opt; the interpreter runs isolated (-I -S)
    with Lambda's sys.path. Each import is timed; a failure shows the
    interpreter's own error. When this host cannot run a target (no matching
    CPython, not Linux, or native code for another architecture) the audit runs
    instead. Exit 0 passed, 6 failed, 7 could not run.

    \b
      lambdalayer test dist/pg8000.zip --runtime python3.11
      lambdalayer test old-layer.zip --runtime python3.11 --import psycopg2
      lambdalayer test dist/pg8000.zip --runtime python3.11 --code src \\
          --handler handler.lambda_handler --event '{}'
    """
    from lambdalayer.archive.manifest import manifest_beside
    from lambdalayer.project.config import configured_interpreters, load_config
    from lambdalayer.proof.runner import FunctionCode, run_proof
    from lambdalayer.targets.target import expand_targets

    if (code is None) != (handler is None):
        raise UsageError("--handler and --code go together: --code is the function's code "
                         "(Lambda's /var/task), --handler the module.function to load from it.")
    if event is not None and handler is None:
        raise UsageError("--event needs --handler (and --code): it is the event the handler "
                         "is invoked with.")
    if not source.exists():
        raise UsageError(f"{source} does not exist.",
                         hint="Give a layer .zip (with its manifest beside it) or a layer "
                              "directory.")
    manifest = manifest_beside(source)
    chosen_runtimes = list(runtimes or (manifest.runtimes if manifest else ()))
    if not chosen_runtimes:
        raise UsageError(f"Which runtime? Give --runtime (e.g. --runtime python3.12): {source} "
                         "has no lambdalayer manifest beside it that would say.")
    chosen_archs = list(archs or (manifest.architectures if manifest else ()) or ("x86_64",))
    targets = expand_targets(chosen_runtimes, chosen_archs)
    function: FunctionCode | None = None
    if code is not None and handler is not None:
        function = FunctionCode(code=code, handler=handler, event=_event(event),
                                invoke=event is not None)
    wanted, imports_from = list(imports), "option"
    if not wanted and manifest is not None and manifest.proof_imports:
        wanted, imports_from = list(manifest.proof_imports), "manifest"
    config = load_config()
    report = run_proof(source, targets, imports=wanted, imports_from=imports_from,
                       function=function, timeout=timeout, pass_env=pass_env,
                       configured=configured_interpreters(config),
                       bytecode_scope=str(source.resolve()),
                       sandbox_required=config.proof_sandbox_for(proof_sandbox) == "required")
    if as_json:
        print_json(proof_json(report))
    else:
        render_proof(report)
    status = proof_exit_code([report])
    if status != EXIT_OK:
        raise Reported(status)


def proof_exit_code(reports: Sequence[ProofReport]) -> int:
    """6 if anything failed, else 7 if anything could not run, else 0."""
    states = {report.status for report in reports}
    if "failed" in states:
        return EXIT_TEST_FAILED
    if "not-run" in states:
        return EXIT_TEST_NOT_RUN
    return EXIT_OK


def _run_json(run: TargetRun) -> dict[str, Any]:
    from lambdalayer.proof.result import sandbox_kind

    handler = run.handler
    return {
        "target": str(run.target),
        "runtime": run.target.runtime.name,
        "arch": run.target.arch,
        "status": run.status,
        "reason": run.reason,
        "interpreter": run.interpreter,
        "python_version": run.python_version,
        "how": run.how,  # native, qemu-aarch64, ROOT's ld.so
        "glibc": run.glibc,
        "sandbox": run.sandbox,  # sandboxed (bwrap: …) or NOT sandboxed (why)
        "sandbox_kind": sandbox_kind(run.sandbox),  # bwrap, box, none; null: not run
        "seconds": round(run.seconds, 4),
        "covered_by": run.covered_by,
        # The layer's ELF files the imports mapped (layer paths), or null when not read.
        "mapped": None if run.mapped is None else list(run.mapped),
        "imports": [
            {"module": i.module, "ok": i.ok, "seconds": round(i.seconds, 4), "origin": i.origin,
             "error": i.error, "traceback": i.traceback}
            for i in run.imports
        ],
        "handler": None if handler is None else {
            "handler": handler.handler, "ok": handler.ok, "invoked": handler.invoked,
            "seconds": round(handler.seconds, 4), "result": handler.result,
            "origin": handler.origin, "error": handler.error, "traceback": handler.traceback,
        },
    }


def proof_json(report: ProofReport) -> dict[str, Any]:
    """The `test --json` document body (also each artifact's "test_report" in
    `build --test-report --json`)."""
    from lambdalayer.proof.runner import host_description

    check = report.check
    return {
        "source": report.source,
        "status": report.status,
        "ok": report.status == "passed",
        "host": host_description(),
        "imports_from": report.imports_from,
        "targets": [_run_json(run) for run in report.runs],
        "problems": list(report.problems),
        "check": None if check is None else {
            "ok": check.ok, "targets": list(check.targets),
            "findings": [f.as_dict() for f in check.findings],
        },
    }


def render_proof(report: ProofReport) -> None:
    """People's output for one report: stdout (stderr under --json)."""
    from rich.markup import escape

    from lambdalayer.proof.runner import host_description

    console = human_console()
    console.print(f"[bold]lambdalayer test {escape(report.source)}[/] on "
                  f"{escape(host_description())}")
    for problem in report.problems:
        console.print(f"  [yellow]not extracted:[/] {escape(problem)}")
    for run in report.runs:
        if run.status == "not-run":
            console.print(f"[yellow]- {run.target} not run:[/] {escape(run.reason or '')}")
            continue
        passed, failed = marks()
        mark = f"[green]{passed}[/]" if run.status == "passed" else f"[bold red]{failed}[/]"
        if run.covered_by:
            console.print(f"{mark} {run.target}: {run.status} (pure Python, the same files as "
                          f"{run.covered_by})")
            continue
        count = len(run.imports)
        how = "" if run.how in (None, "native") else f" under {escape(run.how or '')}"
        console.print(f"{mark} {run.target} on CPython {run.python_version}{how} "
                      f"({escape(run.interpreter or '')}): {count} import"
                      f"{'s' * (count != 1)} in {run.seconds:.2f} s")
        if run.sandbox:
            _print_sandbox(console, run.sandbox)
        if run.reason:
            console.print(f"    [red]{escape(run.reason)}[/]")
        width = max((len(i.module) for i in run.imports), default=0)
        for result in run.imports:
            if result.ok:
                origin = escape(result.origin or "")
                console.print(f"    [green]ok[/]   {escape(f'{result.module:<{width}}')} "
                              f"{result.seconds * 1000:7.1f} ms  [dim]{origin}[/]")
            else:
                console.print(f"    [red]FAIL[/] {escape(f'{result.module:<{width}}')} "
                              f"[red]{escape(result.error or '')}[/]")
                _print_traceback(result.traceback)
        handler = run.handler
        if handler is not None:
            verb = "invoked" if handler.invoked else "loaded"
            if handler.ok:
                console.print(f"    [green]ok[/]   handler {escape(handler.handler)} {verb} in "
                              f"{handler.seconds * 1000:.1f} ms")
                if handler.invoked:
                    console.print(f"         returned {escape(json.dumps(handler.result))}")
            else:
                console.print(f"    [red]FAIL[/] handler {escape(handler.handler)}: "
                              f"[red]{escape(handler.error or '')}[/]")
                _print_traceback(handler.traceback)
    if report.check is not None:
        _render_check(report)
    console.print(_summary(report))


def _print_traceback(text: str | None) -> None:
    if not text or "Traceback" not in text:
        return  # no frames of the layer's own code: the error line said it all
    from rich.markup import escape

    lines = text.rstrip().splitlines()
    shown = lines[-_TRACEBACK_LINES:]
    if len(lines) > len(shown):
        shown.insert(0, "...")
    human_console().print("[dim]" + escape("\n".join(f"         {line}" for line in shown))
                          + "[/]")


def _render_check(report: ProofReport) -> None:
    from rich.markup import escape

    check = report.check
    assert check is not None
    console = human_console()
    console.print(f"Ran `lambdalayer check` for {', '.join(check.targets)} instead:")
    seen: dict[tuple[str, str, str], list[str]] = {}
    for finding in check.findings:
        seen.setdefault((finding.severity, finding.code, finding.message), []).append(
            finding.path or "-")
    for (severity, code, message), paths in seen.items():
        colour = {"error": "red", "warning": "yellow"}.get(severity, "dim")
        more = f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""
        console.print(f"  [{colour}]{severity}[/] {escape(code)} {escape(paths[0])}{more}: "
                      f"{escape(message)}")
    if not check.findings:
        console.print("  no findings")


def _summary(report: ProofReport) -> str:
    from rich.markup import escape

    passed = [str(r.target) for r in report.runs if r.status == "passed"]
    failed = [str(r.target) for r in report.runs if r.status == "failed"]
    skipped = [str(r.target) for r in report.runs if r.status == "not-run"]
    parts = []
    if passed:
        parts.append(f"[green]passed[/] {', '.join(passed)}")
    if failed:
        first = next(r for r in report.runs if r.status == "failed").target
        parts.append(f"[bold red]failed[/] {', '.join(failed)} — this would fail on Lambda "
                     f"too; `lambdalayer check {escape(report.source)} --runtime "
                     f"{first.runtime.name} --arch {first.arch}` looks for why")
    if skipped:
        parts.append(f"[yellow]not run[/] {', '.join(skipped)}")
    return "; ".join(parts) + f" (exit {proof_exit_code([report])})"


def _print_sandbox(console: Console, sandbox: str) -> None:
    """How the run was sandboxed, dim; a warning when it was not
    (docs/sandbox-and-limits.md)."""
    from rich.markup import escape

    from lambdalayer.proof.result import sandbox_kind, unsandboxed_warning

    if sandbox_kind(sandbox) == "none":  # a warning: stderr, with the other diagnostics
        warning = unsandboxed_warning(sandbox).removeprefix("warning: ")
        error_console().print(f"[yellow]warning:[/] {escape(warning)}")
    else:
        console.print(f"    [dim]{escape(sandbox)}[/]")
