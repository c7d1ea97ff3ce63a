"""From command-line flags and the project configuration to build requests.

Precedence, lowest first: built-in defaults (a recipe's own targets, every
current runtime, both architectures) < the configuration file < LAMBDALAYER_*
environment variables < command-line flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdalayer.common.errors import ConfigError, UsageError
from lambdalayer.pipeline.request import BuildRequest
from lambdalayer.project.config import (
    LayerConfig,
    ProjectConfig,
    ProofPolicy,
    ProofSandbox,
    configured_interpreters,
    deny_patterns,
)
from lambdalayer.project.recipes import Recipe, get_recipe, load_recipes
from lambdalayer.resolve.index_settings import IndexSettings, from_pip
from lambdalayer.resolve.requirements import (
    LocalRef,
    RequirementInputs,
    local_path,
    local_ref,
    parse_spec,
    read_requirement_file,
)


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """BuildRequest fields set on the command line: None, False and () mean "not given"."""

    compile: bool = False
    test_report: bool = False  # --test-report
    no_proof: bool = False  # --no-proof
    fix_pairs: bool = False  # --fix-pairs
    slim: bool = False
    strip: bool = False
    excludes: tuple[str, ...] = ()
    compression_level: int | None = None


@dataclass(frozen=True, kw_only=True)
class BuildFlags:
    """What the user typed on the `build` command line (empty means "not given")."""

    name: str | None = None
    layers: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    packages: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    out_dir: Path | None = None
    recipes_dir: Path | None = None
    force: bool = False
    allow: tuple[str, ...] = ()
    locked: bool = False
    # Your own code: --source, --include, --project, --with-self.
    sources: tuple[Path, ...] = ()
    includes: tuple[str, ...] = ()
    project: Path | None = None
    with_self: bool = False
    follow_links: bool = False  # --follow-links (docs/trust.md)
    proof_sandbox: ProofSandbox | None = None  # --proof-sandbox
    deny_licences: tuple[str, ...] = ()  # --deny-licence
    proof: ProofPolicy | None = None  # --proof required|best-effort
    # --index-url, --extra-index-url, --find-links
    index: IndexSettings = field(default_factory=IndexSettings)
    # Further BuildRequest fields set on the command line (e.g. slim, compile).
    options: BuildOptions = field(default_factory=BuildOptions)


@dataclass(frozen=True, kw_only=True)
class PlannedBuild:
    request: BuildRequest
    layer: LayerConfig | None  # the configured layer, when it came from the config


def _options(layer: LayerConfig | None, flags: BuildFlags) -> dict[str, Any]:
    """Build options: the layer's from the config, overridden by the flags that were given."""
    known = {f.name for f in dataclasses.fields(BuildRequest)}
    # "Not given" is None, False or (): compare by identity, since 0 == False and
    # `--compression-level 0` is a real choice.
    given = {k: v for k, v in dataclasses.asdict(flags.options).items()
             if not (v is None or v is False or (isinstance(v, tuple) and not v))}
    merged = {**(layer.build_options if layer else {}), **given}
    for key in merged:
        if key not in known:
            raise ConfigError(f"Build option {key!r} is not supported by this lambdalayer.")
    return merged


def package_inputs(packages: tuple[str, ...], base: Path, origin: str) -> RequirementInputs:
    """Requirements as given with -p or config `packages`: paths (relative to `base`) are
    local projects, everything else a PEP 508 requirement."""
    specs: list[str] = []
    locals_: list[LocalRef] = []
    for spec in packages:
        path = local_path(spec, base)
        if path is None:
            specs.append(parse_spec(spec, origin=origin))
        else:
            locals_.append(local_ref(path, f"{origin} {spec}"))
    return RequirementInputs(specs=tuple(specs), local_projects=tuple(locals_))


def _merged(first: RequirementInputs, second: RequirementInputs) -> RequirementInputs:
    return RequirementInputs(specs=first.specs + second.specs, files=first.files + second.files,
                             local_projects=first.local_projects + second.local_projects)


