"""`lambdalayer build`: resolve, audit and zip a layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import (
    SectionedCommand,
    aws_options,
    index_options,
    proof_option,
    proof_sandbox_option,
    target_options,
)
from lambdalayer.cli.vulns import build_vuln_options

if TYPE_CHECKING:
    from lambdalayer.project.builds import FunctionTarget
    from lambdalayer.project.config import ProofPolicy, ProofSandbox
    from lambdalayer.project.precedence import BuildFlags
    from lambdalayer.project.supply_checks import VulnSettings


@dataclass(frozen=True, kw_only=True)
class _CommandLine:
    """`build`'s options as click parsed them (the parameters of build_command)."""

    name: str | None
    requirement_files: tuple[Path, ...]
    packages: tuple[str, ...]
    sources: tuple[Path, ...]
    includes: tuple[str, ...]
    project: Path | None
    with_self: bool
    follow_links: bool
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    out_dir: Path | None
    layers: tuple[str, ...]
    recipes_dir: Path | None
    locked: bool
    force: bool
    allow: tuple[str, ...]
    verbose: bool  # read by main() from the arguments, for the error it shows
    for_function: str | None
    region: str | None
    compile_: bool
    proof: str | None  # --proof: "on" (bare), "required", "best-effort"
    no_proof: bool  # --no-proof
    test_report: bool
    fix_pairs: bool
    proof_sandbox: ProofSandbox | None
    deny_licences: tuple[str, ...]
    vulns: bool | None
    fail_on: str | None
    vuln_service: str | None
    slim: bool
    strip: bool
    excludes: tuple[str, ...]
    compression_level: int | None
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    offline: bool
    unpacked_dir: Path | None
    report_file: Path | None
    profile: str | None
    endpoint_url: str | None
    as_json: bool

    def flags(self) -> BuildFlags:
        from lambdalayer.project.precedence import BuildFlags, BuildOptions
        from lambdalayer.resolve.index_settings import IndexSettings

        return BuildFlags(
            name=self.name, layers=self.layers, requirement_files=self.requirement_files,
            packages=self.packages, runtimes=self.runtimes, architectures=self.architectures,
            out_dir=self.out_dir, recipes_dir=self.recipes_dir, force=self.force,
            allow=self.allow, locked=self.locked, sources=self.sources,
            includes=self.includes, project=self.project, with_self=self.with_self,
            follow_links=self.follow_links, proof_sandbox=self.proof_sandbox,
            deny_licences=self.deny_licences,
            proof=self.proof_policy,
            index=IndexSettings(index_url=self.index_url,
                                extra_index_urls=self.extra_index_urls,
                                find_links=self.find_links, offline=self.offline),
            options=BuildOptions(compile=self.compile_, test_report=self.wants_test_report,
                                 no_proof=self.skips_proof, fix_pairs=self.fix_pairs,
                                 slim=self.slim,
                                 strip=self.strip, excludes=self.excludes,
                                 compression_level=self.compression_level),
        )

    @property
    def wants_test_report(self) -> bool:
        return self.test_report

    @property
    def proof_policy(self) -> ProofPolicy | None:
        if self.proof == "required":
            return "required"
        return "best-effort" if self.proof == "best-effort" else None  # bare --proof: "on"

    @property
    def skips_proof(self) -> bool:
        if self.no_proof and self.proof is not None:
            from lambdalayer.common.errors import UsageError

            raise UsageError("--proof and --no-proof do not go together: choose one.")
        no_proof = self.no_proof
        if no_proof and self.wants_test_report:
            from lambdalayer.common.errors import UsageError

            raise UsageError("--no-proof and --test-report do not go together: the test "
                             "report comes from the proof's run.")
        return no_proof

    def vuln_settings(self) -> VulnSettings:
        from lambdalayer.project.supply_checks import VulnSettings

        return VulnSettings(enabled=self.vulns, fail_on=self.fail_on,
                            service=self.vuln_service)

    def function(self) -> FunctionTarget | None:
        if not self.for_function:
            return None
        from lambdalayer.project.builds import FunctionTarget

        return FunctionTarget(function=self.for_function, region=self.region,
                              profile=self.profile, endpoint_url=self.endpoint_url)


