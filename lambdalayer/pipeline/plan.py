"""Is a layer already built from exactly these inputs?

Answered from the manifests in the output directory, without resolving and
without importing the resolver, starting a process or reading the zip more than
once (its digest): an unchanged rebuild is meant to take under 100 ms and a quarter
of a warm `uv pip install` (bench/noop_bench.py; tests/integration/pipeline/
test_noop_path.py guards what it imports, opens and starts).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalayer import __version__
from lambdalayer.common.errors import UsageError
from lambdalayer.common.redact import redact_text
from lambdalayer.targets.runtimes import RuntimeTable, load_runtime_table

if TYPE_CHECKING:
    from lambdalayer.archive.manifest import Manifest
    from lambdalayer.pipeline.request import BuildRequest


@dataclass(frozen=True, kw_only=True)
class TargetPlan:
    """The (runtime, arch) pairs to build, in table order, and warnings about them."""

    pairs: tuple[tuple[str, str], ...]
    explicit_runtimes: bool
    warnings: tuple[str, ...]


def plan_targets(request: BuildRequest) -> TargetPlan:
    """Targets from the command line, else the recipe, else every current runtime x both."""
    table = load_runtime_table()
    recipe = request.recipe
    runtimes = list(request.runtimes or (recipe.runtimes if recipe else ()))
    archs = list(request.architectures or (recipe.architectures if recipe else ()))
    warnings = []
    for name in runtimes:
        runtime = table.runtime(name)
        if runtime.is_deprecated():
            warnings.append(f"{runtime.phase_sentence()}. Building it as asked; plan a move "
                            "to a newer runtime.")
    explicit = bool(runtimes)
    chosen = sorted({table.runtime(r).name for r in runtimes} if runtimes
                    else {r.name for r in table.current()},
                    key=lambda n: table.runtimes[n].python)
    arch_order = list(table.architectures)
    chosen_archs = sorted({table.architecture(a) for a in archs} if archs else set(arch_order),
                          key=arch_order.index)
    warnings.extend(_host_warnings(request))
    _check_name(request.name, len(chosen_archs) > 1)
    pairs = tuple((r, a) for r in chosen for a in chosen_archs
                  if a in table.runtimes[r].architectures)
    _check_declared_archs(table, chosen, chosen_archs, explicit=bool(archs))
    return TargetPlan(pairs=pairs, explicit_runtimes=explicit, warnings=tuple(warnings))


def _check_declared_archs(table: RuntimeTable, runtimes: list[str], archs: list[str], *,
                          explicit: bool) -> None:
    """A declared runtime limited to some architectures builds only on those; asking for
    another by name is a usage error, not a silently smaller layer."""
    for name in runtimes:
        runtime = table.runtimes[name]
        missing = [a for a in archs if a not in runtime.architectures]
        if missing and (explicit or len(missing) == len(archs)):
            raise UsageError(
                f"{name} is declared for {', '.join(runtime.architectures)} only (in "
                f"{runtime.declared_in or 'runtimes.toml'}), not {', '.join(missing)}.",
                hint="Build it with --arch " + runtime.architectures[0] + ", or add the "
                "architecture to the declaration if Lambda offers it.")


def _check_name(name: str, per_arch: bool) -> None:
    """Lambda's layer-name rule, before anything is written: the name is also the file name
    OUT/NAME.zip. Native code gets one zip per architecture, NAME-x86_64, which must fit too."""
    from lambdalayer.aws.arns import check_layer_name

    hint = ("The layer's name is also its zip's file name in the output directory "
            "(docs/safety.md).")
    check_layer_name(name, hint=hint)
    if per_arch:
        check_layer_name(f"{name}-x86_64", hint=hint + " With both architectures, a layer "
                         "with native code has zips NAME-x86_64.zip and NAME-arm64.zip: "
                         "shorten it.")


def _host_warnings(request: BuildRequest) -> list[str]:
    """This host would write other bytes than the reference: say so (docs/zip-format.md)."""
    warnings = []
    if os.environ.get("SOURCE_DATE_EPOCH", "").strip():
        from lambdalayer.archive.zipwriter import timestamp_warning

        clamped = timestamp_warning()
        if clamped:
            warnings.append(clamped)
    if request.compression_level != 0:
        from lambdalayer.archive.compressor import differs_from_reference, implementation

        if differs_from_reference():
            warnings.append(
                f"This Python's deflate ({implementation()}) writes other bytes than mainline "
                "zlib, so this layer's CodeSha256 will not match a build of the same inputs on "
                "a host with mainline zlib. Use --compression-level 0 (stored, host-independent) "
                "or build where Python links mainline zlib.")
    return warnings


def _portable_path(path: Path) -> str:
    """`path` relative to the working directory, in POSIX form, so that moving a checkout
    does not change the build inputs (the content is hashed separately)."""
    try:
        return Path(os.path.relpath(path, Path.cwd())).as_posix()
    except ValueError:  # another drive on Windows
        return path.name


def _uv_version() -> str:
    """uv's version from its dist-info name (importlib.metadata costs ~10 ms to import)."""
    spec = importlib.util.find_spec("uv")
    if spec is None or spec.origin is None:
        return "unknown"
    site = Path(spec.origin).parent.parent
    found = sorted(site.glob("uv-*.dist-info"))
    return found[-1].name[len("uv-"):-len(".dist-info")] if found else "unknown"


