"""The cache-only attempt: whether uv's install from its cache alone (the resolver's
`_from_cache`) is what the index offers now (docs/commands/cache.md, "Sdists built before").

uv keeps the wheels it built from sdists, but behind an index that sends no caching
headers it cannot tell that an sdist is unchanged, so an online run builds it again
every time (1-3 s each). An install from uv's cache alone (`--offline`) stands only
when every distribution it chose is one an online run would choose too: one whose
index page this build's uv read moments ago, or one the index, asked now, offers as
exactly that file:
- installed from a wheel: the project's newest release is that version, and of its
  wheels exactly one fits the target, the one installed (its tags are the installed
  WHEEL's): no other file uv could prefer;
- built from its sdist: the newest release is that version and publishes an sdist
  and no wheel at all. That it is the same file uv built before, uv checks itself:
  the page it read in this build's first, online attempt gives the sdist's SHA-256,
  and uv's cache alone cannot serve a file with another one.
Anything else (an older version, a new release, a second wheel, an index that
cannot be asked) sends the build back to uv's online run.
"""

from __future__ import annotations

from collections.abc import Collection

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.resolve import index_cache
from lambdalayer.resolve.index_query import IndexOffer, ask_once
from lambdalayer.resolve.index_settings import QueryPlan
from lambdalayer.targets.target import Target


def still_current(dists: Collection[InstalledDist], plan: QueryPlan, target: Target, *,
                  built: Collection[str], fresh: Collection[str]) -> bool:
    """True when every one of `dists` is in `fresh` (pages read this build) or is, asked
    now (once per run and question: index_query.ask_once), the file the index offers.
    `built`: the names installed from their sdists."""
    asked = {d.name: ask_once(d.name, plan) for d in dists if d.name not in fresh}
    return all(_offered(dist, index_cache.wait(asked[dist.name]).offer, target,
                        built=dist.name in built)
               for dist in dists if dist.name in asked)


def _offered(dist: InstalledDist, offer: IndexOffer | None, target: Target, *,
             built: bool) -> bool:
    if offer is None:
        return False
    try:
        if Version(offer.version) != Version(dist.version):
            return False
    except ValueError:  # InvalidVersion, or a number past int's digit limit
        return False
    if built:
        return offer.has_sdist and not offer.wheel_files
    fitting = [tags for tags in map(_tags, offer.wheel_files)
               if any(tag in target.supported_tags for tag in tags)]
    installed = {tag for text in dist.tags for tag in parse_tag(text)}
    return len(fitting) == 1 and fitting[0] == installed


def _tags(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()
