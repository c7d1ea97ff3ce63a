"""The wheel file an installed distribution came from, for its deflate streams
(members.py, docs/zip-format.md).

uv's cache keeps wheels unpacked, so the `.whl` is found again: in a --find-links
folder or a wheel file given as a requirement, else on the first index (in uv's
order) that lists the project, as the file whose name has the installed name,
version and tag set (the dist-info's WHEEL). An index's file is fetched with the
index query's own client (credentials to the index's origin only, guarded
redirects, a deadline, a size cap), checked against the SHA-256 the index gives,
and kept in lambdalayer's cache (`wheels/`, by SHA-256). Offline, only kept pages
and kept wheels are used. Only an http(s) URL is fetched: a page that places a wheel at
`file:///dev/zero` or a FIFO gets the wheel marked unavailable, the file never opened.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from lambdalayer.common import interrupt
from lambdalayer.common.cache import WHEELS_DIR, max_size, usable_root, wheels_folder
from lambdalayer.common.redact import redact_text
from lambdalayer.resolve.index_settings import QueryPlan

MAX_WHEEL = 512 * 1024 * 1024  # a wheel larger than this is not fetched
_TIMEOUT = 300.0  # seconds for one wheel, in all
_BLOCK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class WheelWanted:
    """What an installed distribution says it came from (METADATA and WHEEL)."""

    name: str  # canonical
    version: str
    tags: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True, kw_only=True)
class WheelOutcome:
    """The wheel file (path and SHA-256), or why there is none. `unavailable` marks a
    wheel an online build with a cache could have had (offline, network, no hash): the
    zip then differs from such a build's. A wheel no index lists is not unavailable: no
    build has it."""

    path: Path | None = None
    sha256: str | None = None
    record: Path | None = None  # where the member verifications are kept
    reason: str | None = None
    unavailable: bool = False
    kept: bool = False  # found in lambdalayer's cache, not yet hashed


def _matches(filename: str, wanted: WheelWanted, *, quick: bool = False) -> bool:
    parts = filename.split("-")
    # A page lists thousands of files (numpy: 4,400): `quick` first skips those whose
    # version field is not written as METADATA writes it (wheel names normalise it).
    if quick and (len(parts) < 5 or parts[1] != wanted.version.replace("-", "_")):
        return False
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
        return (canonicalize_name(name) == wanted.name
                and version == Version(wanted.version)
                and {str(t) for t in tags} == set(wanted.tags))
    except ValueError:  # InvalidWheelFilename, InvalidVersion, an over-long number
        return False


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _cache_dir() -> Path | None:
    if max_size() <= 0:
        return None
    root = usable_root()
    return root / WHEELS_DIR if root is not None else None


def _record_path(sha256: str) -> Path | None:
    folder = _cache_dir()
    return folder / sha256[:2] / f"{sha256}.verified" if folder is not None else None


_Page = tuple[str, "str | None", list[dict[str, Any]]]


@dataclass
class PageMemo:
    """Each project's index page fetched and parsed once per build: ten targets ask for
    ten wheels of one project, and a page can be megabytes of JSON (pydantic-core's)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pages: dict[tuple[str, QueryPlan, bool], tuple[threading.Lock, list[Any]]] = field(
        default_factory=dict)

    def files(self, name: str, plan: QueryPlan, offline: bool) -> _Page:
        """index_query.project_files, once per (project, plan, offline); its exception
        (Unavailable) is raised again for every later asker."""
        from lambdalayer.resolve.index_query import project_files

        with self._lock:
            lock, slot = self._pages.setdefault((name, plan, offline),
                                                (threading.Lock(), []))
        with lock:  # the first asker fetches; the others wait for its answer
            if not slot:
                try:
                    slot.append(project_files(name, plan, offline=offline))
                except Exception as exc:
                    slot.append(exc)
        if isinstance(slot[0], Exception):
            raise slot[0]
        page: _Page = slot[0]
        return page


def find_wheel(wanted: WheelWanted, plan: QueryPlan, local: tuple[Path, ...], *,
               offline: bool, scratch: Path, pages: PageMemo | None = None) -> WheelOutcome:
    """The wheel `wanted` was installed from. `local`: wheel files given as requirements;
    `scratch`: where to download when the cache cannot keep it; `pages`: the build's
    memo of index pages. Never raises."""
    candidates = sorted([*local, *(p for d in plan.find_links for p in _listed(d))])
    for path in candidates:
        if _matches(path.name, wanted):
            sha = _sha256(path)
            if sha is not None:
                return WheelOutcome(path=path, sha256=sha, record=_record_path(sha))
    if not plan.urls:
        return WheelOutcome(reason=plan.skipped or "no index is used", unavailable=offline)
    from lambdalayer.resolve.index_query import Unavailable

    try:
        page, auth, files = (pages or PageMemo()).files(wanted.name, plan, offline)
    except Unavailable as exc:
        return WheelOutcome(reason=redact_text(str(exc)), unavailable=True)
    entries = [f for f in files if _matches(str(f.get("filename", "")), wanted, quick=True)] \
        or [f for f in files if _matches(str(f.get("filename", "")), wanted)]
    entries.sort(key=lambda f: str(f.get("filename")))
    if not entries:
        return WheelOutcome(reason="the index lists no such wheel")
    entry = entries[0]
    hashes = entry.get("hashes")
    sha = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(sha, str) or len(sha) != 64:
        return WheelOutcome(reason="the index gives no SHA-256 for it", unavailable=True)
    sha = sha.lower()
    return _cached_or_fetched(entry, sha, page, auth, offline=offline, scratch=scratch)


