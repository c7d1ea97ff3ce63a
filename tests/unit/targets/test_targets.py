"""The runtime table and what a target accepts."""

from __future__ import annotations

import datetime as dt

import pytest
from packaging.markers import Marker

from lambdalayer.common.errors import UsageError
from lambdalayer.targets.runtimes import load_runtime_table, parse_runtime_table
from lambdalayer.targets.target import Target, expand_targets


def test_table_covers_python_39_to_315_on_both_architectures() -> None:
    table = load_runtime_table()
    assert list(table.runtimes) == [f"python3.{n}" for n in range(9, 16)]
    assert table.runtime("python3.15").os.glibc == (2, 34)
    assert table.runtime("python3.11").os.glibc == (2, 26)
    assert table.runtime("python3.12").os.glibc == (2, 34)
    assert set(table.architectures) == {"x86_64", "arm64"}


def test_python39_is_deprecated_and_not_a_default_target() -> None:
    table = load_runtime_table()
    assert table.runtime("python3.9").is_deprecated(dt.date(2026, 11, 27))
    assert "python3.9" not in [r.name for r in table.current(dt.date(2026, 11, 27))]


def test_unknown_runtime_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"python3\.9, python3\.10.*python3\.14"):
        load_runtime_table().runtime("python2.7")


def test_architecture_aliases() -> None:
    table = load_runtime_table()
    assert table.architecture("aarch64") == "arm64"
    assert table.architecture("AMD64") == "x86_64"
    with pytest.raises(UsageError, match="x86_64, arm64"):
        table.architecture("ppc64le")


@pytest.mark.parametrize(
    ("runtime", "arch", "tag", "fits"),
    [
        ("python3.11", "x86_64", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("python3.11", "x86_64", "cp311-cp311-manylinux_2_26_x86_64", True),
        ("python3.11", "x86_64", "cp311-cp311-manylinux_2_28_x86_64", False),  # glibc 2.26
        ("python3.12", "x86_64", "cp312-cp312-manylinux_2_28_x86_64", True),
        ("python3.12", "x86_64", "cp312-cp312-manylinux_2_35_x86_64", False),  # glibc 2.34
        ("python3.11", "x86_64", "cp311-cp311-manylinux1_x86_64", True),
        ("python3.11", "arm64", "cp311-cp311-manylinux2014_aarch64", True),
        ("python3.11", "arm64", "cp311-cp311-manylinux2014_x86_64", False),
        ("python3.11", "x86_64", "cp312-cp312-manylinux2014_x86_64", False),
        ("python3.12", "x86_64", "cp38-abi3-manylinux2014_x86_64", True),
        ("python3.11", "x86_64", "cp312-abi3-manylinux2014_x86_64", False),  # abi3 floor too new
        ("python3.11", "x86_64", "cp311-cp311-linux_x86_64", False),  # unaudited local build
        ("python3.11", "x86_64", "cp311-cp311-musllinux_1_2_x86_64", False),
        ("python3.11", "x86_64", "cp311-cp311-macosx_11_0_arm64", False),
        ("python3.13", "arm64", "py3-none-any", True),
        ("python3.13", "arm64", "py2.py3-none-any", True),
    ],
)
def test_wheel_tags_that_fit(runtime: str, arch: str, tag: str, fits: bool) -> None:
    assert Target.parse(runtime, arch).accepts_wheel_tag(tag) is fits


def test_uv_platform_never_claims_a_newer_glibc() -> None:
    assert Target.parse("python3.10", "x86_64").uv_platform == "x86_64-manylinux_2_17"
    assert Target.parse("python3.13", "arm64").uv_platform == "aarch64-manylinux_2_34"


def test_markers_are_the_targets() -> None:
    marker = Marker("python_version < '3.11' and platform_machine == 'aarch64'")
    assert Target.parse("python3.10", "arm64").evaluate(marker)
    assert not Target.parse("python3.10", "x86_64").evaluate(marker)
    assert not Target.parse("python3.11", "arm64").evaluate(marker)


def test_expand_targets_orders_and_dedupes() -> None:
    targets = expand_targets(["python3.12", "python3.10", "python3.12"], ["arm64", "x86_64"])
    assert [str(t) for t in targets] == [
        "python3.10/x86_64", "python3.10/arm64", "python3.12/x86_64", "python3.12/arm64",
    ]


@pytest.mark.parametrize(
    ("original", "broken", "field"),
    [
        ('glibc = "2.26"', 'glibc = "two"', "glibc"),
        ('uv_manylinux = "2_17"', 'uv_manylinux = "2_28"', "uv_manylinux"),
        ('os = "al2"', 'os = "al3"', "os"),
    ],
)
def test_table_validator_names_the_bad_field(original: str, broken: str, field: str) -> None:
    text = """
[os.al2]
name = "Amazon Linux 2"
glibc = "2.26"
uv_manylinux = "2_17"
libstdcxx = "3.4.24"
cxxabi = "1.3.11"
[runtimes."python3.11"]
os = "al2"
[architectures]
x86_64 = "x86_64"
arm64 = "aarch64"
"""
    assert original in text
    with pytest.raises(ValueError, match=field):
        parse_runtime_table(text.replace(original, broken, 1))
