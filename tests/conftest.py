"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.aws_fixtures"]

# CI must run every test: a test that would skip for a missing interpreter or
# service fails there instead (see .ci/run, which sets CI=true).
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _private_lambdalayer_cache(tmp_path_factory: pytest.TempPathFactory,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own lambdalayer cache: never the user's ~/.cache/lambdalayer.

    Set in os.environ, so CLI subprocesses (tests.helpers.run_cli) inherit it;
    a test that wants a specific cache passes its own LAMBDALAYER_CACHE_DIR.
    """
    monkeypatch.setenv("LAMBDALAYER_CACHE_DIR", str(tmp_path_factory.mktemp("ll-cache")))


def require(condition: bool, reason: str) -> None:
    """Skip locally when `condition` is false; fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def find_python(version: str) -> str | None:
    """A working local CPython X.Y (verified by running it: pyenv shims may not be)."""
    from lambdalayer.interpreters.find import find_interpreter

    found = find_interpreter(version)
    return str(found.path) if found is not None else None