# build's options by purpose, in --help's order (cli/options.SectionedCommand).
_SECTIONS = (
    ("What goes in", ("requirement_files", "packages", "project", "with_self", "sources",
                      "includes", "follow_links", "excludes", "layers", "recipes_dir",
                      "locked")),
    ("Targets", ("runtimes", "architectures", "for_function", "region")),
    ("Size and cold start", ("slim", "strip", "compression_level", "compile_")),
    ("Audit and import proof", ("allow", "proof", "no_proof", "test_report", "fix_pairs",
                                "proof_sandbox")),
    ("What ships: licences and known vulnerabilities", ("deny_licences", "vulns", "fail_on",
                                                        "vuln_service")),
    ("Package index", ("index_url", "extra_index_urls", "find_links", "offline")),
    ("Output", ("out_dir", "unpacked_dir", "report_file", "force", "as_json", "verbose")),
    ("AWS (for --for-function)", ("profile", "endpoint_url")),
)


@cli.command("build", cls=SectionedCommand, sections=_SECTIONS)
@click.argument("name", required=False)
@click.option("-r", "--requirements", "requirement_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="A requirements file (pip, pip-compile or uv format; --hash lines enforced).")
@click.option("-p", "--package", "packages", multiple=True, metavar="SPEC",
              help="A requirement such as 'orjson>=3.10'. Repeatable.")
@click.option("--source", "sources", multiple=True, metavar="DIR",
              type=click.Path(path_type=Path),
              help="A folder of your own modules and packages, copied into the layer's "
                   "python/ (leaves out __pycache__, VCS/editor files and what its "
                   ".gitignore excludes). Repeatable.")
@click.option("--include", "includes", multiple=True, metavar="SRC:DEST",
              help="A file or folder placed at DEST below the layer root, e.g. "
                   "./jq:bin/ or ./libfoo.so:lib/ (/opt/lib is on Lambda's library path). "
                   "Repeatable.")
@click.option("--project", "project", metavar="DIR", type=click.Path(path_type=Path),
              help="The runtime dependencies of the project in DIR: exactly its uv.lock's "
                   "versions and hashes when it has one, no dev groups.")
@click.option("--with-self", "with_self", is_flag=True,
              help="With --project: the project itself too, built into a pure wheel.")
@click.option("--follow-links", "follow_links", is_flag=True,
              help="Store the bytes of files that links in --source/--include folders and "
                   "local projects lead to outside them (refused by default; /proc, /sys, "
                   "FIFOs and devices always are). See docs/trust.md.")
@target_options("Target runtime", "every current runtime (see `lambdalayer runtimes`)",
                "both", arch_dest="architectures")
# Output paths are plain paths: project/outputs.py judges them, each with its own message.
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              metavar="DIRECTORY",
              help="Where zips and manifests go (default: the config's `out`, else dist).")
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Build only this configured layer. Repeatable. Default: all of them.")
@click.option("--recipes", "recipes_dir", type=click.Path(path_type=Path, file_okay=False),
              metavar="DIRECTORY",
              help="A directory of your own recipes (overrides the config's `recipes`).")
@click.option("--locked", is_flag=True,
              help="Build configured layers from their lock files; fail if one is missing "
                   "or stale (CI).")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--verbose", is_flag=True,
              help="On an audit refusal, list every finding (file by file), not one line per "
                   "kind of problem; and say how long each stage took.")
@click.option("--allow", "allow", multiple=True, metavar="CODE",
              help="Accept an audit finding by code (recorded in the manifest). Repeatable.")
@click.option("--for-function", "for_function", metavar="FUNCTION",
              help="Build for this Lambda function's runtime and architecture (read from AWS).")
@click.option("--region", metavar="REGION", help="The function's region (with --for-function).")
@click.option("--compile", "compile_", is_flag=True,
              help="Ship .pyc compiled by each runtime's own interpreter (faster cold starts "
                   "from read-only /opt); needs a local CPython per runtime.")
@proof_option
@click.option("--test-report", "test_report", is_flag=True,
              help="Also report what `lambdalayer test` finds in each zip (from the same "
                   "interpreter run) and exit 7 when a target cannot be tried here.")