def inputs_record(request: BuildRequest, plan: TargetPlan) -> dict[str, Any]:
    """Every build input that decides the output; hashed into the manifest."""
    recipe = request.recipe
    declared = _declared_record(plan)
    local_inputs = local_inputs_record(request)
    # Host tools whose versions change the zip's bytes: with --compile the compiling
    # interpreters, with --strip the strip tools (full versions), and the compressor.
    compiling = strip_tools = None
    if request.compile:
        from lambdalayer.interpreters.find import find_interpreter

        table = load_runtime_table()
        found = {r: find_interpreter(table.runtime(r).python_version)
                 for r in dict.fromkeys(r for r, _ in plan.pairs)}
        compiling = {r: i.version if i else None for r, i in found.items()}
    if request.strip:
        from lambdalayer.shrink.strip import tool_versions

        strip_tools = tool_versions(sorted({a for _, a in plan.pairs}))
    from lambdalayer.archive.compressor import compressor_record

    compressor = compressor_record(request.compression_level)
    return {
        "tool_version": __version__,
        "uv_version": _uv_version(),
        "name": request.name,
        # A direct URL may carry a token: the record is kept beside the zip (CI artifacts).
        "requirements": [redact_text(spec) for spec in request.inputs.specs],
        "index": request.inputs.index.record() if request.inputs.index else None,
        "requirement_files": [_portable_path(f.path) for f in request.inputs.files],
        "requirements_sha256": request.inputs.fingerprint(),
        "recipe": recipe.name if recipe else None,
        "recipe_sha256": hashlib.sha256(recipe.text.encode()).hexdigest() if recipe else None,
        "targets": [f"{r}/{a}" for r, a in plan.pairs],
        "locks": {t: i.fingerprint() for t, i in sorted(request.target_inputs.items())},
        "explicit_runtimes": plan.explicit_runtimes,
        "allow": sorted(request.allow),
        "description": request.description,
        "license": request.license,
        "compile": request.compile,  # .pyc per runtime changes the zip
        # Size options (shrink/apply.py) and the deflate level change the zip too.
        "slim": request.slim,
        "slim_patterns": list(request.slim_patterns),
        "strip": request.strip,
        "excludes": sorted({e.strip().lower() for e in request.excludes}),
        "compression_level": request.compression_level,
        "local_inputs": local_inputs,
        # Only when on, so that the inputs of every build without it hash as before.
        **({"fix_pairs": True} if request.fix_pairs else {}),
        **declared,
        **({"deny_licences": list(request.deny_licences)} if request.deny_licences else {}),
        "compressor": compressor,
        **({"strip_tools": strip_tools} if strip_tools is not None else {}),
        **({"compile_interpreters": compiling} if compiling is not None else {}),
    }


