"""Publish and attach the layers a project configuration describes.

Each configured layer publishes the zips `build` wrote for it (`NAME.zip`, or
`NAME-ARCH.zip` per architecture) to its regions with its permissions, and
attaches to its `functions` the version published for the function's region
and architecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalayer.archive.manifest import Manifest, artifact_manifest_paths, read_manifest
from lambdalayer.aws.arns import layer_identity
from lambdalayer.common.errors import AuditError, UsageError
from lambdalayer.project.config import LayerConfig

if TYPE_CHECKING:
    from lambdalayer.aws.attach import FunctionState
    from lambdalayer.aws.publish import Grants, PublishOptions
    from lambdalayer.project.config import ProjectConfig


@dataclass(frozen=True, kw_only=True)
class LayerBuildOutputs:
    layer: LayerConfig
    manifests: tuple[Path, ...]


def built_manifests(layer: LayerConfig, out_dir: Path) -> LayerBuildOutputs:
    """The manifests `build` wrote for `layer`; UsageError when it has not been built."""
    found = tuple(p for p in artifact_manifest_paths(out_dir, layer.name) if p.exists())
    if not found:
        raise UsageError(f"Layer {layer.name!r} has not been built into {out_dir}.",
                         hint="Run `lambdalayer build` first.")
    return LayerBuildOutputs(layer=layer, manifests=found)


@dataclass(frozen=True, kw_only=True)
class PublishGroup:
    """Manifests published with the same regions and grants."""

    manifests: tuple[Path, ...]
    regions: tuple[str, ...]  # empty: the profile's default region
    grants: Grants


@dataclass(frozen=True, kw_only=True)
class PublishPlan:
    """What one `publish` invocation publishes, group by group."""

    groups: tuple[PublishGroup, ...]
    layer_name: str | None = None
    s3_bucket: str | None = None
    force: bool = False

    def options(self, group: PublishGroup) -> PublishOptions:
        from lambdalayer.aws.publish import PublishOptions

        return PublishOptions(regions=group.regions or (None,), s3_bucket=self.s3_bucket,
                              force=self.force, grants=group.grants)


@dataclass(frozen=True, kw_only=True)
class PublishFlags:
    """What the user typed on the `publish` command line (empty means "not given")."""

    zips: tuple[Path, ...] = ()
    layer_name: str | None = None
    regions: tuple[str, ...] = ()
    s3_bucket: str | None = None
    force: bool = False
    public: bool = False
    principals: tuple[str, ...] = ()
    org_id: str | None = None
    out_dir: Path | None = None
    layers: tuple[str, ...] = ()
    all_built: bool = False  # --all: every layer built into --out, when there is no config


def plan_publish(flags: PublishFlags) -> PublishPlan:
    """The manifests, regions and grants to publish: the ZIPs given, else every configured
    layer (its regions and permissions added to the flags'), else every layer built into
    the output directory. UsageError for flags that do not fit."""
    from lambdalayer.aws.publish import Grants
    from lambdalayer.project.config import load_config

    for account in flags.principals:
        if not (account.isdigit() and len(account) == 12):
            raise UsageError(f"--principal {account!r}: expected a 12-digit AWS account id.")
    config = load_config()
    flag_grants = Grants(public=flags.public, principals=flags.principals, org_id=flags.org_id)
    if flags.zips:
        groups = [PublishGroup(manifests=tuple(named_manifests(flags.zips)),
                               regions=config.regions_for(flags.regions), grants=flag_grants)]
    elif config.layers:
        groups = _configured_groups(config, flags)
    else:
        groups = [_built_group(config, flags, flag_grants)]
    if flags.layer_name and (len(groups) > 1 or len(groups[0].manifests) > 1):
        raise UsageError("--layer-name names one layer; give exactly one ZIP with it.")
    return PublishPlan(groups=tuple(groups), layer_name=flags.layer_name,
                       s3_bucket=flags.s3_bucket, force=flags.force)


def named_manifests(paths: tuple[Path, ...]) -> list[Path]:
    """The manifests of the zips, manifests and build folders named on the command line
    (several jobs' dist/ folders gathered into one publish)."""
    from lambdalayer.archive.manifest import find_manifests, manifest_path_for

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = find_manifests(path)
            if not inside:
                raise UsageError(f"No built layers in {path}.",
                                 hint="Build one with `lambdalayer build`, or name a ZIP.")
            found.extend(inside)
        else:
            found.append(manifest_path_for(path))  # NAME.json for NAME.zip; a .json as is
    return list(dict.fromkeys(found))


def _configured_groups(config: ProjectConfig, flags: PublishFlags) -> list[PublishGroup]:
    """One group per configured layer (or those --layer picks), with its own permissions."""
    from lambdalayer.aws.publish import Grants

    out = config.out_dir(flags.out_dir)
    groups = []
    for layer in config.selected(flags.layers):
        perms = layer.permissions
        grants = Grants(public=flags.public or perms.public,
                        principals=tuple(dict.fromkeys((*flags.principals, *perms.principals))),
                        org_id=flags.org_id or perms.org)
        groups.append(PublishGroup(manifests=built_manifests(layer, out).manifests,
                                   regions=config.regions_for(flags.regions, layer),
                                   grants=grants))
    return groups


def _built_group(config: ProjectConfig, flags: PublishFlags, grants: Grants) -> PublishGroup:
    """Without a config: the layers built into the output directory that --layer names,
    the one layer there is, or with --all every one. Several unrelated layers are never
    published by a bare `publish`: it lists them and asks."""
    from lambdalayer.archive.manifest import find_manifests

    out = config.out_dir(flags.out_dir)
    found = find_manifests(out)
    if not found:
        raise UsageError(f"No built layers in {out}.",
                         hint="Build one with `lambdalayer build`, or name a ZIP.")
    by_layer: dict[str, list[Path]] = {}
    for path in found:
        by_layer.setdefault(_layer_of(path), []).append(path)
    if flags.layers:
        unknown = [name for name in flags.layers if name not in by_layer]
        if unknown:
            raise UsageError(f"No layer {', '.join(unknown)} built in {out} (built there: "
                             f"{', '.join(by_layer)}).",
                             hint="Build it with `lambdalayer build NAME`, or name a ZIP.")
        chosen = [p for name in flags.layers for p in by_layer[name]]
    elif flags.all_built or len(by_layer) == 1:
        chosen = found
    else:
        raise UsageError(
            f"{len(by_layer)} layers are built in {out}: {', '.join(by_layer)}. Say which to "
            "publish: `lambdalayer publish --layer NAME` (repeatable), name the zips "
            f"(`lambdalayer publish {out / next(iter(by_layer))}.zip`), or `lambdalayer "
            "publish --all` for every one.")
    return PublishGroup(manifests=tuple(chosen), regions=config.regions_for(flags.regions),
                        grants=grants)


def _layer_of(manifest: Path) -> str:
    """The layer a manifest belongs to: NAME for NAME.json, NAME-x86_64.json, NAME-arm64.json
    (a native layer's zip per architecture: archive/manifest.artifact_manifest_paths)."""
    stem = manifest.stem
    for arch in ("-x86_64", "-arm64"):
        if stem.endswith(arch):
            return stem[: -len(arch)]
    return stem


def pick_published(manifests: tuple[Path, ...], region: str, architecture: str) -> str:
    """The ARN published for `region` from the zip built for `architecture`."""
    loaded: list[tuple[Path, Manifest]] = [(p, read_manifest(p)) for p in manifests]
    fitting = [(p, m) for p, m in loaded if architecture in m.architectures] or loaded
    for _path, manifest in fitting:
        entry = manifest.published_in(region)
        if entry is not None:
            return entry.arn
    names = ", ".join(str(p) for p, _ in fitting)
    raise UsageError(f"Nothing built for {architecture} ({names}) has been published to "
                     f"{region}.", hint="Run `lambdalayer publish` first.")


def attach_configured(client: Any, outputs: LayerBuildOutputs, *, dry_run: bool,
                      force: bool) -> list[Any]:
    """Attach the layer to each of its configured functions (AttachResult list)."""
    from lambdalayer.aws.attach import attach, read_function, resolve_layer, undo_on_failure
    from lambdalayer.aws.client import region_of

    if not outputs.layer.functions:
        return []
    region = region_of(client)
    results: list[Any] = []
    with undo_on_failure(results):  # a failure names every function changed before it
        for function in outputs.layer.functions:
            state = read_function(client, function)
            arn = pick_published(outputs.manifests, region, state.architecture)
            choice = resolve_layer(client, arn, dist=outputs.manifests[0].parent)
            results.extend(attach(client, [function], choice, dry_run=dry_run, force=force,
                                  dist=outputs.manifests[0].parent))
    return results


def manifests_in(directories: Sequence[Path]) -> list[Path]:
    """Every manifest in these build output folders (several, when CI jobs each built one
    architecture and a later job gathered their dist/ folders), each path once."""
    from lambdalayer.archive.manifest import find_manifests

    seen: dict[Path, None] = {}
    for directory in directories:
        for path in find_manifests(directory):
            seen.setdefault(path.resolve(), None)
    return list(seen)


def pick_for_function(manifests: Sequence[Path], region: str, function: FunctionState) -> str:
    """The ARN published to `region` from the one built layer made for `function`'s
    architecture and runtime; UsageError when none or several different layers fit."""
    published: list[tuple[Manifest, str]] = []
    for path in manifests:
        manifest = read_manifest(path)
        entry = manifest.published_in(region)
        if entry is not None:
            published.append((manifest, entry.arn))
    if not published:
        raise UsageError(f"Nothing in {_folders(manifests)} has been published to {region}.",
                         hint="Run `lambdalayer publish` first, or pass --layer NAME[:VERSION].")
    fitting = {arn: m for m, arn in published
               if (not m.architectures or function.architecture in m.architectures)
               and (not m.runtimes or function.runtime in m.runtimes)}
    layers = {layer_identity(arn) for arn in fitting}
    if len(layers) == 1:
        # Several manifests of one layer (x86_64 and arm64 built under one name) fit only
        # when they declare the same targets; any of their versions will do, take the newest.
        return max(fitting, key=lambda arn: int(arn.rsplit(":", 1)[-1]))
    built = "; ".join(f"{arn} ({', '.join(m.runtimes)} on {', '.join(m.architectures)})"
                      for m, arn in published)
    if not layers:
        # The layer would not load on the function's target: an audit verdict (exit 4), as
        # when --layer names a version that does not declare it (docs/commands/attach.md).
        raise AuditError(f"Refusing to attach: no layer published to {region} is built for "
                         f"function {function.name!r} ({function.runtime} on "
                         f"{function.architecture}): {built}.",
                         hint="Build and publish the layer for that target (`lambdalayer build "
                         f"NAME --runtime {function.runtime} --arch {function.architecture}`), "
                         "or move the function to a target the layer is built for.")
    raise UsageError(f"Several layers published to {region} fit function {function.name!r}: "
                     f"{', '.join(sorted(layers))}.", hint="Choose one with --layer NAME.")


def _folders(manifests: Sequence[Path]) -> str:
    return ", ".join(sorted({str(p.parent) for p in manifests})) or "the build folders"
