"""Every command `lambdalayer --help` promises exists, in a fresh process, as a user runs it."""

from __future__ import annotations

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
