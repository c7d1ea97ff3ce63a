"""`build` from start to finish: flags and config in, built layers and their extras out.

Plans the requests (precedence.py) and applies the lock files, builds each
layer, then unpacks the zips (--unpacked), writes the HTML reports (--report)
and, with --test-report, tests each zip as `lambdalayer test` would. Returns data;
the CLI renders it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import UsageError
from lambdalayer.pipeline.layer import build_layer
from lambdalayer.pipeline.request import BuildRequest, BuildResult
from lambdalayer.project.precedence import BuildFlags

if TYPE_CHECKING:
    from lambdalayer.archive.unpack import Unpacked
    from lambdalayer.project.supply_checks import ArtifactSupply, VulnSettings
    from lambdalayer.proof.runner import ProofReport


@dataclass(frozen=True, kw_only=True)
class FunctionTarget:
    """--for-function: build for this Lambda function's runtime and architecture."""

    function: str
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class BuildOutcome:
    result: BuildResult
    unpacked: tuple[Unpacked, ...] | None = None  # with --unpacked
    reports: tuple[Path, ...] | None = None  # with --report
    test_reports: tuple[ProofReport, ...] | None = None  # with --test-report, one per artifact
    # Per artifact: its distributions' licences and, with --vulns, its vulnerabilities.
    supply: tuple[ArtifactSupply, ...] = ()
    fail_on: str | None = None  # --fail-on: exit 9 at this severity (after rendering)


def _summed(timings: Iterable[tuple[tuple[str, float], ...]]) -> tuple[tuple[str, float], ...]:
    total: dict[str, float] = {}
    for stage, seconds in (pair for one in timings for pair in one):
        total[stage] = total.get(stage, 0.0) + seconds
    return tuple(total.items())


def build_all(flags: BuildFlags, *, for_function: FunctionTarget | None = None,
              unpacked_dir: Path | None = None, report_file: Path | None = None,
              build: Callable[[BuildRequest], BuildResult] = build_layer,
              vulns: VulnSettings | None = None) -> BuildOutcome:
    """Every layer one `build` invocation makes (`build` builds one: build_layer with
    the caller's progress), and the extras asked for."""
    from lambdalayer.project.config import configured_interpreters, load_config
    from lambdalayer.project.outputs import check_build_outputs
    from lambdalayer.project.precedence import apply_locks, plan_builds
    from lambdalayer.project.supply_checks import VulnSettings, require_vulns, supply_checks

    flags = _with_function_target(flags, for_function)
    config = load_config()
    asked = vulns or VulnSettings()
    vulns = dataclasses.replace(asked, enabled=config.vulns_for(asked.enabled))
    require_vulns(vulns)
    requests, lock_warnings = apply_locks(plan_builds(flags, config), config,
                                          locked=flags.locked)
    # Every output path is judged before anything is written (docs/safety.md).
    check_build_outputs([r.out_dir for r in requests], config, unpacked=unpacked_dir,
                        report=report_file)
    results = [build(request) for request in requests]
    result = BuildResult(
        artifacts=tuple(a for r in results for a in r.artifacts),
        warnings=(*_index_notes(requests), *lock_warnings,
                  *(w for r in results for w in r.warnings)),
        timings=_summed(r.timings for r in results),
    )
    # Before the HTML reports, which show the vulnerabilities recorded in the manifests.
    supply = supply_checks(result.artifacts, vulns)
    unpacked = None if unpacked_dir is None else tuple(_unpack(result, unpacked_dir))
    reports = None if report_file is None else tuple(_reports(result, report_file))
    test_reports = None
    if flags.options.test_report:
        from lambdalayer.pipeline.artifact_proofs import prove_artifacts

        required = config.proof_sandbox_for(flags.proof_sandbox) == "required"
        test_reports = tuple(prove_artifacts(result.artifacts,
                                             configured=configured_interpreters(config),
                                             sandbox_required=required))
    return BuildOutcome(result=result, unpacked=unpacked, reports=reports,
                        test_reports=test_reports,
                        supply=supply, fail_on=vulns.fail_on)


def _index_notes(requests: Iterable[BuildRequest]) -> list[str]:
    """Once per run: indexes taken from pip's variables, or pip.conf's index-url unused."""
    from lambdalayer.resolve.index_settings import pip_conf_note

    notes: dict[str, None] = {}
    for request in requests:
        index = request.inputs.index
        notes.update(dict.fromkeys(index.origins))
        note = pip_conf_note(index, [f.text for f in request.inputs.files])
        if note:
            notes[note] = None
    return list(notes)


def _with_function_target(flags: BuildFlags, for_function: FunctionTarget | None) -> BuildFlags:
    """`flags` with the runtime and architecture of the --for-function function (from AWS)."""
    if for_function is None:
        return flags
    if flags.runtimes or flags.architectures:
        raise UsageError("--for-function reads the runtime and architecture from the "
                         "function; drop --runtime/--arch.")
    from lambdalayer.aws.functions import function_target

    runtime, arch = function_target(for_function.function, region=for_function.region,
                                    profile=for_function.profile,
                                    endpoint_url=for_function.endpoint_url)
    return dataclasses.replace(flags, runtimes=(runtime,), architectures=(arch,))


def _unpack(result: BuildResult, directory: Path) -> list[Unpacked]:
    from lambdalayer.archive.unpack import unpack_layers

    return unpack_layers([(a.name, a.zip_path) for a in result.artifacts], directory)


def _reports(result: BuildResult, report_file: Path) -> list[Path]:
    from lambdalayer.reports.html_report import make_report, write_report

    written = []
    for artifact in result.artifacts:
        path = report_file if len(result.artifacts) == 1 else report_file.with_name(
            f"{report_file.stem}-{artifact.name}{report_file.suffix}")
        write_report(make_report(artifact.zip_path), path)
        written.append(path)
    return written