def _declared_record(plan: TargetPlan) -> dict[str, Any]:
    """The facts of the declared runtimes built (changing a declaration rebuilds); nothing
    when every runtime is the built-in table's, so those builds hash as before."""
    table = load_runtime_table()
    declared = {name: {"python": rt.python_version, "os": rt.os.key,
                       "architectures": list(rt.architectures)}
                for name in dict.fromkeys(r for r, _ in plan.pairs)
                if (rt := table.runtimes[name]).declared_in}
    return {"declared_runtimes": declared} if declared else {}


def local_inputs_record(request: BuildRequest) -> list[dict[str, str]]:
    """Your own files among the inputs: kind, path as given, sha256 of the contents.

    Contents, not mtimes: a changed file makes the build stale, a touched one does not.
    """
    if not (request.sources or request.includes or request.project
            or any(i.all_local_projects for i in (request.inputs,
                                                  *request.target_inputs.values()))):
        return []
    from lambdalayer.owncode.folder import PROJECT_LEFTOVERS, folder_files, tree_digest
    from lambdalayer.owncode.sources import included_files

    found = []
    refs = {r.path: r for i in (request.inputs, *request.target_inputs.values())
            for r in i.all_local_projects}
    for ref in refs.values():
        files = ([(ref.path.name, ref.path)] if ref.path.is_file()
                 else folder_files(ref.path, leftovers=PROJECT_LEFTOVERS,
                                   follow_links=request.follow_links, label=ref.label))
        found.append({"kind": "project", "path": _portable_path(ref.path),
                      "sha256": tree_digest(files)})
    for source in request.sources:
        found.append({"kind": "source", "path": source.label,
                      "sha256": tree_digest(source.files())})
    for include in request.includes:
        found.append({"kind": "include", "path": include.label,
                      "sha256": tree_digest(included_files(include))})
    if request.project is not None and request.project.lock_sha256:
        found.append({"kind": "uv.lock", "path": request.project.label,
                      "sha256": request.project.lock_sha256})
    return found


def marker_environments(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Each (runtime, arch) target's PEP 508 marker values."""
    from lambdalayer.targets.target import Target

    return [Target.parse(runtime, arch).marker_environment for runtime, arch in pairs]


def _has_markers(request: BuildRequest) -> bool:
    """Whether a requirement carries a marker: only then do the targets' marker values
    (packaging's, a cold build's start-up time) change which requirements are pins."""
    inputs = request.inputs
    return (any(";" in spec for spec in inputs.specs)
            or any(r.marker is not None for f in inputs.files for r in f.requirements))


@dataclass(frozen=True, kw_only=True)
class BuildInputs:
    """Every input that decides the output (`record`), its hash, and the previous build's
    (manifest path, manifest) pairs when it is up to date, else None."""

    record: dict[str, Any]
    previous: list[tuple[Path, Manifest]] | None

    @cached_property
    def inputs_hash(self) -> str:
        """Hashed when first asked: a build that cannot be up to date (--force, no exact
        pins) starts uv first (docs/performance.md)."""
        from lambdalayer.archive.manifest import hash_inputs

        return hash_inputs(self.record)


def up_to_date(request: BuildRequest, plan: TargetPlan) -> BuildInputs:
    """The build's inputs, hashed, and whether the previous build stands for them.

    Only for inputs that pin every resolved package exactly (for every target, with its
    marker values): then resolving again could not change anything, so no index round
    trip is needed. Every zip the previous build wrote must still be there with the
    digest its manifest records, hold exactly those pins and, with --proof required,
    have passed the proof on every target (else prove it now, or refuse: exit 7).
    """
    pins = None if request.force else request.exact_pins(
        marker_environments(plan.pairs) if _has_markers(request) else ())
    built = BuildInputs(record=inputs_record(request, plan), previous=None)
    if pins is None:
        return built
    from lambdalayer.archive.manifest import intact_build

    previous = intact_build(request.out_dir, request.name, built.inputs_hash)
    if previous is not None and not all(
            m.pins() == pins and (request.proof != "required" or m.proven())
            for _, m in previous):
        previous = None
    return dataclasses.replace(built, previous=previous)
