"""`lambdalayer cache` and `lambdalayer cache clean`."""

from __future__ import annotations

import click

from lambdalayer.cli import cli
from lambdalayer.cli.output import print_json, say, tell
from lambdalayer.common.fileio import tree_size
from lambdalayer.common.units import format_size


@cli.group("cache", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def cache_group(ctx: click.Context, as_json: bool) -> None:
    """Show where lambdalayer caches and how much: its zip member cache (capped by
    LAMBDALAYER_CACHE_MAX, default 2G; moved by LAMBDALAYER_CACHE_DIR) and uv's
    wheel cache, which it shares with your other uv work.

    \b
      lambdalayer cache
      lambdalayer cache clean          # lambdalayer's cache only
      lambdalayer cache clean --uv     # and `uv cache clean`
    """
    if ctx.invoked_subcommand is not None:
        return
    from lambdalayer.common.cache import usage, uv_cache_dir

    ours = usage()
    uv_dir = uv_cache_dir()
    uv_size = tree_size(uv_dir) if uv_dir and uv_dir.exists() else 0
    if as_json:
        print_json({"cache": {"path": str(ours.path), "size": ours.size, "files": ours.files,
                              "cap": ours.cap, "interpreters": ours.interpreters},
                    "uv_cache": {"path": str(uv_dir) if uv_dir else None, "size": uv_size}})
        return
    cap = format_size(ours.cap) if ours.cap else "off (LAMBDALAYER_CACHE_MAX=0)"
    kept = (f" ({format_size(ours.interpreters)} of it interpreters from `interpreters add`, "
            "which `cache clean` keeps)" if ours.interpreters else "")
    say(f"lambdalayer cache: {ours.path} — {format_size(ours.size)} in {ours.files} file(s), "
        f"cap {cap}{kept}")
    if uv_dir:
        say(f"uv cache (wheels, unpacked trees): {uv_dir} — {format_size(uv_size)}")


@cache_group.command("clean")
@click.option("--uv", "also_uv", is_flag=True,
              help="Also run `uv cache clean` (uv's cache is shared with your other uv work).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def clean_command(also_uv: bool, as_json: bool) -> None:
    """Delete lambdalayer's cache (and, with --uv, uv's). The next build is slower, not
    different: cached and fresh zips are byte-identical. Interpreters from `interpreters
    add` stay (delete their folder under interpreters/ yourself)."""
    from lambdalayer.common.cache import cache_root, clean, clean_uv

    freed = clean()
    uv_cleaned = clean_uv() if also_uv else None
    if as_json:
        print_json({"cleaned": {"path": str(cache_root()), "freed": freed,
                                "uv": uv_cleaned}})
    else:
        from lambdalayer.common.cache import usage

        kept = usage().interpreters
        also = (f"; kept {format_size(kept)} of interpreters from `interpreters add` "
                "(delete their folder under interpreters/ yourself)" if kept else "")
        say(f"removed {format_size(freed)} from {cache_root()}{also}")
        if uv_cleaned:
            say("uv's cache cleaned (`uv cache clean`)")
    if uv_cleaned is False:
        # Not fatal: lambdalayer's own cache is gone either way.
        tell("warning: `uv cache clean` failed; run it yourself to see why "
            "(another uv process may hold its lock).")
