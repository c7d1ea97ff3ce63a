"""The audit stage: a layer's tree judged before the proof, and again with what it loaded.

Takes `Auditing` (the request's --allow, --deny-licence and the layer's name) and one
layer's tree; gives the findings the manifest keeps. AuditError (exit 4) when the
layer would not load on a target, a licence is denied, or a file changed after the
audit read it; the message fits a screen (one line per package and kind of error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.archive.manifest import FindingRecord
from lambdalayer.common.errors import AuditError
from lambdalayer.common.fileio import FileStamp, changed_files
from lambdalayer.pipeline.resolving import LayerPlan
from lambdalayer.supply.inventory import refuse_denied_licences
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.audit.findings import AuditReport, Finding, FindingGroup
    from lambdalayer.proof.prove import ArtifactProof


@dataclass(frozen=True, kw_only=True)
class Auditing:
    """What the audit takes from the request."""

    layer: str  # the layer's name, which the printed fixes rebuild
    allow: frozenset[str]  # --allow CODE
    deny_licences: tuple[str, ...]  # --deny-licence
    # Only --include files (a binary or library layer): no python/ is intended.
    includes_only: bool


@dataclass(frozen=True, kw_only=True)
class Audited:
    findings: list[FindingRecord]
    allow: frozenset[str]  # what the audit accepted, for the second look (confirm_closure)


def audit(auditing: Auditing, plan: LayerPlan, root: Path) -> Audited:
    """The native-extension audit of `plan`'s tree at `root`, then the licences."""
    from lambdalayer.audit import audit_layer  # preloaded in a thread by stages._run

    allow = auditing.allow
    if auditing.includes_only and all(not r.dists for r in plan.resolutions):
        allow = allow | {"missing-python-dir"}
    findings = _records(audit_layer(root, plan.targets, allow=allow, layer=auditing.layer))
    refuse_denied_licences(root, auditing.deny_licences, plan.name)
    return Audited(findings=findings, allow=allow)


def confirm_closure(auditing: Auditing, root: Path, targets: list[Target],
                    findings: list[FindingRecord], allow: frozenset[str],
                    proof: ArtifactProof) -> list[FindingRecord]:
    """The audit's static import closure checked against what the proof's interpreter
    mapped. Files the audit called on-demand are judged again with the mapped files
    (and what they link to) counted as loaded at import: one the imports reached (the
    package opened it with dlopen while importing) has its findings as errors again.
    A file of the closure the imports did not map changes nothing (a lazy import loads
    it later). `findings` and `allow` are the first audit's (`Audited`)."""
    mapped = frozenset(m for t in proof.targets for m in (t.mapped or ()))
    on_demand = {f.path for f in findings if f.load == "on-demand"}
    if not mapped or not on_demand:
        return findings
    from lambdalayer.audit import audit_layer

    report = audit_layer(root, targets, allow=allow, layer=auditing.layer,
                         mapped=mapped)
    missed = sorted({f.path for f in report.findings
                     if f.load == "import" and f.path in on_demand})
    if not missed:
        return findings
    shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
    note = (f"  The import proof loaded {shown} (mapped by the interpreter, or needed by a "
            "file it mapped), which no extension module links to: the package opens it "
            "with dlopen while it imports, so what it needs counts as needed at import, not "
            "on demand.\n")
    return _records(report, note)


def unchanged_since_audit(name: str, root: Path, stamps: dict[str, FileStamp]) -> None:
    """AuditError when a file of the layer changed after the audit read it (the proof
    ran third-party code meanwhile): what was zipped may not be what was audited."""
    changed = changed_files(root, stamps)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                          else "")
        raise AuditError(
            f"The files of {name} changed after the audit read them ({shown}); "
            "something ran during the build wrote into the layer, so no zip was written.",
            hint="Build again; if it repeats, a package in the layer writes into its own "
                 "files when imported: see docs/proof-threat-model.md.")


def _records(report: AuditReport, note: str = "") -> list[FindingRecord]:
    """The findings to keep, or AuditError when there are errors (`note` starts the
    list of what is wrong)."""
    records = [FindingRecord(severity=f.severity, code=f.code, path=f.path, message=f.message,
                             package=f.package, load=f.load) for f in report.findings]
    if report.errors:
        raise AuditError(
            f"The layer would not load on its target ({len(report.errors)} error(s)); "
            f"no zip was written.\n{note}{_grouped(report.errors)}",
            hint="Fix the requirements, or pass --allow CODE to accept a finding you have "
                 "checked yourself. Every file: --verbose or --json.",
            details=tuple(f.as_dict() for f in report.errors),
        )
    return records


_MAX_GROUPS = 5


def _grouped(errors: list[Finding]) -> str:
    """A refusal that fits a screen: per package and advice, one line naming what is
    wrong (the missing libraries, with a file count) and one line of advice."""
    from lambdalayer.audit.findings import group_findings

    clusters: dict[tuple[str, tuple[str, ...], str], list[FindingGroup]] = {}
    for group in group_findings(errors):
        advice = _advice(group.example.message) if group.subject else group.example.message
        clusters.setdefault((group.code, group.packages, advice), []).append(group)
    lines = []
    for (code, packages, advice), groups in list(clusters.items())[:_MAX_GROUPS]:
        paths = list(dict.fromkeys(p for g in groups for p in g.paths))
        subjects = ", ".join(g.subject for g in groups if g.subject)
        what = f"{code} {subjects}" if subjects else code
        shown = (", ".join(p or "(layer)" for p in paths) if len(paths) <= 3
                 else f"e.g. {paths[0]}")
        where = ", ".join(packages) or "the layer"
        absent = re.search(r"neither in the layer nor on ([^:(]+)", groups[0].example.message)
        why = f"not on {absent.group(1).strip()}; " if absent else ""
        lines.append(f"  {what}: {why}{len(paths)} file{'s' * (len(paths) != 1)} in {where} "
                     f"({shown}):")
        lines.append(f"    {advice}")
    if len(clusters) > _MAX_GROUPS:
        lines.append(f"  ... and {len(clusters) - _MAX_GROUPS} more kinds of error.")
    return "\n".join(lines)


def _advice(message: str) -> str:
    """What to do, from a finding about one library or symbol: its message after the
    statement of what fails (the sentence ending in "cannot open shared object file.")."""
    marker = "cannot open shared object file. "
    return message.split(marker, 1)[1] if marker in message else message
