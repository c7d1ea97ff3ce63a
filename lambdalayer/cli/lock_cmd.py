"""`lambdalayer lock`: pinned, hashed lock files for the configured layers."""

from __future__ import annotations

from pathlib import Path

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import index_options, json_option
from lambdalayer.cli.output import print_json, say
from lambdalayer.common.errors import UsageError


@cli.command("lock")
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Lock only this configured layer. Repeatable. Default: all.")
@click.option("--recipes", "recipes_dir", type=click.Path(path_type=Path, file_okay=False),
              metavar="DIRECTORY",
              help="A directory of your own recipes (overrides the config's `recipes`).")
@click.option("--format", "fmt", type=click.Choice(["requirements", "pylock"]),
              default="requirements", show_default=True,
              help="requirements: locks/LAYER/RUNTIME-ARCH.txt (pip, uv). pylock: PEP 751 "
                   "locks/LAYER/pylock.RUNTIME-ARCH.toml.")
@index_options
@json_option
def lock_command(layers: tuple[str, ...], recipes_dir: Path | None, fmt: str,
                 index_url: str | None, extra_index_urls: tuple[str, ...],
                 find_links: tuple[str, ...], as_json: bool) -> None:
    """Write a lock file per configured layer and target, to commit.

    Each lock (locks/LAYER/RUNTIME-ARCH.txt) is in requirements format with
    --hash lines, readable by pip and uv; with --format pylock, a PEP 751
    pylock.RUNTIME-ARCH.toml of the packages that target installs.
    `lambdalayer build` uses fresh locks; `lambdalayer build --locked` fails
    when a lock is missing or stale.

    Examples:

    \b
      lambdalayer lock                           # every configured layer
      lambdalayer lock --layer db                # only the layer db
      lambdalayer lock && lambdalayer build --locked
      lambdalayer lock --format pylock           # PEP 751 pylock.*.toml files
    """
    from lambdalayer.pipeline.plan import plan_targets
    from lambdalayer.project.config import load_config
    from lambdalayer.project.lockfiles import lock_path, lockable, write_lock
    from lambdalayer.project.precedence import BuildFlags, plan_builds
    from lambdalayer.resolve.index_settings import IndexSettings
    from lambdalayer.targets.target import Target

    config = load_config()
    if config.path is None:
        raise UsageError(
            "Nothing to lock: `lock` writes lock files for the layers configured in "
            "pyproject.toml ([tool.lambdalayer.layers.NAME]) or lambdalayer.toml, and "
            "there is no such file here or above.",
            hint="Configure a layer, e.g. [layers.mylayer] packages = [\"pg8000\"] in "
                 "lambdalayer.toml, then run `lambdalayer lock`.")
    planned = plan_builds(BuildFlags(
        layers=layers, recipes_dir=recipes_dir,
        index=IndexSettings(index_url=index_url, extra_index_urls=extra_index_urls,
                            find_links=find_links)), config)
    written = []
    for item in planned:
        request = item.request
        if not lockable(request.inputs):
            continue  # nothing from an index, or locked by uv.lock already
        for runtime, arch in plan_targets(request).pairs:
            target = Target.parse(runtime, arch)
            result = write_lock(request.name, request.inputs, target,
                                lock_path(config.locks, request.name, target, fmt), fmt)
            written.append((request.name, result))
            if not as_json:
                state = ("created" if result.created else
                         "updated" if result.changed else "unchanged")
                say(f"{state} {result.path} ({result.packages} packages)")
    if as_json:
        print_json({"locks": [{"layer": name, "target": r.target, "path": str(r.path),
                               "packages": r.packages, "changed": r.changed}
                              for name, r in written]})