def _listed(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.name.endswith(".whl") and p.is_file()]
    except OSError:
        return []


def _cached_or_fetched(entry: dict[str, object], sha: str, page: str, auth: str | None, *,
                       offline: bool, scratch: Path) -> WheelOutcome:
    folder = _cache_dir()
    kept = folder / sha[:2] / f"{sha}.whl" if folder is not None else None
    if kept is not None and kept.is_file():
        with contextlib.suppress(OSError):
            os.utime(kept)  # recently used: trimmed last
        # Hashed when opened (members.open_wheel); a damaged copy is deleted then and
        # fetched again (reuse.py).
        return WheelOutcome(path=kept, sha256=sha, record=_record_path(sha), kept=True)
    if offline:
        return WheelOutcome(reason="offline, and the wheel is not in lambdalayer's cache",
                            unavailable=True)
    url = urllib.parse.urljoin(page, str(entry.get("url", "")))
    from lambdalayer.resolve.index_query import (
        HTTP_SCHEMES,
        Unavailable,
        _origin,
        download,
        scheme_of,
    )

    scheme = scheme_of(url)
    if scheme not in HTTP_SCHEMES:  # file:///dev/zero, a FIFO: an index's URL is never opened
        return WheelOutcome(reason=redact_text(
            f"the page {page} gives its wheel a {scheme or 'scheme-less'}:// URL, which "
            "lambdalayer never opens (only http and https)"), unavailable=True)

    # The index's credentials go to the index's own origin only (docs/trust.md).
    header = auth if _origin(url) == _origin(page) else None
    target = (kept.parent if kept is not None else scratch)
    temporary: Path | None = None
    try:
        if kept is not None:
            wheels_folder(target)  # private like the rest of the cache
        else:
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = _partial_file(target)
        digest = _HashingFile(os.fdopen(descriptor, "wb"))
        with digest.handle:
            download(url, header, digest, cap=MAX_WHEEL, timeout=_TIMEOUT)
        if digest.hexdigest() != sha:
            return WheelOutcome(reason="the file's SHA-256 is not the one the index gives",
                                unavailable=True)
        final = kept if kept is not None else target / f"{sha}.whl"
        os.replace(temporary, final)
        _settled(temporary)
        temporary = None
        return WheelOutcome(path=final, sha256=sha, record=_record_path(sha))
    except Unavailable as exc:
        return WheelOutcome(reason=redact_text(str(exc)), unavailable=True)
    except OSError as exc:
        return WheelOutcome(reason=f"it could not be written ({exc.strerror or exc})",
                            unavailable=True)
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
            _settled(temporary)


# The downloads under way. A signal ends the process while a fetch thread is still
# writing; its `finally` may never run, so the last cleanup (common/interrupt) removes
# them, and no download starts after it.
_PARTIALS_LOCK = threading.RLock()  # RLock: the cleanup may run in a signal handler
_PARTIALS: set[Path] = set()
_CLOSED = [False]


def _partial_file(directory: Path) -> tuple[int, Path]:
    """A new `.tmp-` file in `directory` (descriptor, path), known to the last cleanup."""
    # Deferred: in the main thread a signal between creating and noting would leak it.
    with _PARTIALS_LOCK, interrupt.deferred():
        if _CLOSED[0]:
            raise OSError(errno.ECANCELED, "the build is being stopped")
        descriptor, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        _PARTIALS.add(Path(name))
    return descriptor, Path(name)


def _settled(path: Path) -> None:
    with _PARTIALS_LOCK:
        _PARTIALS.discard(path)


def _remove_partials() -> None:
    with _PARTIALS_LOCK:
        _CLOSED[0] = True
        for path in _PARTIALS:
            with contextlib.suppress(OSError):
                path.unlink()
        _PARTIALS.clear()


interrupt.at_final_cleanup(_remove_partials)


class _HashingFile:
    """A binary file that hashes what is written to it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self.handle.write(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def trim_wheels() -> None:
    """Keep the wheel files within a quarter of the cache's cap, least recently used first."""
    from lambdalayer.common.cache import trim

    folder = _cache_dir()
    if folder is not None and folder.is_dir() and not folder.is_symlink():
        trim(folder, max_size() // 4)
