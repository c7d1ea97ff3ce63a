"""The proof summary: one line per target, the proving glibc noted once per run."""

from __future__ import annotations

from lambdalayer.proof.result import (
    ArtifactProof,
    TargetProof,
    glibc_note,
    run_notes,
    sandbox_kind,
)


def _proved(target: str) -> TargetProof:
    return TargetProof(target=target, status="passed", how="native", python_version="3.12.8",
                       glibc="2.36", glibc_newer=True)


def test_the_newer_glibc_is_said_once_for_the_run() -> None:
    proofs: list[ArtifactProof | None] = [
        ArtifactProof(status="passed", targets=(_proved("python3.12/x86_64"),
                                                _proved("python3.13/x86_64"))),
        ArtifactProof(status="passed", targets=(_proved("python3.12/arm64"),)),
        None,
    ]
    lines = [t.line() for p in proofs if p is not None for t in p.targets]
    assert all("glibc" not in line for line in lines)
    note = glibc_note(proofs)
    assert note is not None and note.count("2.36") == 1


def test_no_note_when_the_glibc_is_lambdas_own() -> None:
    same = TargetProof(target="python3.12/x86_64", status="passed", how="native",
                       python_version="3.12.8", glibc="2.34")
    assert glibc_note([ArtifactProof(status="passed", targets=(same,))]) is None


def test_how_the_sandbox_was_made_is_said_once_for_the_run() -> None:
    how = "sandboxed (bwrap: user, PID, network, IPC and UTS namespaces)"
    proofs: list[ArtifactProof | None] = [ArtifactProof(status="passed", targets=tuple(
        TargetProof(target=f"python3.{minor}/x86_64", status="passed", how="native",
                    python_version=f"3.{minor}.1", sandbox=how) for minor in (11, 12, 13)))]
    lines = [t.line() for p in proofs if p is not None for t in p.targets]
    assert all(line.endswith(", sandboxed") for line in lines)
    assert run_notes(proofs) == [f"note: the proof ran {how}."]


def test_a_missing_sandbox_stays_on_every_line() -> None:
    line = TargetProof(target="python3.12/x86_64", status="passed", how="native",
                       python_version="3.12.1",
                       sandbox="NOT sandboxed (no bwrap or unshare here)").line()
    assert line.endswith(", NOT sandboxed")


def test_the_sandbox_kind_is_read_from_the_proof_lines_text() -> None:
    assert sandbox_kind("sandboxed (bwrap: user, PID namespaces, read-only host files)") \
        == "bwrap"
    assert sandbox_kind("sandboxed (box: user, PID namespaces)") == "box"
    assert sandbox_kind("sandboxed (unshare: user, PID namespaces)") == "box"  # the fallback
    assert sandbox_kind("NOT sandboxed (no bwrap here); only its environment is scrubbed") \
        == "none"
    assert sandbox_kind(None) is None  # the target did not run
    assert TargetProof(target="python3.12/x86_64", status="skipped").sandbox_kind is None


def test_a_proof_without_a_sandbox_is_a_warning_not_a_note() -> None:
    bare = "NOT sandboxed (LAMBDALAYER_SANDBOX=none); only its environment is scrubbed"
    boxed = "sandboxed (bwrap: user, PID, network, IPC and UTS namespaces)"
    proofs: list[ArtifactProof | None] = [ArtifactProof(status="passed", targets=tuple(
        TargetProof(target=f"python3.12/{arch}", status="passed", how="native",
                    python_version="3.12.1", sandbox=how)
        for arch, how in (("x86_64", bare), ("arm64", boxed))))]
    warning, note = run_notes(proofs)
    assert warning.startswith(f"warning: the proof ran {bare}. Install bubblewrap")
    assert "--proof-sandbox required" in warning
    assert note == f"note: the proof ran {boxed}."
