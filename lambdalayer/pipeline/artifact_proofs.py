"""`build --test-report`: what `lambdalayer test` finds in each zip the build wrote.

Returns the reports; the CLI renders them and turns them into exit 6/7.
"""

from __future__ import annotations

from collections.abc import Sequence

from lambdalayer.interpreters.configured import ConfiguredInterpreters
from lambdalayer.pipeline.request import Artifact
from lambdalayer.proof.runner import ProofReport


def prove_artifacts(artifacts: Sequence[Artifact], *, configured: ConfiguredInterpreters,
                    timeout: float = 120.0, sandbox_required: bool = False
                    ) -> list[ProofReport]:
    """`build --test-report`: test each built zip for its manifest's runtimes and architectures.
    `sandbox_required`: as run_proof's (`--proof-sandbox required`).

    A zip this build just proved is not imported again: its proof ran exactly these
    imports on the tree the zip holds (pipeline/proving.prove), and those runs are the report.
    """
    from lambdalayer.proof.prove import proof_report_of
    from lambdalayer.proof.runner import run_proof
    from lambdalayer.targets.target import expand_targets

    reports = []
    for artifact in artifacts:
        m = artifact.manifest
        targets = expand_targets(list(m.runtimes), list(m.architectures))
        proof = artifact.proof
        reused = None if proof is None else proof_report_of(
            proof, artifact.zip_path, targets, "manifest" if m.proof_imports else "layer")
        reports.append(reused or run_proof(
            artifact.zip_path, targets, imports=list(m.proof_imports), imports_from="manifest",
            timeout=timeout, fallback_check=False,  # build has just audited it
            configured=configured, bytecode_scope=str(artifact.zip_path.resolve()),
            sandbox_required=sandbox_required))
    return reports
