"""The SBOM of a layer zip `build` did not just make (`check --sbom`, `report --sbom`):
a zip in dist/ or a published version downloaded by ARN.

Only the zip speaks here: its distributions (every `*.dist-info` folder), the libraries
they vendor in `*.libs/` and the SBOMs their wheels carry, with the zip's SHA-256 and
CodeSha256. What only a build knows is said as not known: the wheel each distribution
came from (`lambdalayer:wheel-sha256`), where it came from (`lambdalayer:origin` "not
known"), your own code as such. The manifest beside a zip adds the build's inputs hash.
Same zip, same bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.fileio import file_digests, write_atomic
from lambdalayer.common.zipread import safe_extract
from lambdalayer.supply.sbom import LayerFacts, collect_dists

NOT_KNOWN = "not known"


def _site_dirs(root: Path) -> dict[Path, list[InstalledDist]]:
    found: dict[Path, list[InstalledDist]] = {}
    for info in sorted(root.rglob("*.dist-info")):
        if info.is_dir() and info.parent not in found:
            found[info.parent] = read_installed(info.parent)
    return found


def zip_facts(zip_path: Path, *, name: str, targets: tuple[str, ...],
              inputs_hash: str = "") -> LayerFacts:
    """What an existing layer zip says about itself; UsageError for a zip that cannot be
    read safely (zipread's caps)."""
    from lambdalayer import __version__

    sha256, code_sha256 = file_digests(zip_path)
    with tempfile.TemporaryDirectory(prefix="lambdalayer-sbom-") as scratch:
        root = Path(scratch)
        safe_extract(zip_path, root)
        sites = _site_dirs(root)
        origins = {d.name: NOT_KNOWN for dists in sites.values() for d in dists}
        dists = collect_dists(root, sites, {}, origins)
    return LayerFacts(name=name, zip_name=zip_path.name, sha256=sha256,
                      code_sha256=code_sha256, inputs_hash=inputs_hash, targets=targets,
                      tool_version=__version__, dists=dists)


def write_zip_sbom(zip_path: Path, out: Path, *, name: str, targets: tuple[str, ...],
                   inputs_hash: str = "") -> Path:
    """Write the CycloneDX SBOM of `zip_path` to `out` (atomically); returns `out`."""
    from lambdalayer.supply.cdx import render

    facts = zip_facts(zip_path, name=name, targets=targets, inputs_hash=inputs_hash)
    write_atomic(out, render(facts))
    return out
