"""The click group: the table of commands, imported one by one on first use.

Kept apart from `cli/__init__.py` so that `main()` can answer an unchanged rebuild
from its memo (common/noop_memo.py) before click is imported.
"""

from __future__ import annotations

import importlib

import click

from lambdalayer import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name -> (module in this package, one-line help for `lambdalayer --help`).
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build_cmd", "Build a layer zip and manifest for Lambda targets."),
    "check": ("check_cmd", "Audit a layer (dir, zip or ARN): will it load on the target?"),
    "diff": ("diff_cmd", "What changed between two layers: packages, sizes, findings."),
    "test": ("layer_test_cmd", "Import a layer on a real interpreter, as Lambda would."),
    "publish": ("aws_cmd", "Publish built layers as new layer versions (skips unchanged)."),
    "attach": ("aws_cmd", "Attach a published layer to functions, keeping their others."),
    "versions": ("aws_cmd", "List a layer's versions and the functions that use them."),
    "prune": ("aws_cmd", "Delete old layer versions no function uses."),
    "lock": ("lock_cmd", "Write pinned, hashed lock files for configured layers."),
    "recipes": ("recipes_cmd", "List built-in and user recipes."),
    "report": ("report_cmd", "Write an HTML picture of a layer's size, findings and savings."),
    "runtimes": ("runtimes_cmd", "List the Lambda Python runtimes and their OS and glibc."),
    "cache": ("cache_cmd", "Show or clean lambdalayer's download and build caches."),
    "interpreters": ("interpreters_cmd",
                     "List or add the CPythons that prove each runtime x architecture."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def _available(self) -> dict[str, tuple[str, str]]:
        import importlib.util  # only for listing commands (--help): start-up time

        return {name: entry for name, entry in COMMANDS.items()
                if importlib.util.find_spec(f"lambdalayer.cli.{entry[0]}") is not None}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._available()) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = f"lambdalayer.cli.{COMMANDS[cmd_name][0]}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing from the table keeps `--help` from importing every command.
        rows = [(name, self._available()[name][1]) for name in self.list_commands(ctx)
                if name in self._available()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="lambdalayer")
def cli() -> None:
    """Build AWS Lambda layers for any Python runtime and architecture, from any host,
    without Docker; prove they load; publish them and attach them to functions.

    \b
      lambdalayer build pg8000                          # -> dist/pg8000.zip + dist/pg8000.json
      lambdalayer check dist/pg8000.zip --runtime python3.12 --arch x86_64
      lambdalayer publish                               # what was built in dist/
      lambdalayer attach --function makenaide-scanner   # what was published

    \b
    Exit codes: 0 ok, 2 usage/config error, 3 requirements cannot be resolved,
    4 audit failure, 5 AWS error, 6 import proof failed, 7 import proof could not run,
    8 the proof's sandbox was required and cannot be made here, 9 a known vulnerability
    at or above --fail-on, 10 the package index cannot be reached,
    128+N ended by signal N (143 SIGTERM, 130 Ctrl-C).
    """
