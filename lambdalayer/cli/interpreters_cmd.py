"""`lambdalayer interpreters`: which CPython proves each runtime x architecture, and adding one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import json_option, target_options
from lambdalayer.cli.output import print_json, say, tell
from lambdalayer.targets.target import Target

_F = TypeVar("_F", bound=Callable[..., Any])


def _targets(runtimes: tuple[str, ...], archs: tuple[str, ...]) -> list[Target]:
    from lambdalayer.targets.runtimes import load_runtime_table

    table = load_runtime_table()
    return [Target.parse(r, a) for r in (runtimes or tuple(table.runtimes))
            for a in (archs or tuple(table.architectures))]


def _listing_options(command: _F) -> _F:
    """--runtime, --arch and --json: the same on `interpreters` and `interpreters list`."""
    return target_options("Runtime to list", "all", "both")(json_option(command))


@cli.group("interpreters", invoke_without_command=True)
@_listing_options
@click.pass_context
def interpreters_command(ctx: click.Context, runtimes: tuple[str, ...], archs: tuple[str, ...],
                         as_json: bool) -> None:
    """List the CPython that proves each runtime x architecture, and how it runs.

    \b
    native         a CPython of the host's machine (PATH, pyenv, uv)
    qemu-aarch64   another architecture's CPython under qemu-user (-L its root filesystem)
    ROOT's ld.so   a root filesystem's CPython run through its own loader (a newer glibc)

    Looked for: a path named by $LAMBDALAYER_PYTHON_3_12_ARM64-style variables or the
    project config's interpreters table, then native CPythons, root filesystems in
    $LAMBDALAYER_INTERPRETERS (os.pathsep-separated) and lambdalayer's cache
    (interpreters/), then uv-managed CPythons of other architectures.
    `lambdalayer interpreters add` provisions one.

    \b
      [tool.lambdalayer.interpreters]          # pyproject.toml (or lambdalayer.toml)
      "python3.12-arm64" = "/opt/roots/noble-arm64/usr/bin/python3.12"
      "python3.14-x86_64" = "~/.local/bin/python3.14"
    """
    if ctx.invoked_subcommand is not None:
        return
    _list(runtimes, archs, as_json)


@interpreters_command.command("list")
@_listing_options
@click.pass_context
def list_command(ctx: click.Context, runtimes: tuple[str, ...], archs: tuple[str, ...],
                 as_json: bool) -> None:
    """The same as `lambdalayer interpreters` (options before `list` apply too)."""
    parent = ctx.parent.params if ctx.parent is not None else {}
    _list(runtimes or parent.get("runtimes", ()), archs or parent.get("archs", ()),
          as_json or bool(parent.get("as_json")))


def _list(runtimes: tuple[str, ...], archs: tuple[str, ...], as_json: bool) -> None:
    from lambdalayer.interpreters.provision import available
    from lambdalayer.project.config import configured_interpreters, load_config

    configured = configured_interpreters(load_config())

    rows = available(_targets(runtimes, archs), configured)
    if as_json:
        print_json({"interpreters": [asdict(row) for row in rows]})
        return
    how_width = max([len(row.how or "") for row in rows] + [len("native")])
    for row in rows:
        target = f"{row.runtime}/{row.arch}"
        if row.found:
            named = f"  (named by {row.source})" if row.source in ("env", "config") else ""
            say(f"{target:<18} {row.how:<{how_width}}  CPython {row.version}  "
                f"{row.interpreter}{named}")
        else:
            say(f"{target:<18} {'-':<{how_width}}  {row.reason}")


@interpreters_command.command("add")
@target_options("Runtime to add a CPython for", required=True)
@click.option("--from-debian", "suite", metavar="SUITE",
              help="Make a Debian root filesystem holding CPython with mmdebstrap "
                   "(bookworm: 3.11, trixie: 3.13, unstable: 3.14). Default: uv downloads "
                   "a CPython build.")
@click.option("--into", "into", type=click.Path(file_okay=False),
              help="Where the root filesystem goes (default: lambdalayer's cache, "
                   "interpreters/; other places are found through $LAMBDALAYER_INTERPRETERS).")
def add_command(runtime: str, arch: str, suite: str | None, into: str | None) -> None:
    """Provision a CPython for RUNTIME on ARCH that the import proof can run.

    \b
      lambdalayer interpreters add --runtime python3.13 --arch arm64 --from-debian trixie
      lambdalayer interpreters add --runtime python3.12 --arch arm64      # with uv
    """
    from lambdalayer.common.errors import UsageError
    from lambdalayer.interpreters.provision import provision

    if into is not None and not into.strip():
        # Path("") is the working directory: an unset variable in a script would
        # otherwise put a root filesystem wherever the command happens to run.
        raise UsageError("--into is empty.", hint="Give the directory to put the root "
                         "filesystem in, or leave --into out for lambdalayer's cache.")
    dest = Path(into) if into is not None else None
    target = Target.parse(runtime, arch)
    done = provision(target, suite=suite, dest=dest, progress=lambda m: tell(f"… {m}"))
    say(f"{target}: {done.interpreter} ({done.how})")
    if done.warning:
        tell(f"warning: {done.warning}")
