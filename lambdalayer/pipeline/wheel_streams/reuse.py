"""Which wheel each installed distribution came from, fetched while the layer is
installed, audited and proven, and which layer files may be copied from it
(docs/zip-format.md, "The wheels' own deflate streams").

Distributions built here (from an sdist, from a local project) and those required
by a direct URL have no index wheel to copy from: their files are deflated, the
same in every build. A wheel an online build would have had but this one could
not (offline and not cached, a network error, no or a wrong hash on the index)
is named in the build's inputs (`wheel_streams_unavailable`), so the manifest
says why the zip differs from an online build's, and a warning says it once.
"""

from __future__ import annotations

import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from lambdalayer.archive.zipwriter import ZipStopped
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.pipeline.wheel_streams.fetch import (
    PageMemo,
    WheelOutcome,
    WheelWanted,
    find_wheel,
    trim_wheels,
)
from lambdalayer.pipeline.wheel_streams.members import (
    OpenWheel,
    StreamRef,
    keep_record,
    open_wheel,
    verify_members,
)
from lambdalayer.resolve import index_cache
from lambdalayer.resolve.index_settings import QueryPlan, is_offline, query_plan

if TYPE_CHECKING:
    from lambdalayer.pipeline.request import BuildRequest
    from lambdalayer.resolve.requirements import RequirementInputs
    from lambdalayer.resolve.resolution import Resolution

UNAVAILABLE_KEY = "wheel_streams_unavailable"
_Found = tuple[WheelOutcome, OpenWheel | None]
_AT_ONCE = threading.BoundedSemaphore(4)  # wheels fetched side by side
# The big members of each wheel are inflated as soon as it is fetched, one wheel at a
# time: the layer is laid out and audited on one core meanwhile, the other inflates (zlib
# and hashlib let go of the GIL for a big member). The small ones (more than nine in ten
# of the members, a quarter of the bytes for numpy + pandas) would only contend for the
# GIL with that Python work: the zip writer's threads inflate them.
_VERIFYING = threading.Lock()
_VERIFY_EARLY = 64 * 1024


@dataclass(kw_only=True)
class WheelStreams:
    """The wheels asked for in this build, and those opened for their streams."""

    asked: dict[WheelWanted, Future[_Found]] = field(default_factory=dict)
    opened: dict[str, OpenWheel] = field(default_factory=dict)  # by SHA-256
    outcomes: dict[WheelWanted, WheelOutcome] = field(default_factory=dict)

    def refs(self, root: Path, site_dirs: dict[Path, list[InstalledDist]],
             stop: threading.Event | None = None) -> dict[str, StreamRef]:
        """Archive name -> the member of its distribution's wheel with the same path.

        Waits for the fetches; `stop` set ends the wait with ZipStopped. Called from one
        thread at a time (the zip writer's), before `unavailable`."""
        found: dict[str, StreamRef] = {}
        for site, dists in site_dirs.items():
            prefix = site.relative_to(root).as_posix()
            for dist in dists:
                wheel = self._wheel(wanted_of(dist), stop)
                if wheel is None:
                    continue
                label = wanted_of(dist).label
                for name in dist.files:
                    member = wheel.members.get(name)
                    if member is not None:
                        found[f"{prefix}/{name}"] = StreamRef(wheel=wheel, name=name,
                                                              member=member, dist=label)
        return found

    def _wheel(self, wanted: WheelWanted,
               stop: threading.Event | None = None) -> OpenWheel | None:
        future = self.asked.get(wanted)
        if future is None:
            return None
        if wanted not in self.outcomes:
            while stop is not None and not future.done():
                if stop.wait(0.05):  # a slow index must not hold up a build that ends
                    raise ZipStopped("waiting for a wheel")
            try:
                outcome, wheel = future.result()
            except Exception as exc:  # a fetch must never fail the build
                outcome, wheel = WheelOutcome(reason=type(exc).__name__,
                                              unavailable=True), None
            self.outcomes[wanted] = outcome
            if wheel is not None:
                if wheel.sha256 in self.opened:
                    wheel.close()  # the same file found for another distribution
                else:
                    self.opened[wheel.sha256] = wheel
        sha = self.outcomes[wanted].sha256
        return self.opened.get(sha) if sha is not None else None

    def unavailable(self) -> dict[str, str]:
        """"name==version" -> why, for each wheel this build could not have."""
        for wanted in self.asked:
            self._wheel(wanted)
        return {w.label: o.reason or "unknown" for w, o in sorted(
            self.outcomes.items(), key=lambda item: item[0].label) if o.unavailable}

    def finish(self) -> None:
        """Keep what was verified, close the wheels, trim the folder."""
        for wheel in self.opened.values():
            keep_record(wheel)
            wheel.close()
        self.opened.clear()
        trim_wheels()


