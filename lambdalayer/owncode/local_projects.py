"""Local projects (paths given as requirements) -> pure wheels uv can install for any target.

Resolution runs with `--only-binary :all:` (resolve/resolver.py), so a project directory
is first built into a wheel by its own build backend, in an isolated
environment (`uv build --wheel`), and then required by that wheel's file URL.
The wheel must be pure (`*-none-any`): a native one would carry this host's
machine code into a layer meant for another machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import ResolutionError, UsageError
from lambdalayer.common.redact import redact_text
from lambdalayer.common.uvtool import run_uv
from lambdalayer.resolve.requirements import (
    LocalRef,
    RequirementFile,
    RequirementInputs,
    logical_lines,
    split_local_line,
)

if TYPE_CHECKING:
    from lambdalayer.common.progress import Progress


def _keep_log(ref: LocalRef, text: str) -> Path | None:
    """Keep a local build's output in the cache, where it outlives the scratch directory;
    None (nothing written) when the cache directory is not lambdalayer's to write."""
    from lambdalayer.common.cache import LOGS_DIR, usable_root
    from lambdalayer.common.fileio import write_atomic

    root = usable_root()  # private and marked (the logs name your paths)
    if root is None:
        return None
    digest = hashlib.sha256(str(ref.path).encode()).hexdigest()[:12]
    path = root / LOGS_DIR / f"build-{ref.path.name}-{digest}.log"
    try:
        write_atomic(path, text.encode("utf-8", errors="replace"))
    except (OSError, UsageError):
        return None
    return path


def build_wheel(ref: LocalRef, out_dir: Path) -> Path:
    """Build `ref` into a pure wheel in `out_dir`; ResolutionError (with the log) otherwise."""
    if ref.path.is_file():
        return ref.path  # a wheel already: resolve/resolver.py checks it fits each target
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run_uv(["build", "--wheel", "--out-dir", str(out_dir), str(ref.path)])
    # An index token in uv's output never lands on disk.
    log = _keep_log(ref, redact_text(f"$ uv build --wheel {ref.path}\n{result.stdout}\n"
                                     f"{result.stderr}"))
    where = (f"The build's full output is in {log}." if log is not None else
             "The build's output was not kept: lambdalayer's cache directory is not usable.")
    wheels = sorted(out_dir.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        last = [ln for ln in result.stderr.strip().splitlines() if ln.strip()][-3:]
        raise ResolutionError(
            f"{ref.label}: building {ref.path} into a wheel failed: {' '.join(last)}",
            hint=where)
    wheel = wheels[0]
    from packaging.utils import parse_wheel_filename

    tags = parse_wheel_filename(wheel.name)[3]
    if not all(t.abi == "none" and t.platform == "any" for t in tags):
        raise ResolutionError(
            f"{ref.label}: {ref.path} builds a native wheel ({wheel.name}), compiled for "
            "this machine, which would not load on another Lambda runtime or architecture. "
            "A local project in a layer must be pure Python (a *-none-any wheel).",
            hint="Publish manylinux wheels of it (e.g. with cibuildwheel) and require them "
                 f"by name, or leave the extension out. {where}")
    return wheel


def _requirement(wheel: Path, *, hashed: bool) -> str:
    from packaging.utils import parse_wheel_filename

    line = f"{parse_wheel_filename(wheel.name)[0]} @ {wheel.as_uri()}"
    if hashed:  # a hash-checked file needs a hash on every line
        line += f" --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"
    return line


def _rewrite_file(req_file: RequirementFile, wheels: dict[Path, Path],
                  dest: Path) -> RequirementFile:
    base = req_file.base or req_file.path.parent
    lines = []
    for _, line in logical_lines(req_file.text):
        _, local = split_local_line(line, base)
        lines.append(_requirement(wheels[local], hashed=req_file.hashed)
                     if local is not None else line)
    from lambdalayer.resolve.requirements import parse_requirement_text

    text = "\n".join(lines) + "\n"
    dest.write_text(text, "utf-8")
    return replace(parse_requirement_text(text, dest, virtual=True), hashed=req_file.hashed)


def _rewrite(inputs: RequirementInputs, wheels: dict[Path, Path], work: Path) -> RequirementInputs:
    files = []
    for req_file in inputs.files:
        if req_file.local_projects or req_file.virtual:
            dest = work / f"requirements-{len(list(work.glob('requirements-*.txt')))}.txt"
            req_file = _rewrite_file(req_file, wheels, dest)
        files.append(req_file)
    specs = [*inputs.specs, *(_requirement(wheels[r.path], hashed=False)
                              for r in inputs.local_projects)]
    return RequirementInputs(specs=tuple(specs), files=tuple(files), index=inputs.index)


def with_local_wheels(inputs: RequirementInputs, target_inputs: Mapping[str, RequirementInputs],
                      work: Path, progress: Progress | None = None,
                      ) -> tuple[RequirementInputs, dict[str, RequirementInputs], frozenset[str]]:
    """`inputs` and the per-target `target_inputs` with every local project replaced by its
    built wheel (unchanged if none), and the local projects' distribution names
    (canonical: the proof imports each of them as a requested distribution).

    Requirements files that name local projects, or exist only in memory, are
    written to `work`; the wheels go to `work/local-wheels/`.
    """
    every = [inputs, *target_inputs.values()]
    if not any(i.all_local_projects or any(f.virtual for f in i.files) for i in every):
        return inputs, dict(target_inputs), frozenset()
    from packaging.utils import canonicalize_name, parse_wheel_filename

    wheels: dict[Path, Path] = {}
    names: set[str] = set()
    for each in every:
        for ref in each.all_local_projects:
            if ref.path not in wheels:
                if progress:
                    progress(f"building {ref.path}")
                out = work / "local-wheels" / str(len(wheels))
                wheels[ref.path] = build_wheel(ref, out)
                names.add(canonicalize_name(parse_wheel_filename(wheels[ref.path].name)[0]))
    rewritten = {key: _rewrite(value, wheels, work) for key, value in target_inputs.items()}
    return _rewrite(inputs, wheels, work), rewritten, frozenset(names)

