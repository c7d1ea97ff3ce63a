"""The built-in recipes' pins stay current: a pin more than one minor release behind the
newest release on the index fails here (recipes/pg8000.toml says why the pins are what they
are). Pins that apply only to deprecated runtimes (a `python_version < ...` marker false for
the newest runtime) are frozen on purpose and not compared. Skipped when the index cannot be
reached (fails in CI, like every skip: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from lambdalayer.project.recipes import get_recipe
from lambdalayer.resolve.index_query import newest_offer
from lambdalayer.targets.runtimes import load_runtime_table
from tests.conftest import require

pytestmark = pytest.mark.network
RECIPES = sorted(p.stem for p in (Path(__file__).resolve().parents[3] / "recipes").glob("*.toml"))


def behind(pin: Version, newest: Version) -> bool:
    """More than one minor release behind: 1.30 vs 1.31 is fine, 1.29 vs 1.31 or 1.x vs 2.0
    is not (calendar versions: 2026.6 vs 2026.8 is behind too)."""
    if newest.major != pin.major:
        return newest.major > pin.major
    return newest.minor - pin.minor > 1


def test_behind_counts_minor_releases() -> None:
    assert not behind(Version("1.30.5"), Version("1.31.6"))
    assert behind(Version("1.29.0"), Version("1.31.0"))
    assert behind(Version("2.9.0"), Version("3.0.0"))
    assert not behind(Version("3.3.9"), Version("3.3.9"))


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_pins_are_at_most_one_minor_release_behind_the_index(name: str) -> None:
    newest_runtime = list(load_runtime_table().runtimes.values())[-1]
    environment = {"python_version": newest_runtime.python_version,
                   "python_full_version": f"{newest_runtime.python_version}.0",
                   "sys_platform": "linux", "platform_system": "Linux",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    stale = []
    for line in get_recipe(name).requirements:
        requirement = Requirement(line)
        pins = [s.version for s in requirement.specifier if s.operator == "=="]
        if not pins or (requirement.marker and not requirement.marker.evaluate(environment)):
            continue
        offer = newest_offer(requirement.name)
        require(offer is not None, f"the package index cannot be reached for {requirement.name}")
        assert offer is not None
        if behind(Version(pins[0]), Version(offer.version)):
            stale.append(f"{requirement.name}=={pins[0]} (the index has {offer.version})")
    assert not stale, f"recipes/{name}.toml: pins behind the index: {', '.join(stale)}"
