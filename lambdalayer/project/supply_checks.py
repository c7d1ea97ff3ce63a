"""What ships in each zip `build` made, for its summary: the licence of every distribution
and, with `--vulns` (config `vulns = true`, LAMBDALAYER_VULNS=1), what the vulnerability
service knows about them (docs/supply-chain.md).

Run after the zips, SBOMs and manifests are in place: the answer is recorded in each
manifest's `vulns` (for `report` and the GitHub Action), and a service that cannot be
asked is one line in the report, never a failure by itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import UsageError

if TYPE_CHECKING:  # osv.py imports packaging: only when --vulns asks
    from lambdalayer.archive.manifest import LicenceRecord
    from lambdalayer.pipeline.request import Artifact
    from lambdalayer.supply.inventory import Shipped
    from lambdalayer.supply.osv import VulnReport
# supply/ and the manifest's module are imported where the zips are read: `build` asks for
# VulnSettings before uv starts, and every ms there is on a cold build's critical path.

SERVICE_ENV = "LAMBDALAYER_VULN_SERVICE"


@dataclass(frozen=True, kw_only=True)
class VulnSettings:
    """`--vulns` after precedence, `--fail-on`, and the service to ask."""

    enabled: bool | None = None  # None: not given on the command line (the config decides)
    fail_on: str | None = None  # "any" | "high" | "critical"
    service: str | None = None  # --vuln-service; else $LAMBDALAYER_VULN_SERVICE, else OSV


@dataclass(frozen=True, kw_only=True)
class ArtifactSupply:
    """One zip's distributions (with their licences) and, when asked, its vulnerabilities."""

    name: str
    zip_path: Path
    distributions: tuple[Shipped, ...]
    vulns: VulnReport | None = None  # None: not asked


def service_for(flag: str | None) -> str:
    """--vuln-service, else $LAMBDALAYER_VULN_SERVICE, else OSV's public API."""
    from lambdalayer.supply.osv import DEFAULT_SERVICE

    return flag or os.environ.get(SERVICE_ENV) or DEFAULT_SERVICE


def require_vulns(settings: VulnSettings) -> None:
    """UsageError for --fail-on / --vuln-service when nothing asks about vulnerabilities."""
    if (settings.fail_on or settings.service) and not settings.enabled:
        raise UsageError("--fail-on and --vuln-service go with --vulns: add --vulns (or "
                         "`vulns = true` in the config, or LAMBDALAYER_VULNS=1).")


def layer_vulns(source: Path, service: str | None,
                shipped: Iterable[Shipped] | None = None) -> VulnReport:
    """The vulnerabilities of the layer zip or folder `source` (its distributions as read,
    unless given)."""
    from lambdalayer.common.cache import usable_root
    from lambdalayer.supply.inventory import layer_distributions
    from lambdalayer.supply.osv import query

    found = layer_distributions(source) if shipped is None else shipped
    return query([(d.name, d.version) for d in found], service=service_for(service),
                 cache_root=usable_root())


def supply_checks(artifacts: Iterable[Artifact],
                  settings: VulnSettings) -> tuple[ArtifactSupply, ...]:
    """Each artifact's licences and (when enabled) vulnerabilities, both recorded in the
    manifest of a zip built now; an up-to-date zip's licences come from its manifest
    (whose digest the up-to-date check matched against the zip) when it records them."""
    from lambdalayer.supply.inventory import layer_distributions

    checked = []
    for artifact in artifacts:
        recorded = artifact.manifest.licences
        shipped = (tuple(layer_distributions(artifact.zip_path)) if recorded is None
                   else tuple(_shipped(record) for record in recorded))
        report = layer_vulns(artifact.zip_path, settings.service, shipped) \
            if settings.enabled else None
        built_now = artifact.sizes is not None
        if report is not None or (built_now and recorded is None):
            _record(artifact.manifest_path, report, shipped if built_now else None)
        checked.append(ArtifactSupply(name=artifact.name, zip_path=artifact.zip_path,
                                      distributions=shipped, vulns=report))
    return tuple(checked)


def licence_records(shipped: Iterable[Shipped]) -> list[LicenceRecord]:
    """What the manifest keeps of each distribution's licence (archive/manifest.py)."""
    from lambdalayer.archive.manifest import LicenceRecord

    return [LicenceRecord(name=d.name, version=d.version, expression=d.licence.expression,
                          names=list(d.licence.names), source=d.licence.source)
            for d in shipped]


def _shipped(record: LicenceRecord) -> Shipped:
    from lambdalayer.supply.inventory import Shipped
    from lambdalayer.supply.licences import Licence

    return Shipped(name=record.name, version=record.version,
                   licence=Licence(expression=record.expression, names=tuple(record.names),
                                   source=record.source))


def _record(manifest_path: Path, report: VulnReport | None,
            shipped: tuple[Shipped, ...] | None) -> None:
    """The answer and (for a zip built now) its licences in the manifest beside the zip,
    under the lock `publish` also takes."""
    from lambdalayer.archive.manifest import manifest_lock, read_manifest, write_manifest

    with manifest_lock(manifest_path):
        manifest = read_manifest(manifest_path)
        if report is not None:
            manifest.vulns = report.as_dict()
        if shipped is not None:
            manifest.licences = licence_records(shipped)
        write_manifest(manifest_path, manifest)
