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
