"""File and package names come from wheels: rich markup in them must print as text."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from lambdalayer.archive.manifest import FindingRecord, Manifest, PackageRecord
from lambdalayer.cli.build_render import _render_rich
from lambdalayer.pipeline.request import Artifact, BuildResult
from lambdalayer.reports.sizing import PackageSize, SizeReport

HOSTILE = "python/[/]evil[bold].so"


def test_markup_in_names_is_printed_literally() -> None:
    manifest = Manifest(
        name="x", zip="x.zip", sha256="0", code_sha256="0", size=1, unzipped_size=1,
        runtimes=["python3.12"], architectures=["x86_64"],
        packages=[PackageRecord(name="[/]pkg", version="1.0", tags=[])], tool_version="0",
        inputs_hash="0", inputs={},
        findings=[FindingRecord(severity="warning", code="[/]code", path=HOSTILE,
                                message="m")])
    sizes = SizeReport(packages=(PackageSize(name="[/]pkg", version="[red]1.0", size=1,
                                                   files=1),),
                       total=1, largest_files=())
    artifact = Artifact(name="x", zip_path=Path("x.zip"), manifest_path=Path("x.json"),
                        manifest=manifest, sizes=sizes, up_to_date=False)
    out = io.StringIO()
    _render_rich(Console(file=out, width=200, color_system=None),
                 BuildResult(artifacts=(artifact,), warnings=("[/]w",)))
    text = out.getvalue()
    assert HOSTILE in text and "[/]pkg" in text and "[red]1.0" in text and "[/]code" in text
