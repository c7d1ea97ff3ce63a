"""Every distribution of the layer is imported, not only the requested ones: a dependency
that fails against a newer release of another dependency refuses the build, naming both,
and the older release that works is found and advised."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure
from tests.integration.pipeline.test_resolution_policy import build
from tests.package_index import make_sdist, make_wheel, serve_index

pytestmark = pytest.mark.network


def _chain(index: Path) -> None:
    """ll-app (requested, imports) -> ll-hash -> ll-ion; ll-ion dropped `_Nature` in 0.13."""
    make_wheel(index, "ll-app", "1.0", requires=("ll-hash", "ll-ion"),
               files={"ll_app/__init__.py": b"VALUE = 1\n"})
    make_wheel(index, "ll-hash", "1.2.1", requires=("ll-ion",),
               files={"ll_hash/__init__.py": b"from ll_ion.simple_types import _Nature\n"})
    for version in ("0.11.0", "0.12.0"):
        make_wheel(index, "ll-ion", version, files={
            "ll_ion/__init__.py": b"", "ll_ion/simple_types.py": b"class _Nature: pass\n"})
    for version in ("0.13.0", "0.14.0", "0.15.0"):
        make_wheel(index, "ll-ion", version, files={
            "ll_ion/__init__.py": b"", "ll_ion/simple_types.py": b"class Other: pass\n"})


def test_dependency_failing_against_another_is_refused_with_the_working_pin(
        tmp_path: Path) -> None:
    _chain(tmp_path / "index")
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "app", "-p", "ll-app")
    assert_clean_failure(run, 6)
    text = run.stderr
    assert "ll-hash 1.2.1 needs `_Nature` from ll-ion" in text
    assert "ll-ion 0.15.0 in the layer" in text
    assert "-p 'll-ion<0.13'" in text
    assert "ll-ion 0.12.0" in text
    assert not (tmp_path / "dist" / "app.zip").exists()


def test_the_advised_pin_builds(tmp_path: Path) -> None:
    _chain(tmp_path / "index")
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "app", "-p", "ll-app", "-p", "ll-ion<0.13")
    assert run.returncode == 0, run.stderr
    versions = {p["name"]: p["version"] for p in run.json()["artifacts"][0]["packages"]}
    assert versions["ll-ion"] == "0.12.0"


def test_optional_part_of_a_dependency_stays_a_warning(tmp_path: Path) -> None:
    index = tmp_path / "index"
    make_wheel(index, "ll-app", "1.0", requires=("ll-extra",),
               files={"ll_app/__init__.py": b"VALUE = 1\n"})
    make_wheel(index, "ll-extra", "1.0", files={
        "ll_extra/__init__.py": b"import ll_not_installed_extra\n"})
    with serve_index(index) as served:
        run = build(served, tmp_path, "app", "-p", "ll-app")
    assert run.returncode == 0, run.stderr
    warnings = run.json()["warnings"]
    assert any("import ll_extra (ll-extra 1.0, a dependency in the layer)" in w
               for w in warnings), warnings


def test_no_older_provider_fits_so_the_requested_packages_newest_release_is_tried(
        tmp_path: Path) -> None:
    # pyqldb's shape: the newest ll-app (an sdist) pins ll-ion below the releases that
    # broke ll-hash, but those older ll-ion releases have no wheel for the target.
    index = tmp_path / "index"
    make_wheel(index, "ll-app", "1.0", requires=("ll-hash", "ll-ion"),
               files={"ll_app/__init__.py": b"VALUE = 1\n"})
    make_sdist(index, "ll-app", "2.0", module="ll_app", requires=("ll-hash", "ll-ion<0.12"))
    make_wheel(index, "ll-hash", "1.2.1", requires=("ll-ion",),
               files={"ll_hash/__init__.py": b"from ll_ion.simple_types import _Nature\n"})
    make_wheel(index, "ll-ion", "0.11.0", file_tag="cp39-cp39-manylinux_2_17_x86_64", files={
        "ll_ion/__init__.py": b"", "ll_ion/simple_types.py": b"class _Nature: pass\n"})
    for version in ("0.13.0", "0.14.0"):
        make_wheel(index, "ll-ion", version, files={
            "ll_ion/__init__.py": b"", "ll_ion/simple_types.py": b"class Other: pass\n"})
    with serve_index(index) as served:
        run = build(served, tmp_path, "app", "-p", "ll-app")
    assert_clean_failure(run, 6)
    text = " ".join(run.stderr.split())
    assert "ll-hash 1.2.1 needs `_Nature` from ll-ion" in text
    assert "No older release of ll-ion tried" in text
    # The newest ll-app was tried too, and why it cannot be used is said.
    assert "Nor can ll-app 2.0, its newest release (the layer has 1.0), be installed for " \
           "python3.12/x86_64: " in text, text
    assert "ll-app>=2.0 depends on ll-ion<0.12" in text, text
