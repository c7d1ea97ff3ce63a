"""Every command `lambdalayer --help` promises exists, in a fresh process, as a user runs it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lambdalayer.cli import COMMANDS
from tests.helpers import run_cli


def test_help_lists_every_command() -> None:
    run = run_cli("--help")
    assert run.returncode == 0, run.stderr
    # Command rows start at column 2; wrapped descriptions are indented further.
    listed = {line.split()[0] for line in run.stdout.split("Commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")}
    assert listed == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_answers_help(command: str) -> None:
    run = run_cli(command, "--help")
    assert run.returncode == 0, (command, run.stderr)
    assert "Usage: lambdalayer" in run.stdout and "Traceback" not in run.stderr


def test_build_has_no_hidden_or_renamed_options() -> None:
    """A first release carries no old names: no hidden option, no "Old name" in the help."""
    from lambdalayer.cli.build_cmd import build_command

    assert [p.name for p in build_command.params if getattr(p, "hidden", False)] == []
    run = run_cli("build", "--help")
    assert "Old name" not in run.stdout and "old name" not in run.stdout


def _declared_options(path: Path) -> list[str]:
    """The option names a module declares with click.option("--name", ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "option" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.append(str(node.args[0].value))
    return found


def test_runtime_and_arch_are_declared_once() -> None:
    # cli/options.target_options is the one declaration, so every command names its
    # targets with the same words, metavars and repeatability.
    cli_folder = Path(__file__).resolve().parents[3] / "lambdalayer" / "cli"
    elsewhere = {path.name: names for path in sorted(cli_folder.glob("*.py"))
                 if path.name != "options.py"
                 and (names := {"--runtime", "--arch"} & set(_declared_options(path)))}
    assert elsewhere == {}, "declare them with cli/options.target_options"
    assert {"--runtime", "--arch"} <= set(_declared_options(cli_folder / "options.py"))


@pytest.mark.parametrize("command", ["build", "check", "diff", "report", "test",
                                     "interpreters", "interpreters add"])
def test_every_command_with_targets_describes_them_alike(command: str) -> None:
    run = run_cli(*command.split(), "--help")
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert re.search(r"--runtime RUNTIME [A-Z][^.]*, e\.g\. python3\.12\.", text), text
    assert "--arch ARCH x86_64 or arm64" in text
    if command != "interpreters add":
        assert text.count("Repeatable. Default:") >= 2, text
