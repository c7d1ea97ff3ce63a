"""`publish`, `attach`, `versions`, `prune` and `lock` show examples in their --help, and
every option an example uses is one the command has (docs/commands/*.md have more)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize("command", ["publish", "attach", "versions", "prune", "lock"])
def test_help_has_examples_that_use_real_options(command: str) -> None:
    run = run_cli(command, "--help", env={"COLUMNS": "120"}, timeout=60)
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert "Examples:" in text, text
    head, _, options = text.partition("\nOptions:")
    examples = [line.strip() for line in head.partition("Examples:")[2].splitlines()
                if line.strip()]
    assert any(line.startswith(f"lambdalayer {command}") for line in examples), examples
    known = set(re.findall(r"(--[a-z][a-z0-9-]*)", options))
    # Only this command's own parts: `lambdalayer lock && lambdalayer build --locked`.
    parts = [part.strip() for line in examples for part in line.split("#")[0].split("&&")]
    used = {flag for part in parts if part.startswith((f"lambdalayer {command}", "--"))
            for flag in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", part)}
    assert used <= known, f"{command} --help: examples use unknown options {used - known}"
