"""Each layer's SBOM (supply/sbom.py), from what this build knows: the installed tree, the
wheels fetched for their deflate streams (their SHA-256), which distributions were built
here or are your own projects, and your --source/--include code."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.archive.zipwriter import fixed_timestamp
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.fileio import write_atomic
from lambdalayer.owncode.sources import included_files
from lambdalayer.supply.cdx import render
from lambdalayer.supply.sbom import LayerFacts, OwnCode, collect_dists, tree_sha256

if TYPE_CHECKING:
    from lambdalayer.pipeline.request import BuildRequest
    from lambdalayer.pipeline.wheel_streams.reuse import WheelStreams
    from lambdalayer.resolve.resolution import Resolution
    from lambdalayer.targets.target import Target


def _origins(request: BuildRequest, resolutions: list[Resolution]) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    origins: dict[str, str] = {canonicalize_name(r.name): "direct URL"
               for r in request.inputs.all_requirements if r.url}
    for resolution in resolutions:
        origins.update(dict.fromkeys(resolution.built_from_sdist, "sdist built here"))
    origins.update(dict.fromkeys(request.local_projects, "local project"))
    return origins


def _own(request: BuildRequest, root: Path) -> tuple[OwnCode, ...]:
    own = [OwnCode(label=f"--source {s.label}", sha256=None) for s in request.sources]
    for include in request.includes:
        files = [(rel, root / rel) for rel, _src in included_files(include)]
        own.append(OwnCode(label=f"--include {include.label}",
                           sha256=tree_sha256(f for f in files if f[1].is_file())))
    return tuple(own)


def layer_facts(request: BuildRequest, *, name: str, zip_path: Path, targets: list[Target],
                root: Path, site_dirs: dict[Path, list[InstalledDist]],
                resolutions: list[Resolution], streams: WheelStreams, sha256: str,
                code_sha256: str, inputs_hash: str) -> LayerFacts:
    """What the SBOM of one layer zip says."""
    from lambdalayer import __version__

    hashes = {(w.name, w.version, tuple(sorted(w.tags))): o.sha256
              for w, o in streams.outcomes.items() if o.sha256}
    by_key = {(d.name, d.version, tuple(d.tags)): hashes.get(
        (d.name, d.version, tuple(sorted(d.tags)))) for ds in site_dirs.values() for d in ds}
    stamp = dt.datetime(*fixed_timestamp(), tzinfo=dt.timezone.utc)
    return LayerFacts(
        name=name, zip_name=zip_path.name, sha256=sha256, code_sha256=code_sha256,
        inputs_hash=inputs_hash,
        targets=tuple(f"{t.runtime.name}/{t.arch}" for t in targets),
        tool_version=__version__,
        dists=collect_dists(root, site_dirs, {k: v for k, v in by_key.items() if v},
                            _origins(request, resolutions)),
        own=_own(request, root), timestamp=stamp)


def stage_sbom(facts: LayerFacts, final: Path) -> Path:
    """Write the SBOM to a hidden partial file beside `final`; the caller swaps it in
    with the zip and the manifest."""
    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    write_atomic(partial, render(facts), shown_as=final)
    return partial
