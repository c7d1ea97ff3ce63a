"""`--project DIR`: a layer of a project's runtime dependencies, from its uv.lock if any.

With a `uv.lock`, `uv export --frozen` turns it into hashed requirements with
environment markers (no dev groups, without the project itself unless
`with_self`); resolve/resolver.py installs them per target with `--require-hashes`,
so each target gets exactly the locked versions its markers select. A lock
whose `requires-python` (or `supported-markers`) leaves a target out is
refused naming the target. Without a lock, `[project].dependencies` are
resolved like `-p` requirements. Poetry and PDM locks are not read: their
own export commands write a requirements file for `-r`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common import _toml
from lambdalayer.common.errors import ResolutionError, UsageError
from lambdalayer.resolve.requirements import (
    LocalRef,
    RequirementInputs,
    local_ref,
    parse_requirement_text,
    parse_spec,
)

if TYPE_CHECKING:
    from lambdalayer.targets.target import Target

_OTHER_LOCKS = {
    "poetry.lock": "poetry export -f requirements.txt --only main -o requirements.txt "
                   "(the poetry-plugin-export plugin)",
    "pdm.lock": "pdm export --prod -o requirements.txt",
}


@dataclass(frozen=True, kw_only=True)
class ProjectLock:
    """What the layer was made from: the project and, when it has one, its uv.lock."""

    directory: Path
    label: str  # as the user wrote it
    lock_sha256: str | None
    requires_python: str | None
    supported_markers: tuple[str, ...] = ()

    def check_covers(self, targets: list[Target]) -> None:
        """ResolutionError naming the targets the lock was not made for."""
        if self.lock_sha256 is None:
            return
        from packaging.markers import Marker
        from packaging.specifiers import SpecifierSet

        missing = []
        for target in targets:
            version = target.runtime.python_version
            if self.requires_python and not SpecifierSet(self.requires_python).contains(
                    f"{version}.99", prereleases=True):
                missing.append(f"{target} (requires-python {self.requires_python})")
            elif self.supported_markers and not any(
                    target.evaluate(Marker(m), "") for m in self.supported_markers):
                missing.append(f"{target} (supported-markers: "
                               f"{'; '.join(self.supported_markers)})")
        if missing:
            raise ResolutionError(
                f"--project {self.label}: its uv.lock does not cover {', '.join(missing)}.",
                hint="Build for the runtimes the lock covers (--runtime), or widen the "
                     "project's requires-python / tool.uv.environments and run `uv lock`.")


def _read_toml(path: Path) -> dict[str, object]:
    try:
        data: dict[str, object] = _toml.loads(path.read_text("utf-8"))
        return data
    except (OSError, _toml.TOMLDecodeError) as exc:
        raise UsageError(f"--project: cannot read {path} ({exc}).") from None


def _export(directory: Path, label: str, with_self: bool) -> str:
    from lambdalayer.common.uvtool import run_uv

    args = ["export", "--frozen", "--no-dev", "--no-default-groups",
            "--format", "requirements-txt", "--no-header", "--project", str(directory)]
    if not with_self:
        args.append("--no-emit-project")
    result = run_uv(args)
    if result.returncode != 0:
        raise UsageError(f"--project {label}: `uv export` could not read its uv.lock: "
                         f"{result.stderr.strip()}")
    return result.stdout


def project_inputs(directory: Path, label: str, *,
                   with_self: bool) -> tuple[RequirementInputs, ProjectLock]:
    """The project's runtime dependencies as build inputs; UsageError for a bad project."""
    pyproject = directory / "pyproject.toml"
    if not directory.is_dir():
        raise UsageError(f"--project {label}: {directory} is not a directory.")
    if not pyproject.is_file():
        raise UsageError(f"--project {label}: {directory} has no pyproject.toml.")
    lock = directory / "uv.lock"
    if lock.is_file():
        data = _read_toml(lock)
        markers = data.get("supported-markers", [])
        info = ProjectLock(
            directory=directory.resolve(), label=label,
            lock_sha256=hashlib.sha256(lock.read_bytes()).hexdigest(),
            requires_python=str(data["requires-python"]) if "requires-python" in data else None,
            supported_markers=tuple(str(m) for m in markers) if isinstance(markers, list)
            else ())
        text = _export(directory, label, with_self)
        req_file = parse_requirement_text(text, lock, base=directory, virtual=True)
        return RequirementInputs(files=(req_file,)), info
    for name, command in _OTHER_LOCKS.items():
        if (directory / name).is_file():
            raise UsageError(
                f"--project {label}: {name} is not read directly. Export it to a "
                f"requirements file and build from that: `{command}`, then "
                "`lambdalayer build NAME -r requirements.txt`.")
    project = _read_toml(pyproject).get("project")
    deps = project.get("dependencies", []) if isinstance(project, dict) else []
    if not isinstance(deps, list):
        raise UsageError(f"--project {label}: [project].dependencies is not a list.")
    specs = tuple(parse_spec(str(d), origin=f"{pyproject} [project].dependencies")
                  for d in deps)
    selves: tuple[LocalRef, ...] = (local_ref(directory, f"--project {label}"),) \
        if with_self else ()
    return (RequirementInputs(specs=specs, local_projects=selves),
            ProjectLock(directory=directory.resolve(), label=label, lock_sha256=None,
                        requires_python=None))