def _own_code(layer: LayerConfig | None, flags: BuildFlags
              ) -> tuple[dict[str, Any], RequirementInputs]:
    """BuildRequest fields for --source/--include/--project (flags over the config),
    and the project's dependencies as inputs."""
    if flags.sources or flags.includes or (layer and (layer.sources or layer.include)):
        # Only then: an up-to-date build without own code stays short (bench/noop_bench.py).
        from lambdalayer.owncode.sources import parse_include, source_folder
    cwd = Path.cwd()
    base = layer.base if layer else cwd
    follow = flags.follow_links
    if flags.sources:
        folders = [source_folder(cwd / p, str(p), follow_links=follow) for p in flags.sources]
    else:
        folders = [source_folder(base / s, s, follow_links=follow)
                   for s in (layer.sources if layer else ())]
    if flags.includes:
        includes = [parse_include(spec, cwd, follow_links=follow) for spec in flags.includes]
    else:
        includes = [parse_include(s, base, follow_links=follow)
                    for s in (layer.include if layer else ())]
    fields: dict[str, Any] = {"sources": tuple(folders), "includes": tuple(includes),
                              "follow_links": follow}
    project = (cwd / flags.project, str(flags.project)) if flags.project else (
        (layer.base / layer.project, layer.project) if layer and layer.project else None)
    if project is None:
        if flags.with_self:
            raise UsageError("--with-self adds the project itself: use it with --project DIR.")
        return fields, RequirementInputs()
    from lambdalayer.owncode.uv_project import project_inputs

    inputs, info = project_inputs(project[0], project[1], with_self=flags.with_self or bool(
        layer and layer.with_self))
    fields["project"] = info
    return fields, inputs


def _request(name: str, inputs: RequirementInputs, recipe: Recipe | None,
             layer: LayerConfig | None, flags: BuildFlags, config: ProjectConfig) -> BuildRequest:
    own, project_inputs = _own_code(layer, flags)
    inputs = _merged(inputs, project_inputs)
    runtimes, archs = config.targets_for(flags.runtimes, flags.architectures, layer)
    allow = set(flags.allow) | set(layer.allow if layer else ())
    options = _options(layer, flags)
    proof = config.proof_for(flags.proof)
    if proof == "required" and options.get("no_proof"):
        raise UsageError(
            f"The import proof of {name} is required (--proof required, LAMBDALAYER_PROOF or "
            "the config's proof) and turned off (--no-proof, or proof = false in the "
            "layer's table): choose one.")
    if recipe is not None and recipe.slim_patterns:
        options.setdefault("slim_patterns", recipe.slim_patterns)
    return BuildRequest(
        name=name,
        inputs=dataclasses.replace(inputs, index=from_pip(
            config.index_for(flags.index, layer), [f.text for f in inputs.files])),
        out_dir=config.out_dir(flags.out_dir),
        runtimes=runtimes,
        architectures=archs,
        recipe=recipe,
        force=flags.force,
        allow=frozenset(allow),
        description=layer.description if layer else None,
        license=layer.license if layer else None,
        proof_imports=layer.proof_imports if layer else (),
        interpreters=configured_interpreters(config),
        proof_sandbox=config.proof_sandbox_for(flags.proof_sandbox),
        deny_licences=config.deny_licences_for(
            deny_patterns(flags.deny_licences, "--deny-licence")),
        proof=proof,
        **own,
        **options,
    )


def _configured(layer: LayerConfig, flags: BuildFlags, config: ProjectConfig) -> BuildRequest:
    recipe = None
    if layer.recipe:
        recipe = get_recipe(layer.recipe, config.recipe_dirs(flags.recipes_dir))
        inputs = RequirementInputs(specs=recipe.requirements)
    elif layer.requirements is not None:
        inputs = RequirementInputs(files=(read_requirement_file(layer.requirements),))
    else:
        where = f"layers.{layer.name}.packages in {config.path}"
        inputs = package_inputs(layer.packages, layer.base, where)
    return _request(layer.name, inputs, recipe, layer, flags, config)


