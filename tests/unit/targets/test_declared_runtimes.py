"""Declared runtimes: validated with the table's checks, added to the table, and reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.common.errors import ConfigError
from lambdalayer.project.config import load_config
from lambdalayer.targets.runtimes import (
    Runtime,
    builtin_runtime_table,
    declare_runtime,
    load_runtime_table,
    use_declared_runtimes,
)
from lambdalayer.targets.target import Target


@pytest.fixture(autouse=True)
def builtin_table_after() -> Iterator[None]:
    yield
    use_declared_runtimes({})


def declare(name: str, **raw: object) -> Runtime:
    return declare_runtime(name, raw, where=f"new_runtimes.{name}", declared_in="test")


def test_a_declaration_becomes_a_runtime_with_its_os_facts() -> None:
    runtime = declare("python3.16", os="Amazon Linux 2023", python="3.16", glibc="2.34",
                      architectures=["arm64", "x86_64"])
    assert runtime == declare("python3.16", os="al2023")
    table = use_declared_runtimes({"python3.16": runtime})
    target = Target.parse("python3.16", "arm64")
    assert target.runtime.os.glibc == (2, 34)
    assert target.uv_platform == "aarch64-manylinux_2_34"
    assert target.accepts_wheel_tag("cp316-cp316-manylinux_2_34_aarch64")
    assert list(table.runtimes)[-1] == "python3.16"
    assert "python3.16" not in [r.name for r in table.current()]  # never a default target


def test_an_identical_declaration_of_a_built_in_runtime_is_the_built_in() -> None:
    builtin = builtin_runtime_table().runtime("python3.12")
    assert declare("python3.12", os="al2023", glibc="2.34", python="3.12") is builtin


@pytest.mark.parametrize(("raw", "message"), [
    ({"os": "al2"}, "already knows python3.12"),
    ({"os": "al2023", "architectures": ["x86_64"]}, "already knows python3.12"),
])
def test_a_contradicting_declaration_of_a_built_in_runtime_is_refused(
        raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        declare("python3.12", **raw)


def test_load_config_adds_the_declared_runtimes_and_a_later_load_removes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "lambdalayer.toml").write_text(
        'runtimes = ["python3.16"]\n[new_runtimes."python3.16"]\nos = "al2023"\n'
        '[layers.x]\npackages = ["six"]\nruntimes = ["python3.16"]\n'
        '[interpreters]\n"python3.16-x86_64" = "/opt/py316/bin/python3.16"\n')
    for name in ("LAMBDALAYER_CONFIG", "LAMBDALAYER_RUNTIMES"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert config.runtimes == ("python3.16",)
    assert config.layers["x"].runtimes == ("python3.16",)
    assert "python3.16-x86_64" in config.interpreters
    assert load_runtime_table().runtime("python3.16").declared_in.endswith("lambdalayer.toml")
    (tmp_path / "lambdalayer.toml").write_text('runtimes = ["python3.16"]\n')
    with pytest.raises(ConfigError, match=r"Unknown runtime 'python3\.16'"):
        load_config(tmp_path)
    assert "python3.16" not in load_runtime_table().runtimes
