"""Every `lambdalayer ...` command the README and docs/ show parses with the real CLI.

The runnable blocks also run (tests/integration/test_docs_examples.py); the others (AWS
accounts, big layers, placeholders) are at least parsed, so a renamed command or option,
a dropped one, or a value click refuses fails here instead of rotting in the docs.
"""

from __future__ import annotations

import contextlib
import re
from unittest import mock

import click
import pytest

from lambdalayer.cli import cli
from tests.docs_examples import ROOT, RUNNABLE, SHOWN, Block, blocks, commands, pages

# An inline code span that is a whole command, in the prose of a page.
INLINE_COMMAND = re.compile(r"(?<!`)`(lambdalayer [^`]+)`(?!`)")
# Inline spans that show a shape rather than a command: placeholders and alternatives.
SHAPE = re.compile(r"[\[\]|…]|\.\.\.")


def parse(argv: list[str]) -> None:
    """Parse `lambdalayer ARGV` as the CLI would, down to the leaf command, without
    running anything: click's own errors (no such command or option, a missing value)
    propagate as click.UsageError."""
    # Group.invoke resolves and parses each subcommand; Command.invoke is what would
    # run a callback, so it does nothing here.
    with (mock.patch.object(click.Command, "invoke", lambda self, ctx: None),
          contextlib.suppress(click.exceptions.Exit)):  # --help, --version
        cli.main(args=argv, prog_name="lambdalayer", standalone_mode=False)


def _inline_commands() -> list[tuple[str, str]]:
    found = []
    for page in pages():
        text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
        for span in INLINE_COMMAND.findall(re.sub(r"\s*\n\s*", " ", text)):
            if not SHAPE.search(span):
                found.append((page.name, span))
    return found


SHOWN_BLOCKS = blocks(RUNNABLE, *SHOWN)


def test_the_pages_have_shell_examples_to_check() -> None:
    assert len(SHOWN_BLOCKS) >= 20
    assert any(block.language == RUNNABLE for block in SHOWN_BLOCKS)
    assert len(_inline_commands()) >= 20


@pytest.mark.parametrize("block", SHOWN_BLOCKS, ids=lambda block: block.id)
def test_every_command_in_a_shell_block_parses(block: Block) -> None:
    for argv in commands(block.source):
        try:
            parse(argv)
        except click.UsageError as err:
            pytest.fail(f"{block.id}: `lambdalayer {' '.join(argv)}`: {err.format_message()}")


@pytest.mark.parametrize("page,span", _inline_commands(), ids=lambda value: str(value))
def test_every_inline_command_parses(page: str, span: str) -> None:
    # Prose may name a command without its required arguments (`lambdalayer test`); what
    # it does name must exist.
    for argv in commands(span):
        try:
            parse(argv)
        except click.MissingParameter:
            pass
        except click.UsageError as err:
            pytest.fail(f"{page}: `{span}`: {err.format_message()}")


def test_a_renamed_option_or_command_fails_the_parse() -> None:
    parse(["build", "pg8000", "--runtime", "python3.12", "--arch", "x86_64"])
    parse(["recipes", "show", "pg8000"])
    for argv in (["build", "pg8000", "--runtimes", "python3.12"],
                 ["publsh", "dist/x.zip"],
                 ["recipes", "shw", "pg8000"],
                 ["prune", "x"],                      # --keep is required
                 ["check", "x.zip", "--runtime"]):    # an option without its value
        with pytest.raises(click.UsageError):
            parse(argv)


def test_commands_are_split_as_a_shell_would() -> None:
    text = ("$ lambdalayer build x -p 'a>=1' \\\n    --runtime python3.12  # why\n"
            "lambdalayer build --locked && lambdalayer publish | tee log\n"
            "lambdalayer diff a b --markdown >> \"$GITHUB_STEP_SUMMARY\"\n"
            "pip install . && lambdalayer recipes\n")
    assert list(commands(text)) == [
        ["build", "x", "-p", "a>=1", "--runtime", "python3.12"],
        ["build", "--locked"], ["publish"],
        ["diff", "a", "b", "--markdown"],
        ["recipes"],
    ]


# The page that is each command's full reference (docs/commands/).
REFERENCE = {"build": "build", "check": "check", "test": "test", "diff": "diff",
             "report": "report", "publish": "publish", "attach": "attach",
             "versions": "versions", "prune": "versions", "lock": "lock",
             "recipes": "recipes", "runtimes": "runtimes", "cache": "cache",
             "interpreters": "interpreters"}


def _options(command: click.Command, ctx: click.Context) -> set[str]:
    """Every long option of `command` and of its subcommands."""
    names = {opt for param in command.params if isinstance(param, click.Option)
             for opt in (*param.opts, *param.secondary_opts)
             if opt.startswith("--") and opt != "--help"}
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            names |= _options(sub, ctx)
    return names


def test_every_command_has_a_reference_page_naming_each_of_its_options() -> None:
    from lambdalayer.cli import COMMANDS

    assert set(REFERENCE) == set(COMMANDS), "a new command needs a page in docs/commands/"
    ctx = click.Context(cli)
    missing = []
    for name, page in REFERENCE.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        text = (ROOT / "docs" / "commands" / f"{page}.md").read_text("utf-8")
        missing += [f"docs/commands/{page}.md does not mention `{name} {opt}`"
                    for opt in sorted(_options(command, ctx))
                    if not re.search(re.escape(opt) + r"(?![\w-])", text)]
    assert not missing, "\n".join(missing)
