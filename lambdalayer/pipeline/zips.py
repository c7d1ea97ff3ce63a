"""Each layer's zip, written into a partial file in dist/ while its proof runs.

The proof is CPU-bound in interpreter processes and the zip mostly reads, hashes and
copies; side by side they take about the longer of the two instead of the sum. The
zip is only swapped into place (pipeline/artifacts.py) after the proof passed, so dist/
never holds an unproven layer. It is written beside the proof only when the proof
cannot write into the tree (bubblewrap makes every host file read-only to it,
proof/sandbox.py); otherwise layer code run by the proof could change a file while it
is read, and the zip is written after the proof as before.

While a first build's lone import runs beside its compile helper, the two claim every
core of a 2-core machine (common/cores.py): the zip then waits (write_zip's `pause`,
before each member) and is written while the helper compiles what the import missed,
rather than take a third of the cores from the import.

One worker thread writes the zips one after another, sharing one member cache and one
run memo (a later zip reuses what an earlier one compressed), so the bytes are the
same whichever way they were written.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.archive.zipwriter import RunMemo, ZipStats, iter_tree, write_zip
from lambdalayer.common import cores
from lambdalayer.common.cache import DeflateCache, open_member_cache
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.fileio import cannot_write, file_digests, is_write_fault
from lambdalayer.common.limits import DIRECT_UPLOAD_LIMIT
from lambdalayer.common.workdirs import sweep_partials

if TYPE_CHECKING:
    from lambdalayer.pipeline.request import BuildRequest
    from lambdalayer.pipeline.wheel_streams.reuse import WheelStreams


@dataclass(frozen=True, kw_only=True)
class Zipped:
    """One layer's zip, complete in `partial` (not yet in place)."""

    partial: Path
    stats: ZipStats
    sha256: str
    code_sha256: str
    warnings: tuple[str, ...]


class LayerZips:
    """Writes each layer's zip to `.NAME.zip.PID.partial` in the output folder.

    `start` begins one in the background; `result` returns it (writing it now when it
    was not started). Every partial's path is in `partials` before its file can
    exist; `close` stops the worker and waits for it, so the caller's cleanup of
    `partials` afterwards misses nothing.
    """

    def __init__(self, request: BuildRequest, streams: WheelStreams,
                 partials: list[Path]) -> None:
        self._request = request
        self._streams = streams
        self.partials = partials
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, Future[Zipped]] = {}
        self._opened = False
        self._cache: DeflateCache | None = None
        self._memo = RunMemo()  # one architecture's zip reuses what another's compressed
        self.warnings: list[str] = []  # once per build: the member cache's own

    def start(self, name: str, root: Path, site_dirs: dict[Path, list[InstalledDist]]) -> None:
        """Begin writing `name`.zip from `root` in the background."""
        partial = self._partial(name)
        self._open()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip")
        self._jobs[name] = self._pool.submit(self._write, name, root, site_dirs, partial)

    def result(self, name: str, root: Path,
               site_dirs: dict[Path, list[InstalledDist]]) -> Zipped:
        """`name`.zip, complete in its partial file; OSError/UsageError as write_zip's."""
        job = self._jobs.pop(name, None)
        if job is not None:
            return job.result()
        partial = self._partial(name)
        self._open()
        return self._write(name, root, site_dirs, partial)

    def ready(self, name: str) -> bool:
        """True when `name`.zip was written in the background and is complete."""
        job = self._jobs.get(name)
        return job is not None and job.done()

    def close(self) -> None:
        """Stop a zip still being written and wait for the worker: nothing is written
        after this returns."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        sweep_partials(self._request.out_dir)  # what killed builds left half-written
        self._cache, warning = open_member_cache()
        if warning:
            self.warnings.append(warning)

    def _partial(self, name: str) -> Path:
        # Written beside the zip under another name, and swapped in with its manifest.
        partial = self._request.out_dir / f".{name}.zip.{os.getpid()}.partial"
        self.partials.append(partial)
        return partial

    def _write(self, name: str, root: Path, site_dirs: dict[Path, list[InstalledDist]],
               partial: Path) -> Zipped:
        zip_path = self._request.out_dir / f"{name}.zip"
        try:
            # The proof's lone import and its compile helper may claim every core; this
            # zip has slack until the proof ends, so it pauses rather than slow it down.
            stats = write_zip(iter_tree(root), partial, level=self._request.compression_level,
                              cache=self._cache, memo=self._memo,
                              streams=self._streams.refs(root, site_dirs, self._stop),
                              stop=self._stop,
                              pause=lambda: cores.wait_for_spare(self._stop))
        except OSError as exc:
            if is_write_fault(exc):  # write_zip removed its temporary file
                raise cannot_write(zip_path, exc) from exc
            raise
        warnings = []
        cache = self._cache
        if cache is not None and cache.discarded:
            count = len(cache.discarded)
            warnings.append(
                f"{count} cache entr{'y' if count == 1 else 'ies'} in {cache.directory} did "
                "not match the content it is stored for and was deleted (compressed afresh). "
                "Someone or something wrote to the cache: check who can write there.")
            cache.discarded.clear()
        if stats.size > DIRECT_UPLOAD_LIMIT:
            warnings.append(
                f"{zip_path.name} is {stats.size / 1e6:.1f} MB zipped, over the 50 MB direct "
                "upload limit: publish it through S3 (`lambdalayer publish --s3-bucket B`).")
        sha256, code_sha256 = file_digests(partial)
        return Zipped(partial=partial, stats=stats, sha256=sha256, code_sha256=code_sha256,
                      warnings=tuple(warnings))
