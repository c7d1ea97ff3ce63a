"""The places a build will write, checked before anything is (docs/safety.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lambdalayer.common.cache import cache_root
from lambdalayer.common.safepaths import (
    Protected,
    check_out_dir,
    check_report_file,
    check_unpacked_dir,
)
from lambdalayer.project.config import ProjectConfig


def protected_places(config: ProjectConfig, outputs: Sequence[Path] = ()) -> Protected:
    """The working directory, the project's root, the output folders and the cache."""
    roots = [config.path.parent] if config.path is not None else []
    return Protected.make(roots=roots, outputs=outputs, cache=cache_root())


def check_build_outputs(out_dirs: Sequence[Path], config: ProjectConfig, *,
                        unpacked: Path | None, report: Path | None) -> None:
    """UsageError naming the option when an output would land on something not ours."""
    protected = protected_places(config, out_dirs)
    for out in dict.fromkeys(out_dirs):
        check_out_dir(out, protected)
    if unpacked is not None:
        check_unpacked_dir(unpacked, protected)
    if report is not None:
        check_report_file(report, protected)