def wanted_of(dist: InstalledDist) -> WheelWanted:
    return WheelWanted(name=dist.name, version=dist.version, tags=frozenset(dist.tags))


def start_fetches(request: BuildRequest, resolutions: Iterable[Resolution],
                  work: Path) -> WheelStreams:
    """Look for (and fetch) every installed distribution's wheel in the background."""
    streams = WheelStreams()
    if request.compression_level == 0:
        return streams  # stored zips copy no deflate stream
    offline = is_offline(request.inputs.index)
    pages = PageMemo()
    for resolution in resolutions:
        inputs = request.inputs_for(resolution.target)
        local, direct = _direct_requirements(inputs, work)
        # Built from an sdist, from a direct URL or without tags: no wheel to look for.
        wheels = [wanted_of(dist) for dist in resolution.dists
                  if dist.name not in resolution.built_from_sdist
                  and dist.name not in direct and dist.tags]
        plan = query_plan(inputs.index, [f.text for f in inputs.files],
                          bases=[f.base or f.path.parent for f in inputs.files],
                          even_offline=True)
        for wanted in wheels:
            if wanted in streams.asked:
                continue
            # Per build, not per process: each build opens (and closes) its own wheels.
            streams.asked[wanted] = index_cache.background(
                _Job(wanted, plan, local, offline, work / "wheels", pages))
    return streams


@dataclass(frozen=True)
class _Job:
    wanted: WheelWanted
    plan: QueryPlan
    local: tuple[Path, ...]
    offline: bool
    scratch: Path
    pages: PageMemo

    def __call__(self) -> _Found:
        """The wheel, opened: its bytes hashed, its table of members read and what each
        big member holds learnt (members.verify_members) while the layer is laid out
        and audited, so the zip written beside the proof compares their digests
        instead of inflating them there."""
        for _attempt in range(2):
            with _AT_ONCE:
                outcome = find_wheel(self.wanted, self.plan, self.local,
                                     offline=self.offline, scratch=self.scratch,
                                     pages=self.pages)
            if outcome.path is None or outcome.sha256 is None:
                return outcome, None
            wheel = open_wheel(outcome.path, outcome.sha256, outcome.record)
            if wheel is not None:
                with _VERIFYING:  # inflating uses a core: one wheel at a time
                    verify_members(wheel, smallest=_VERIFY_EARLY)
                return outcome, wheel
            if not outcome.kept:
                break
            outcome.path.unlink(missing_ok=True)  # a damaged copy in the cache: fetch again
        return WheelOutcome(reason="the wheel could not be read", unavailable=True), None


def _direct_requirements(inputs: RequirementInputs,
                         work: Path) -> tuple[tuple[Path, ...], set[str]]:
    """(wheel files you gave as requirements, names required by any direct URL)."""
    local: list[Path] = []
    direct: set[str] = set()
    for req in inputs.all_requirements:
        if not req.url:
            continue
        parts = urllib.parse.urlsplit(req.url)
        path = Path(urllib.request.url2pathname(parts.path)) if parts.scheme == "file" \
            else None
        if path is not None and path.name.endswith(".whl") and not path.is_relative_to(work):
            local.append(path)  # your wheel file: its own streams, like an index's
        else:
            direct.add(canonicalize_name(req.name))  # built here, or another URL
    return tuple(local), direct


def unavailable_warning(missing: dict[str, str]) -> str:
    """One line: which wheels could not be had, and what that means for the zip."""
    names = ", ".join(list(missing)[:5]) + (f" and {len(missing) - 5} more"
                                            if len(missing) > 5 else "")
    reason = next(iter(missing.values()))
    return (f"The wheels of {names} could not be had ({reason}): their files were deflated "
            "here, so the zip bytes differ from an online build's (the manifest lists them "
            f"under {UNAVAILABLE_KEY}); one online build keeps the wheels for later ones.")
