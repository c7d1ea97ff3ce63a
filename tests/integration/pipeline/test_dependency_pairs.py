"""Every distribution of the layer is imported, not only the requested ones: a dependency
that fails against a newer release of another dependency refuses the build, naming both,
and the older release that works is found and advised; `--fix-pairs` applies it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import assert_clean_failure, run_cli
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
    assert "--fix-pairs applies it" in " ".join(text.split())
    assert not (tmp_path / "dist" / "app.zip").exists()


def test_fix_pairs_applies_the_working_pin_and_builds(tmp_path: Path) -> None:
    _chain(tmp_path / "index")
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "app", "-p", "ll-app", "--fix-pairs")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    [artifact] = doc["artifacts"]
    versions = {p["name"]: p["version"] for p in artifact["packages"]}
    assert versions["ll-ion"] == "0.12.0"
    assert artifact["import_test"]["status"] == "passed"
    # One warning line names the pin and why: both distributions and their versions.
    [line] = [w for w in doc["warnings"] if "--fix-pairs" in w]
    assert "\n" not in line
    assert line.startswith("applied ll-ion<0.13 (--fix-pairs): ll-hash 1.2.1 needs `_Nature` "
                           "from ll-ion, which ll-ion 0.15.0 does not have"), line
    assert "the layer holds ll-ion 0.12.0" in line
    assert "warning: applied ll-ion<0.13 (--fix-pairs)" in run.stderr
    # Not called the user's requirement: the user did not write it.
    assert not any("your requirement `ll-ion<0.13`" in w for w in doc["warnings"])
    # Recorded where a rebuild reads its inputs, and in --json.
    manifest = json.loads(Path(artifact["manifest"]).read_text())
    assert manifest["inputs"]["fix_pairs"] is True
    [pin] = manifest["inputs"]["applied_pins"]
    assert pin == {"spec": "ll-ion<0.13", "version": "0.12.0", "dist": "ll-hash",
                   "dist_version": "1.2.1", "provider": "ll-ion", "provider_version": "0.15.0",
                   "name": "_Nature"}
    assert artifact["applied_pins"] == [pin]
    assert manifest["inputs"]["requirements"] == ["ll-app"]  # the user's own, as given
    # The layer holds the pinned release, and the import that failed works from it.
    layer = tmp_path / "unzipped"
    with zipfile.ZipFile(artifact["path"]) as archive:
        archive.extractall(layer)
    site = layer / "python"
    assert (site / "ll_ion-0.12.0.dist-info").is_dir(), sorted(p.name for p in site.iterdir())
    imported = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import ll_hash; print(ll_hash._Nature.__module__)", str(site)],
        capture_output=True, text=True, check=False)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "ll_ion.simple_types"


@pytest.mark.parametrize("oldest_has_both", [False, True], ids=["no-pin", "another-pin"])
def test_a_pin_that_breaks_another_pair_is_refused_after_one_round(
        tmp_path: Path, oldest_has_both: bool) -> None:
    # ll-new needs `Other`, which ll-ion 0.12 lacks: the pin that fixes ll-hash breaks it.
    # When ll-ion 0.11 has both names, another pin would work; one round is all the flag
    # does, so it is advised, not applied.
    index = tmp_path / "index"
    _chain(index)
    if oldest_has_both:
        make_wheel(index, "ll-ion", "0.11.0", files={  # replaces _chain's 0.11.0
            "ll_ion/__init__.py": b"",
            "ll_ion/simple_types.py": b"class _Nature: pass\nclass Other: pass\n"})
    make_wheel(index, "ll-app", "1.1", requires=("ll-hash", "ll-ion", "ll-new"),
               files={"ll_app/__init__.py": b"VALUE = 1\n"})
    make_wheel(index, "ll-new", "1.0", requires=("ll-ion",),
               files={"ll_new/__init__.py": b"from ll_ion.simple_types import Other\n"})
    with serve_index(index) as served:
        run = build(served, tmp_path, "app", "-p", "ll-app", "--fix-pairs")
    assert_clean_failure(run, 6)
    text = " ".join(run.stderr.split())
    assert "ll-new 1.0 needs `Other` from ll-ion" in text and "ll-ion 0.12.0" in text
    assert "(This was the build again with ll-ion<0.13 applied by --fix-pairs.)" in text
    if oldest_has_both:
        assert "ll-new imports with ll-ion 0.11.0: add -p 'll-ion<0.12' (or pin ll-ion in " \
               "your requirements)." in text, text
    else:
        assert "No older release of ll-ion tried" in text
    assert "--fix-pairs applies it" not in text  # it is on already
    assert not (tmp_path / "dist" / "app.zip").exists()


def test_fix_pairs_from_the_config_and_a_rebuild_is_the_same(tmp_path: Path) -> None:
    _chain(tmp_path / "index")
    project = tmp_path / "project"
    project.mkdir()
    (project / "lambdalayer.toml").write_text(
        '[layers.app]\npackages = ["ll-app"]\nruntimes = ["python3.12"]\n'
        'architectures = ["x86_64"]\nfix_pairs = true\n')
    env = {"UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    with serve_index(tmp_path / "index") as index:
        first = run_cli("build", "app", "--json", cwd=project,
                        env={**env, "UV_DEFAULT_INDEX": index})
        second = run_cli("build", "app", "--json", cwd=project,
                         env={**env, "UV_DEFAULT_INDEX": index})
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    [one], [two] = first.json()["artifacts"], second.json()["artifacts"]
    assert one["applied_pins"] == two["applied_pins"] != []
    assert one["sha256"] == two["sha256"]
    assert two["up_to_date"] is True  # the same bytes again


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


@pytest.mark.parametrize("fix_pairs", [(), ("--fix-pairs",)], ids=["advise", "fix-pairs"])
def test_no_older_provider_fits_so_the_requested_packages_newest_release_is_tried(
        tmp_path: Path, fix_pairs: tuple[str, ...]) -> None:
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
        run = build(served, tmp_path, "app", "-p", "ll-app", *fix_pairs)
    # No pin works: --fix-pairs changes nothing, the refusal is the same.
    assert_clean_failure(run, 6)
    text = " ".join(run.stderr.split())
    assert "ll-hash 1.2.1 needs `_Nature` from ll-ion" in text
    assert "No older release of ll-ion tried" in text
    assert "applied" not in text
    # The newest ll-app was tried too, and why it cannot be used is said.
    assert "Nor can ll-app 2.0, its newest release (the layer has 1.0), be installed for " \
           "python3.12/x86_64: " in text, text
    assert "ll-app>=2.0 depends on ll-ion<0.12" in text, text


def _liar(index: Path, name: str) -> None:
    """ll-liar imports fine with ll-ion <0.13 and, from 0.13 on (where ll-ion has
    `Other`), raises an ImportError whose text blames ll-ion for lacking `name`."""
    code = (b"import ll_ion.simple_types as t\nif hasattr(t, 'Other'):\n"
            b"    raise ImportError(\"cannot import name '" + name.encode()
            + b"' from 'll_ion.simple_types'\")\n")
    make_wheel(index, "ll-liar", "1.0", requires=("ll-ion",), files={"ll_liar/__init__.py": code})


@pytest.mark.parametrize("name", ["Other", "Missing"])
def test_fix_pairs_never_pins_on_the_word_of_an_error_message(tmp_path: Path,
                                                              name: str) -> None:
    """`Other`: ll-ion 0.15 has it, so the text is false and no pair is blamed. `Missing`:
    no ll-ion release has it, so the older ll-ion that makes ll-liar import does not fix
    what the conflict names, and is not pinned (an error, exit 6, either way)."""
    _chain(tmp_path / "index")
    _liar(tmp_path / "index", name)
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "liar", "-p", "ll-liar", "--fix-pairs")
    assert_clean_failure(run, 6)
    text = " ".join(run.stderr.split())
    assert "applied ll-ion" not in text and "-p 'll-ion<0.13'" not in text, text
    assert f"cannot import name '{name}'" in text
    assert ("needs `Other` from ll-ion" not in text) if name == "Other" else (
        "No older release of ll-ion tried" in text), text
    assert not (tmp_path / "dist" / "liar.zip").exists()


def test_a_fix_pairs_pin_is_named_as_the_cause_not_another_requirement(
        tmp_path: Path) -> None:
    """ll-ion requested too: the pin, not "another requirement", keeps it at 0.12.0."""
    _chain(tmp_path / "index")
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "app", "-p", "ll-app", "-p", "ll-ion", "--fix-pairs")
    assert run.returncode == 0, run.stderr
    warnings = run.json()["warnings"]
    assert not any("another requirement" in w for w in warnings), warnings
    [line] = [w for w in warnings if "ll-ion" in w]
    assert line.startswith("applied ll-ion<0.13 (--fix-pairs)")
    assert "the layer holds ll-ion 0.12.0 because of this pin" in line, line
