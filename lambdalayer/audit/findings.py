"""The audit's result types: plain frozen data that `build`, `check` and the manifest share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, kw_only=True, order=True)
class Finding:
    """One thing the audit noticed. `code` is a stable kebab-case name (see README);
    `path` is the file's path inside the layer ("python/psycopg2/_psycopg....so"), or
    "" for the layer as a whole; `package` is the distribution that installed it."""

    path: str
    code: str
    severity: str
    message: str
    package: str | None = None
    # What the finding is about, for grouping: a missing soname or a symbol version.
    subject: str | None = field(default=None, compare=False)
    # For findings about loading a native file (audit/closure.py): "import" when importing
    # the layer's extension modules maps it, "on-demand" when only a dlopen for some
    # feature does; None for everything else.
    load: str | None = None
    # The command inside `message` that fixes it, so a listing can say it once per package.
    fix: str | None = field(default=None, compare=False)
    # Where the facts behind the finding come from (research ids in docs/): --json/--verbose.
    evidence: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def as_dict(self) -> dict[str, str | None]:
        document = {"severity": self.severity, "code": self.code, "path": self.path,
                    "message": self.message, "package": self.package,
                    "load": self.load}
        if self.fix:
            document["fix"] = self.fix
        if self.evidence:
            document["evidence"] = self.evidence
        return document

    def summary(self) -> str:
        """The message with its fix command left out (a listing prints the fix once)."""
        if not self.fix:
            return self.message
        return self.message.replace(f": {self.fix}", "").replace(f" ({self.fix})", "").replace(
            self.fix, "the command below")


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    """Everything found in one layer for one or more targets.

    `errors` are the error findings whose code is not in `allow`: the layer is `ok`
    (will load, within Lambda's limits) when there are none.
    """

    findings: list[Finding]
    allow: frozenset[str] = frozenset()
    files: int = 0
    unzipped_size: int = 0
    zipped_size: int | None = None
    targets: tuple[str, ...] = field(default=())
    # NAME==VERSION of every distribution in the layer (its dist-info), for rebuild fixes.
    pins: tuple[str, ...] = field(default=())

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error" and f.code not in self.allow]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def allowed(self, finding: Finding) -> bool:
        """True for an error finding that `--allow` waived."""
        return finding.severity == "error" and finding.code in self.allow


_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Drop exact duplicates (the same file found for several targets); errors first."""
    unique = set(findings)
    return sorted(unique, key=lambda f: (_RANK[f.severity], f.package or "", f.path, f.code,
                                         f.message))


@dataclass(frozen=True, kw_only=True)
class FindingGroup:
    """Findings sharing (code, subject): one line of a refusal instead of one per file."""

    severity: str
    code: str
    subject: str | None
    paths: tuple[str, ...]
    packages: tuple[str, ...]
    example: Finding


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Group by (severity, code, subject); a finding without a subject groups by package."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in merge_findings(findings):
        key = finding.subject if finding.subject is not None else f"pkg:{finding.package}"
        groups.setdefault((finding.severity, finding.code, key), []).append(finding)
    return [
        FindingGroup(severity=members[0].severity, code=members[0].code,
                     subject=members[0].subject,
                     paths=tuple(dict.fromkeys(f.path for f in members)),
                     packages=tuple(sorted({f.package for f in members if f.package})),
                     example=members[0])
        for members in groups.values()
    ]
