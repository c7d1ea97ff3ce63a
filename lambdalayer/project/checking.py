"""`check`'s core: which targets and layer name a source is audited for, then the audit.

A zip that `build` wrote has its manifest beside it (dist/NAME.json): its runtimes and
architectures are the targets, unless --runtime/--arch say otherwise, and its name is
the layer the printed fixes rebuild. The same rule as `test`, `diff` and `report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.archive.manifest import manifest_beside
from lambdalayer.common.errors import UsageError

if TYPE_CHECKING:
    from lambdalayer.audit.findings import AuditReport
    from lambdalayer.targets.target import Target

# Without a manifest and without --arch, the architecture most functions use.
_DEFAULT_ARCH = "x86_64"


def check_targets(source: str, runtimes: tuple[str, ...],
                  archs: tuple[str, ...]) -> tuple[list[Target], str | None]:
    """(targets, layer name from the manifest or None) for `check SOURCE`."""
    from lambdalayer.audit import looks_like_layer_arn
    from lambdalayer.targets.target import expand_targets

    manifest = None if looks_like_layer_arn(source) else manifest_beside(Path(source))
    chosen_runtimes = list(runtimes or (manifest.runtimes if manifest else ()))
    if not chosen_runtimes:
        if not looks_like_layer_arn(source) and not Path(source).exists():
            raise UsageError(f"{source} does not exist.",
                             hint="Give a layer directory, a layer .zip or a layer version "
                                  "ARN.")
        raise UsageError(
            f"Which runtime? {source} has no lambdalayer manifest beside it that would say: "
            "give --runtime (e.g. --runtime python3.12), and --arch arm64 for a Graviton "
            "layer.")
    chosen_archs = list(archs or (manifest.architectures if manifest else ())
                        or (_DEFAULT_ARCH,))
    return expand_targets(chosen_runtimes, chosen_archs), manifest.name if manifest else None


def check_source(source: str, *, runtimes: tuple[str, ...], archs: tuple[str, ...],
                 allow: frozenset[str], region: str | None, profile: str | None,
                 endpoint_url: str | None, sbom: Path | None = None) -> AuditReport:
    """Audit a layer directory, zip or layer version ARN for its targets; with `sbom`,
    write the zip's (or the published version's) CycloneDX SBOM there too."""
    from lambdalayer.audit import check_path, looks_like_layer_arn
    from lambdalayer.aws.download import check_layer_arn

    targets, layer = check_targets(source, runtimes, archs)
    if sbom is not None:  # up front, before a download
        from lambdalayer.common.safepaths import check_writable

        check_writable(sbom, option="--sbom", want_dir=False)
    if looks_like_layer_arn(source):
        return check_layer_arn(
            source, targets, allow=allow, region=region, profile=profile,
            endpoint_url=endpoint_url, also=None if sbom is None else
            lambda archive: existing_sbom(archive, sbom, targets, name=_arn_name(source)))
    if sbom is not None:
        existing_sbom(Path(source), sbom, targets, name=layer)
    # The fix rebuilds what the layer holds, pinned as its manifest records it.
    manifest = manifest_beside(Path(source))
    pins = [f"{p.name}=={p.version}" for p in manifest.packages] if manifest else None
    return check_path(Path(source), targets, allow=allow, layer=layer, pins=pins)


def existing_sbom(zip_path: Path, out: Path, targets: list[Target], *,
                  name: str | None) -> Path:
    """Write the SBOM of an existing layer zip (docs/supply-chain.md); the manifest beside
    it, if any, gives the layer's name, inputs hash and (without `targets`) its targets.
    UsageError for a folder."""
    from lambdalayer.supply.existing import write_zip_sbom

    if not zip_path.is_file():
        raise UsageError(f"--sbom: {zip_path} is not a zip; an SBOM describes a layer zip.",
                         hint="Give the layer's .zip (or its ARN).")
    manifest = manifest_beside(zip_path)
    if not targets and manifest is not None:
        from lambdalayer.targets.target import expand_targets

        targets = expand_targets(manifest.runtimes, manifest.architectures)
    return write_zip_sbom(
        zip_path, out, name=name or (manifest.name if manifest else zip_path.stem),
        targets=tuple(f"{t.runtime.name}/{t.arch}" for t in targets),
        inputs_hash=manifest.inputs_hash if manifest else "")


def _arn_name(arn: str) -> str | None:
    from lambdalayer.aws.arns import parse_layer_arn

    parsed = parse_layer_arn(arn)
    return parsed.name if parsed else None
