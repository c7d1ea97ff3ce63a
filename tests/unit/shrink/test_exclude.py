"""`--exclude`: which packages go (closure on the target) and how they are removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lambdalayer.common.distinfo import InstalledDist, read_installed
from lambdalayer.common.errors import UsageError
from lambdalayer.shrink.exclude import expand_excludes, plan_exclusion, remove_dists
from lambdalayer.targets.target import Target

PY312 = Target.parse("python3.12", "x86_64")
PY310 = Target.parse("python3.10", "x86_64")

# name -> (Requires-Dist lines, top-level files)
AWS_AND_REQUESTS: dict[str, tuple[list[str], list[str]]] = {
    "boto3": (["botocore>=1.35", "jmespath<2", "s3transfer<0.11"], ["boto3/__init__.py"]),
    "botocore": (["jmespath<2", "python-dateutil<3", "urllib3>=1.25.4,!=2.2.0,<3"],
                 ["botocore/__init__.py", "botocore/data/endpoints.json"]),
    "s3transfer": (["botocore<2", "crt; extra == 'crt'"], ["s3transfer/__init__.py"]),
    "jmespath": ([], ["jmespath/__init__.py"]),
    "python-dateutil": (["six>=1.5"], ["dateutil/__init__.py"]),
    "six": ([], ["six.py"]),
    "urllib3": (["brotli; extra == 'brotli'"], ["urllib3/__init__.py"]),
    "requests": (["charset-normalizer<4", "idna<4", "urllib3<3", "certifi",
                  "PySocks; extra == 'socks'"], ["requests/__init__.py"]),
    "charset-normalizer": ([], ["charset_normalizer/__init__.py"]),
    "idna": ([], ["idna/__init__.py"]),
    "certifi": ([], ["certifi/__init__.py", "certifi/cacert.pem"]),
    "exceptiongroup": ([], ["exceptiongroup/__init__.py"]),
    "anyio": (["idna>=2.8", "exceptiongroup>=1.0.2; python_version < '3.11'"],
              ["anyio/__init__.py"]),
}


def install(site: Path, packages: dict[str, tuple[list[str], list[str]]]) -> list[InstalledDist]:
    for name, (requires, files) in packages.items():
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(meta) + "\n")
        (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")
        record = [*files, f"{info.name}/METADATA", f"{info.name}/WHEEL", f"{info.name}/RECORD"]
        (info / "RECORD").write_text("".join(f"{f},,\n" for f in record))
        for file in files:
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            (site / file).write_text(f"# {name}\n")
    return read_installed(site)


def reqs(*specs: str) -> list[Requirement]:
    return [Requirement(s) for s in specs]


def test_excluding_boto3_takes_its_exclusive_dependencies_but_keeps_what_requests_needs(
    tmp_path: Path,
) -> None:
    dists = install(tmp_path, AWS_AND_REQUESTS)
    plan = plan_exclusion(dists, expand_excludes(["boto3"]), reqs("boto3", "requests"), PY312)
    assert plan.explicit == ("boto3",)
    assert set(plan.removed) == {"boto3", "botocore", "s3transfer", "jmespath",
                                 "python-dateutil", "six"}
    assert plan.still_needed == ()


def test_a_package_the_user_asked_for_stays_even_if_only_excluded_ones_need_it(
    tmp_path: Path,
) -> None:
    dists = install(tmp_path, AWS_AND_REQUESTS)
    plan = plan_exclusion(dists, frozenset({"boto3"}),
                          reqs("boto3", "requests", "jmespath"), PY312)
    assert "jmespath" not in plan.removed
    assert "botocore" in plan.removed


def test_runtime_shortcut_removes_the_sdk_even_what_requests_uses(tmp_path: Path) -> None:
    dists = install(tmp_path, AWS_AND_REQUESTS)
    excludes = expand_excludes([":runtime:"])
    assert excludes == {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                        "six", "urllib3"}
    plan = plan_exclusion(dists, excludes, reqs("boto3", "requests"), PY312)
    assert "urllib3" in plan.removed  # the runtime has it
    assert ("urllib3", "requests") in plan.still_needed
    assert {"requests", "idna", "certifi", "charset-normalizer"}.isdisjoint(plan.removed)


def test_markers_are_evaluated_for_the_target(tmp_path: Path) -> None:
    dists = install(tmp_path, {k: AWS_AND_REQUESTS[k] for k in ("anyio", "idna",
                                                                "exceptiongroup")})
    # On python3.12 nothing needs exceptiongroup: an unused package is not ours to remove.
    assert plan_exclusion(dists, frozenset({"anyio"}), reqs("anyio"), PY312).removed == (
        "anyio", "idna")
    # On python3.10 anyio needs it, so excluding anyio takes it as well.
    assert plan_exclusion(dists, frozenset({"anyio"}), reqs("anyio"), PY310).removed == (
        "anyio", "exceptiongroup", "idna")


def test_names_not_installed_are_reported_and_bad_names_refused(tmp_path: Path) -> None:
    dists = install(tmp_path, {"six": AWS_AND_REQUESTS["six"]})
    plan = plan_exclusion(dists, expand_excludes(["Flask", "six"]), reqs("six"), PY312)
    assert plan.absent == ("flask",)
    assert plan.removed == ("six",)
    with pytest.raises(UsageError, match=":runtime:"):
        expand_excludes(["boto3>=1.0"])


def test_remove_dists_deletes_files_metadata_and_emptied_dirs_only(tmp_path: Path) -> None:
    dists = install(tmp_path, {k: AWS_AND_REQUESTS[k] for k in ("botocore", "certifi")})
    freed = remove_dists(tmp_path, dists, ["botocore"])
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert not any(p.startswith("botocore") for p in left)
    assert "certifi/cacert.pem" in left
    assert freed > 0


def test_a_record_path_out_of_the_site_dir_is_never_deleted(tmp_path: Path) -> None:
    """RECORD is the package's word: `../` entries (console scripts, hostile wheels) must not
    make --exclude delete files outside the layer."""
    site = tmp_path / "layer" / "python"
    install(site, {"six": ([], ["six.py", "../../outside.txt", "../sibling.txt"])})
    (tmp_path / "outside.txt").write_text("keep")
    (tmp_path / "layer" / "sibling.txt").write_text("keep")
    remove_dists(site, read_installed(site), ["six"])
    assert not (site / "six.py").exists()
    assert (tmp_path / "outside.txt").read_text() == "keep"
    assert (tmp_path / "layer" / "sibling.txt").read_text() == "keep"
