"""Stage 4, audit: can this layer load on its target?

Takes a layer tree or a zip (read by `common/zipread.py`, the safe extractor) and the
targets; gives an `AuditReport` of findings (a published layer is downloaded
by aws/download.py first).

    report = audit_layer(Path("build/pg8000"), [Target.parse("python3.12", "x86_64")])
    if not report.ok: ...   # report.errors: error findings not waived by `allow`

`audit_layer` takes a layer tree; `check_path` a directory or zip. Readers live in `elf.py` (no
policy), rules in `rules.py`; nothing here prints.
"""

from __future__ import annotations

from lambdalayer.audit.check import (
    audit_layer,
    audit_tree,
    check_path,
    looks_like_layer_arn,
)
from lambdalayer.audit.findings import AuditReport, Finding, merge_findings

__all__ = [
    "AuditReport",
    "Finding",
    "audit_layer",
    "audit_tree",
    "check_path",
    "looks_like_layer_arn",
    "merge_findings",
]