@click.option("--fix-pairs", "fix_pairs", is_flag=True,
              help="When the proof finds two distributions of the layer that no longer fit "
                   "together and an older (or the newest) release that imports, pin it and "
                   "build; a warning names the pin, the manifest records it. Default: "
                   "refuse and advise the pin (exit 6).")
@proof_sandbox_option
@click.option("--deny-licence", "deny_licences", multiple=True, metavar="LICENCE",
              help="Refuse (exit 4, nothing written) a layer with a distribution that needs "
                   "this licence: an SPDX id (GPL-3.0-only), a glob (AGPL-*) or unknown. "
                   "'A OR B' passes when the other is allowed. Repeatable; adds to the "
                   "config's deny_licences.")
@build_vuln_options
@click.option("--slim", is_flag=True,
              help="Leave out what no import needs: tests/ and test/ dirs, C/C++ sources and "
                   "headers, .pyx/.pxd/.pyi, docs and examples inside packages.")
@click.option("--strip", is_flag=True,
              help="Strip symbols and debug info from the .so files (llvm-strip or a strip "
                   "that understands the target; skipped with a warning if none).")
@click.option("--exclude", "excludes", multiple=True, metavar="PKG",
              help="Leave out PKG and the dependencies only it needs. Repeatable. "
                   ":runtime: = what Lambda's Python runtime ships (boto3, botocore, "
                   "s3transfer, jmespath, python-dateutil, six, urllib3).")
@click.option("--compression-level", "compression_level", type=click.IntRange(0, 9),
              metavar="0-9", help="Deflate level for the zip (default 6; 9 is smallest).")
@index_options
@click.option("--offline", is_flag=True,
              help="Use only what uv's cache holds, and do not ask the index whether newer "
                   "releases exist (UV_OFFLINE=1 does the same).")
@click.option("--unpacked", "unpacked_dir", metavar="DIRECTORY",
              type=click.Path(path_type=Path),
              help="Also write the layer tree (exactly the zip's contents: python/...) to "
                   "DIRECTORY, replacing what is there; DIRECTORY/NAME per zip when there "
                   "are several. "
                   "For SAM's BuildMethod makefile: --unpacked $(ARTIFACTS_DIR).")
@click.option("--report", "report_file", metavar="FILE.html",
              type=click.Path(path_type=Path),
              help="Also write an HTML picture of the layer (`lambdalayer report`); "
                   "FILE-NAME.html per zip when there are several.")
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def build_command(**given: Any) -> None:
    """Build a layer zip (and its manifest) for Lambda targets.

    NAME alone is a configured layer or a recipe (`lambdalayer build pg8000`);
    with -r/-p it is the name of the layer you are building; with nothing, every
    layer in the project config ([tool.lambdalayer] in pyproject.toml, or
    lambdalayer.toml) is built. A pure-Python result is one zip for every
    runtime and both architectures; native code is built per architecture and
    needs --runtime (recipes and configured layers may default it).

    \b
      lambdalayer build pg8000
      lambdalayer build analytics -r requirements.txt --runtime python3.12 --arch arm64
      lambdalayer build tools -p anyio -p 'orjson>=3.10' --runtime python3.10
      lambdalayer build analytics -p pandas -p pyarrow --runtime python3.12 --slim --strip
      lambdalayer build api -r requirements.txt --runtime python3.12 --exclude :runtime:
      lambdalayer build common -p ./libs/common          # your own project, built to a wheel
      lambdalayer build shared --source src --include ./jq:bin/
      lambdalayer build deps --project . --runtime python3.12   # uv.lock's versions
      lambdalayer build api -r requirements.txt --vulns --fail-on high --deny-licence 'AGPL-*'
    """
    from lambdalayer.cli.build_render import build_with_progress, render_build
    from lambdalayer.project.builds import build_all

    options = _CommandLine(**given)
    outcome = build_all(options.flags(), for_function=options.function(),
                        unpacked_dir=options.unpacked_dir, report_file=options.report_file,
                        build=build_with_progress, vulns=options.vuln_settings())
    render_build(outcome, as_json=options.as_json, verbose=options.verbose)
