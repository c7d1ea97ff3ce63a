"""The last line of defence after uv: a wheel built here from an sdist must fit the target
(else refused); an index wheel whose WHEEL tags disagree is noted for the ELF audit."""

from __future__ import annotations

import pytest

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import ResolutionError
from lambdalayer.resolve.resolver import _check_fit
from lambdalayer.targets.target import Target

PY312 = Target.parse("python3.12", "x86_64")


def _dist(tags: tuple[str, ...], pure: bool = False) -> InstalledDist:
    return InstalledDist(name="native", display_name="native", version="1.0", tags=tags,
                         root_is_purelib=pure, requires=(), extras=(), requires_python=None,
                         files=(), dist_info="native-1.0.dist-info")


@pytest.mark.parametrize("tag", ["cp312-cp312-macosx_11_0_arm64",
                                 "cp312-cp312-manylinux_2_17_aarch64",
                                 "cp312-cp312-linux_x86_64", "cp311-cp311-manylinux_2_17_x86_64"])
def test_a_wheel_for_another_target_is_refused_or_noted(tag: str) -> None:
    with pytest.raises(ResolutionError, match=r"would not load on python3\.12/x86_64"):
        _check_fit((_dist((tag,)),), PY312, {"native"})
    [note] = _check_fit((_dist((tag,)),), PY312, set())
    assert tag in note and "ELF audit" in note


def test_a_fitting_wheel_passes_silently() -> None:
    fitting = _dist(("cp312-cp312-manylinux_2_17_x86_64",))
    assert _check_fit((fitting,), PY312, {"native"}) == ()