def plan_builds(flags: BuildFlags, config: ProjectConfig) -> list[PlannedBuild]:
    """The layers one `build` invocation makes, in order.

    NAME with -r/-p: an ad-hoc layer. NAME alone: the configured layer of that
    name, else a recipe. Nothing: every configured layer (or those --layer picks).
    """
    own_only = bool(flags.sources or flags.includes) and not (
        flags.name and (flags.name in config.layers or flags.name in load_recipes(
            config.recipe_dirs(flags.recipes_dir))))
    if flags.requirement_files or flags.packages or flags.project or own_only:
        if not flags.name:
            raise UsageError("Name the layer you are building: "
                             "`lambdalayer build NAME -p PACKAGE` / `-r requirements.txt` / "
                             "--source DIR / --project DIR.")
        inputs = _merged(package_inputs(flags.packages, Path.cwd(), "-p"), RequirementInputs(
            files=tuple(read_requirement_file(path) for path in flags.requirement_files)))
        return [PlannedBuild(request=_request(flags.name, inputs, None, None, flags, config),
                             layer=None)]
    if flags.name:
        if flags.name in config.layers:
            layer = config.layers[flags.name]
            return [PlannedBuild(request=_configured(layer, flags, config), layer=layer)]
        recipe = get_recipe(flags.name, config.recipe_dirs(flags.recipes_dir))
        inputs = RequirementInputs(specs=recipe.requirements)
        return [PlannedBuild(request=_request(flags.name, inputs, recipe, None, flags, config),
                             layer=None)]
    if config.path is None:
        raise UsageError(
            "Name a recipe (`lambdalayer build pg8000`) or a layer with its requirements "
            "(`lambdalayer build NAME -p PACKAGE` / `-r requirements.txt`), or configure "
            "layers in pyproject.toml ([tool.lambdalayer.layers.NAME]) or lambdalayer.toml."
        )
    return [PlannedBuild(request=_configured(layer, flags, config), layer=layer)
            for layer in config.selected(flags.layers)]


def apply_locks(planned: list[PlannedBuild], config: ProjectConfig, *,
                locked: bool) -> tuple[list[BuildRequest], list[str]]:
    """Use each configured layer's fresh lock files as its per-target inputs.

    With `locked`, a missing or stale lock is a UsageError (CI: the lock must be
    committed and current). Without it, a stale lock is a warning and the layer
    is built from its configuration.
    """
    if not locked and all(item.layer is None for item in planned):
        return [item.request for item in planned], []  # no locks to look at: stay fast
    from lambdalayer.pipeline.plan import plan_targets
    from lambdalayer.project.lockfiles import (
        lock_path,
        lock_state,
        lockable,
        locked_inputs,
        require_fresh,
    )
    from lambdalayer.targets.target import Target

    requests: list[BuildRequest] = []
    warnings: list[str] = []
    for item in planned:
        request = item.request
        if item.layer is None:
            if locked:
                raise UsageError(f"--locked builds configured layers; {request.name!r} is not "
                                 f"one (configure it under [tool.lambdalayer.layers]).")
            requests.append(request)
            continue
        if not lockable(request.inputs):
            requests.append(request)  # a uv.lock, local projects or only your own files
            continue
        targets = [Target.parse(r, a) for r, a in plan_targets(request).pairs]
        states = [lock_state(lock_path(config.locks, request.name, t), request.inputs, t)
                  for t in targets]
        if locked:
            require_fresh(states)
        if all(s.status == "fresh" for s in states):
            request = dataclasses.replace(request, target_inputs={
                s.target: locked_inputs(s.path, request.inputs) for s in states})
        elif any(s.status == "stale" for s in states):
            warnings.append(f"The lock files of {request.name} are stale; building from the "
                            "configuration. Run `lambdalayer lock` to update them.")
        requests.append(request)
    return requests, warnings
