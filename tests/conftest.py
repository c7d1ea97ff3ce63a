"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.aws_fixtures"]

# CI must run every test: a test that would skip for a missing interpreter or
# service fails there instead (see .ci/run, which sets CI=true).
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip locally when `condition` is false; fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def find_python(version: str) -> str | None:
    """A working local CPython X.Y (verified by running it: pyenv shims may not be)."""
    from lambdalayer.proof.interpreters import find_interpreter

    found = find_interpreter(version)
    return str(found.path) if found is not None else None
