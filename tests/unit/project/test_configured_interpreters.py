"""The config's [interpreters] table as an explicit, hashable value carried to the finder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalayer.interpreters.find import explicit_choice
from lambdalayer.project.config import configured_interpreters, load_config
from lambdalayer.project.precedence import BuildFlags, plan_builds


def _project(directory: Path) -> Path:
    (directory / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.lambdalayer.interpreters]\n'
        '"python3.12-arm64" = "/roots/arm64/usr/bin/python3.12"\n')
    return directory


def test_the_config_names_an_interpreter_and_the_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path))
    monkeypatch.delenv("LAMBDALAYER_PYTHON_3_12_ARM64", raising=False)
    config = load_config()
    configured = configured_interpreters(config)
    assert hash(configured) == hash(configured_interpreters(config))
    path, origin, source = explicit_choice("3.12", "aarch64", configured) or ("", "", "")
    assert (path, source) == (Path("/roots/arm64/usr/bin/python3.12"), "config")
    assert origin == f'"python3.12-arm64" in {config.path}'
    assert explicit_choice("3.12", "aarch64") is None  # nothing configured: nothing named
    monkeypatch.setenv("LAMBDALAYER_PYTHON_3_12_ARM64", "/elsewhere/python3.12")
    assert explicit_choice("3.12", "aarch64", configured) == (
        Path("/elsewhere/python3.12"), "$LAMBDALAYER_PYTHON_3_12_ARM64", "env")


def test_build_requests_carry_the_configured_interpreters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path))
    config = load_config()
    [planned] = plan_builds(BuildFlags(name="six", packages=("six",)), config)
    assert planned.request.interpreters == configured_interpreters(config)
