"""Every command our messages suggest parses with the real CLI.

A renamed option or command (or advice missing a required argument) fails here
instead of in front of a user. The commands are taken from the string literals and
data files of the package: whatever is quoted as `lambdalayer ...`.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import click
import pytest

from lambdalayer.cli import cli

PACKAGE = Path(__file__).resolve().parents[3] / "lambdalayer"
# `lambdalayer ...` in backticks, or "(lambdalayer build ...)" in a data file's advice.
_QUOTED = re.compile(r"`(lambdalayer [^`]+)`|\((lambdalayer [a-z]+ -[^)]+)\)")


def _strings(path: Path) -> list[str]:
    if path.suffix == ".toml":
        return [path.read_text("utf-8")]
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr):  # f-strings: placeholders become NAME
            found.append("".join(v.value if isinstance(v, ast.Constant)
                                 and isinstance(v.value, str) else "NAME"
                                 for v in node.values))
    return found


def suggested_commands() -> list[str]:
    commands = set()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in (".py", ".toml"):
            continue
        for text in _strings(path):
            for quoted, bracketed in _QUOTED.findall(" ".join(text.split())):
                command = quoted or bracketed
                if "..." not in command:  # an elided example, not a command to run
                    commands.add(command.strip())
    return sorted(commands)


def parse(command: str) -> click.Context | None:
    """Parse as click would, without running: a usage error raises. A bare command name
    (`lambdalayer check` in a sentence) only has to exist."""
    words = shlex.split(command)
    assert words[0] == "lambdalayer"
    command_obj: click.Command = cli
    args = words[1:]
    if args == ["--help"]:
        return None
    if len(args) <= 2 and all(re.fullmatch(r"[a-z]+", w) for w in args):
        ctx = click.Context(cli)
        sub = cli.get_command(ctx, args[0])
        assert sub is not None, f"no such command in {command!r}"
        if len(args) == 2:
            assert isinstance(sub, click.Group) and sub.get_command(ctx, args[1]) is not None
        return None
    ctx = cli.make_context("lambdalayer", list(args), resilient_parsing=False)
    while isinstance(command_obj, click.Group) and (_pending(ctx) or ctx.args):
        name, *rest = [*_pending(ctx), *ctx.args]
        sub = command_obj.get_command(ctx, name)
        assert sub is not None, f"no such command {name!r} in {command!r}"
        ctx = sub.make_context(name, rest, parent=ctx)
        command_obj = sub
    return ctx


def _pending(ctx: click.Context) -> list[str]:
    """The subcommand and its arguments a group left unparsed (click 8.2 keeps them in
    `_protected_args`; older releases in `protected_args`)."""
    if hasattr(ctx, "_protected_args"):
        return list(ctx._protected_args)
    return list(ctx.protected_args)


def test_there_are_suggestions_to_check() -> None:
    assert len(suggested_commands()) > 10


@pytest.mark.parametrize("command", suggested_commands())
def test_each_suggested_command_parses(command: str) -> None:
    ctx = parse(command)
    if ctx is not None and ctx.command.name == "build":
        # Parsed is not enough for build: -p/-r without the layer's name is refused when
        # it runs ("Name the layer you are building").
        params = ctx.params
        if params.get("packages") or params.get("requirement_files"):
            assert params.get("name"), f"{command!r} does not name the layer"
