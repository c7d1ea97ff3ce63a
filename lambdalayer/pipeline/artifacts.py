"""The last stage: each proven layer's zip, SBOM and manifest, swapped into dist/ together.

Takes `Writing` (the request's output folder and what the manifest records of it) and
every `StagedLayer`; gives one `Artifact` per layer. Nothing reaches dist/ before every
zip is complete and every tree is as the audit read it (AuditError otherwise); a full
disk leaves the previous zip, SBOM and manifest as they were.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalayer import __version__
from lambdalayer.archive.manifest import (
    FindingRecord,
    Manifest,
    PackageRecord,
    ProofRecord,
    manifest_lock,
    manifest_path_for,
    read_manifest,
)
from lambdalayer.common import interrupt
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import FileStamp, replace_retrying, write_atomic
from lambdalayer.common.progress import Progress
from lambdalayer.pipeline.auditing import unchanged_since_audit
from lambdalayer.pipeline.request import Artifact
from lambdalayer.pipeline.resolving import LayerPlan
from lambdalayer.pipeline.zips import LayerZips
from lambdalayer.proof.prove import ArtifactProof, Overlap
from lambdalayer.reports.sizing import SizeReport, with_compressed
from lambdalayer.supply.sbom import LayerFacts
from lambdalayer.targets.target import Target

if TYPE_CHECKING:
    from lambdalayer.pipeline.wheel_streams.reuse import WheelStreams
    from lambdalayer.proof.compile import CompileReport


@dataclass(frozen=True, kw_only=True)
class Writing:
    """What the artifacts stage takes from the request."""

    name: str  # the layer's, whatever its zips are called (NAME-ARCH per architecture)
    out_dir: Path
    recipe: str | None
    description: str | None  # --description, else the recipe's
    license: str | None  # --license, else the recipe's
    proof_imports: tuple[str, ...]  # --proof-import, else the recipe's
    allowed: tuple[str, ...]  # --allow, sorted
    # sboms.layer_facts with the request bound (its direct URLs, local projects, own code).
    sbom_facts: Callable[..., LayerFacts]


@dataclass(kw_only=True)
class StagedLayer:
    """One layer on its way through the stages (stages.py fills it in, stage by stage)."""

    plan: LayerPlan
    root: Path
    site_dirs: dict[Path, list[InstalledDist]] = field(default_factory=dict)
    site_targets: dict[Path, Target] = field(default_factory=dict)
    sizes: SizeReport | None = None
    findings: list[FindingRecord] = field(default_factory=list)
    allow: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    proof: ArtifactProof | None = None
    # Every file as the proof, the audit and the zip see it: the zip must hold exactly that.
    stamps: dict[str, FileStamp] = field(default_factory=dict)
    # The audit starts once the proof's box did; what only fills the proof's bytecode
    # cache ends when stages._run closes it, after the artifacts are written.
    overlap: Overlap = field(default_factory=Overlap)


def write_artifacts(writing: Writing, layers: list[StagedLayer],
                    compiled: dict[str, CompileReport], warnings: list[str],
                    zips: LayerZips, inputs_hash: str, record: dict[str, Any],
                    progress: Progress | None, streams: WheelStreams) -> list[Artifact]:
    """Each staged layer's zip (finished, or written now) and its manifest, swapped into
    place together. Adds the zips' warnings to `warnings`."""
    done = []
    for item in layers:
        if progress and not zips.ready(item.plan.name):
            progress(f"writing {item.plan.name}.zip")
        done.append(zips.result(item.plan.name, item.root, item.site_dirs))
    warnings.extend(zips.warnings)
    for item in layers:
        unchanged_since_audit(item.plan.name, item.root, item.stamps)
    for zipped in done:
        warnings.extend(zipped.warnings)
    record, inputs_hash = _note_unavailable(streams, record, inputs_hash, warnings)
    artifacts = []
    for item, zipped in zip(layers, done, strict=True):
        assert item.sizes is not None  # measured by stages._prepare before anything is zipped
        zip_path = writing.out_dir / f"{item.plan.name}.zip"
        sizes = with_compressed(item.sizes, zipped.stats.members, zipped.stats.size)
        manifest = _manifest(writing, item, zip_path, zipped.sha256, zipped.code_sha256,
                             zipped.stats.size, zipped.stats.unzipped_size, sizes,
                             inputs_hash, record)
        manifest.proof = _proof_records(item.proof)
        facts = writing.sbom_facts(
            name=item.plan.name, zip_path=zip_path, targets=item.plan.targets, root=item.root,
            site_dirs=item.site_dirs, resolutions=item.plan.resolutions, streams=streams,
            sha256=zipped.sha256, code_sha256=zipped.code_sha256, inputs_hash=inputs_hash)
        up_to_date = _swap_in(zips, zipped.partial, zip_path, manifest, facts)
        artifacts.append(Artifact(name=item.plan.name, zip_path=zip_path,
                                  manifest_path=manifest_path_for(zip_path), manifest=manifest,
                                  sizes=sizes, up_to_date=up_to_date,
                                  compiled=compiled.get(item.plan.name), proof=item.proof))
    return artifacts


