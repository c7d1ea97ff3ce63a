"""Publish and attach the layers a project configuration describes.

Each configured layer publishes the zips `build` wrote for it (`NAME.zip`, or
`NAME-ARCH.zip` per architecture) to its regions with its permissions, and
attaches to its `functions` the version published for the function's region
and architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalayer.archive.manifest import Manifest, artifact_manifest_paths, read_manifest
from lambdalayer.common.errors import UsageError
from lambdalayer.project.config import LayerConfig


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