def _swap_in(zips: LayerZips, partial: Path, zip_path: Path, manifest: Manifest,
             facts: LayerFacts) -> bool:
    """The zip, its SBOM and its manifest swapped into place as one step; True when the
    zip's bytes are those of the previous one."""
    from lambdalayer.pipeline.sboms import stage_sbom
    from lambdalayer.supply.sbom import sbom_path_for

    sbom_path = sbom_path_for(zip_path)
    staged_sbom = stage_sbom(facts, sbom_path)
    zips.partials.append(staged_sbom)
    manifest.sbom = sbom_path.name
    manifest_path = manifest_path_for(zip_path)
    with manifest_lock(manifest_path):  # a publish may be recording into it right now
        previous = _previous_manifest(manifest_path)
        old_sha = previous.sha256 if previous else None
        if previous is not None and old_sha == manifest.sha256:
            # Same bytes: the versions published from the old zip are this zip's too.
            manifest.published = list(previous.published)
        # Both files are complete on disk before either is swapped in: a full disk
        # fails here and leaves the previous pair as it was.
        staged_manifest = manifest_path.with_name(
            f".{manifest_path.name}.{os.getpid()}.partial")
        zips.partials.append(staged_manifest)
        write_atomic(staged_manifest, manifest.to_json().encode("utf-8"),
                     shown_as=manifest_path)
        with interrupt.deferred():
            replace_retrying(partial, zip_path)
            replace_retrying(staged_sbom, sbom_path)
            replace_retrying(staged_manifest, manifest_path)
    return old_sha == manifest.sha256


def _note_unavailable(streams: WheelStreams, record: dict[str, Any], inputs_hash: str,
                      warnings: list[str]) -> tuple[dict[str, Any], str]:
    """The record and inputs hash, naming the wheels this build could not have (their
    files deflated here: the zip differs from an online build's), and a warning."""
    from lambdalayer.archive.manifest import hash_inputs
    from lambdalayer.pipeline.wheel_streams.reuse import UNAVAILABLE_KEY, unavailable_warning

    missing = streams.unavailable()
    if not missing:
        return record, inputs_hash
    warnings.append(unavailable_warning(missing))
    return ({**record, UNAVAILABLE_KEY: sorted(missing)},
            hash_inputs({"inputs_hash": inputs_hash, UNAVAILABLE_KEY: sorted(missing)}))


def _previous_manifest(manifest_path: Path) -> Manifest | None:
    try:
        return read_manifest(manifest_path) if manifest_path.exists() else None
    except UsageError:
        return None


def _proof_records(proof: ArtifactProof | None) -> list[ProofRecord]:
    """The manifest's record of the proof behind the zip: each target, and the sandbox
    its code ran in (the GitHub Action's summary reads it; docs/json.md)."""
    if proof is None:
        return []
    return [ProofRecord(target=t.target, status=t.status, sandbox=t.sandbox,
                        sandbox_kind=t.sandbox_kind) for t in proof.targets]


def _manifest(writing: Writing, item: StagedLayer, zip_path: Path, sha256: str,
              code_sha256: str, size: int, unzipped: int, sizes: SizeReport,
              inputs_hash: str, record: dict[str, Any]) -> Manifest:
    by_size = {(p.name, p.version): p.size for p in sizes.packages}
    packages: dict[tuple[str, str], PackageRecord] = {}
    for dists in item.site_dirs.values():
        for dist in dists:
            key = (dist.name, dist.version)
            if key not in packages:
                packages[key] = PackageRecord(
                    name=dist.name, version=dist.version, tags=list(dist.tags),
                    size=by_size.get((dist.display_name, dist.version), 0),
                )
    return Manifest(
        # The layer's name, whatever the zip is called: a native layer built for both
        # architectures is NAME-x86_64.zip and NAME-arm64.zip, published as two versions
        # of NAME, as when two CI jobs build one architecture each (docs/ci.md).
        name=writing.name,
        zip=zip_path.name,
        sha256=sha256,
        code_sha256=code_sha256,
        size=size,
        unzipped_size=unzipped,
        runtimes=list(dict.fromkeys(t.runtime.name for t in item.plan.targets)),
        architectures=list(dict.fromkeys(t.arch for t in item.plan.targets)),
        packages=sorted(packages.values(), key=lambda p: p.name),
        tool_version=__version__,
        inputs_hash=inputs_hash,
        inputs=record,
        recipe=writing.recipe,
        description=writing.description,
        license=writing.license,
        proof_imports=list(writing.proof_imports),
        findings=item.findings,
        allowed=list(writing.allowed),
    )
