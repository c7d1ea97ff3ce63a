"""Popular Lambda packages, one layer each for python3.12/x86_64, and the native
part of the list for arm64 on python3.11 and python3.13 (proven under qemu-user).

Each is built and imports on each target's CPython with only the layer (`lambdalayer
test`), or is refused with the right advice. Builds run two at a time, sharing one
private uv cache.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli
from tests.interpreter_roots import ROOTS, require_arm64_roots
from tests.realworld.packages import ARM64_CASES, ARM64_RUNTIMES, CASES, Case

pytestmark = pytest.mark.network


def outcome(case: Case, work: Path, env: dict[str, str],
            runtimes: tuple[str, ...] = ("python3.12",), arch: str = "x86_64") -> str:
    """"ok" or what went wrong, for one case on every runtime of `runtimes` for `arch`."""
    out = work / f"{case.name}-{arch}"
    target = [a for r in runtimes for a in ("--runtime", r)] + ["--arch", arch]
    build = run_cli("build", case.name, "-p", case.spec, *target, "--out", str(out), "--json",
                    env=env)
    if case.refuse is not None:
        code, advice = case.refuse
        if build.returncode != code:
            return f"expected exit {code}, got {build.returncode}: {build.stderr[-400:]}"
        if advice not in build.stderr:
            return f"refused without advising {advice}: {build.stderr[-600:]}"
        if len(build.stderr.splitlines()) > 20:
            return f"refusal longer than a screen: {len(build.stderr.splitlines())} lines"
        return "ok"
    if build.returncode != 0:
        return f"build failed ({build.returncode}): {build.stderr[-600:]}"
    args = ["test", str(out / f"{case.name}.zip"), *target, "--json"]
    for module in case.imports:
        args += ["--import", module]
    test = run_cli(*args, env=env)
    if test.returncode != 0:
        return f"import failed ({test.returncode}): {test.stdout[-600:]} {test.stderr[-300:]}"
    # Every target imported here, not skipped (a missing interpreter is no proof).
    tried = {t["target"]: t["status"] for t in test.json()["targets"]}
    if tried != {f"{r}/{arch}": "passed" for r in runtimes}:
        return f"not imported on every target: {tried}"
    return "ok"


def run_cases(cases: tuple[Case, ...], work: Path, env: dict[str, str],
              runtimes: tuple[str, ...] = ("python3.12",), arch: str = "x86_64") -> None:
    """Build the cases two at a time; fail listing every case that went wrong."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(cases, pool.map(lambda c: outcome(c, work, env, runtimes, arch),
                                           cases), strict=True))
    failures = {c.spec: r for c, r in results.items() if r != "ok"}
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


def _env(tmp_path: Path) -> dict[str, str]:
    return {"UV_CACHE_DIR": os.environ.get("LAMBDALAYER_TEST_UV_CACHE",
                                           str(tmp_path / "uvcache")),
            "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}


def test_real_packages_build_and_import_or_are_refused_with_advice(tmp_path: Path) -> None:
    require(find_interpreter("3.12") is not None, "no CPython 3.12 to import the layers with")
    assert len(CASES) >= 40
    run_cases(CASES, tmp_path, _env(tmp_path))


def test_arm64_native_packages_build_and_import_under_qemu(tmp_path: Path) -> None:
    require_arm64_roots()
    assert len(ARM64_CASES) >= 6
    run_cases(ARM64_CASES, tmp_path, {**_env(tmp_path), "LAMBDALAYER_INTERPRETERS": ROOTS},
              ARM64_RUNTIMES, "arm64")


def test_pyqldb_driver_imports_or_the_refusal_names_the_pair_and_the_newest_release(
        tmp_path: Path) -> None:
    # ionhash 1.2.1 imports `_IonNature`, which amazon-ion 0.14+ (the releases with cp312
    # wheels) dropped; pyqldb 3.2.4 pins amazon.ion<=0.9.3, whose wheels stop at cp310.
    require(find_interpreter("3.12") is not None, "no CPython 3.12 to import the layer with")
    env, out = _env(tmp_path), tmp_path / "q"
    build = run_cli("build", "q", "-p", "pyqldb", "--runtime", "python3.12", "--arch",
                    "x86_64", "--out", str(out), env=env)
    if build.returncode == 0:
        test = run_cli("test", str(out / "q.zip"), "--runtime", "python3.12", "--import",
                       "pyqldb.driver.qldb_driver", env=env)
        assert test.returncode == 0, test.stdout + test.stderr
        return
    assert build.returncode == 6, build.stderr
    text = " ".join(build.stderr.split())
    assert "ionhash 1.2.1 needs `_IonNature` from amazon-ion" in text, text
    assert "Nor can pyqldb 3.2.4, its newest release" in text, text
    assert "amazon-ion has no wheel that loads on python3.12" in text, text


def test_pyqldb_newest_release_builds_where_its_amazon_ion_pin_has_a_wheel(
        tmp_path: Path) -> None:
    require(find_interpreter("3.10") is not None, "no CPython 3.10 to import the layer with")
    env, out = _env(tmp_path), tmp_path / "q"
    build = run_cli("build", "q", "-p", "pyqldb", "--runtime", "python3.10", "--arch",
                    "x86_64", "--out", str(out), "--json", env=env)
    assert build.returncode == 0, build.stderr
    versions = {p["name"]: p["version"] for p in build.json()["artifacts"][0]["packages"]}
    assert versions["pyqldb"] == "3.2.4" and versions["amazon-ion"] == "0.9.3", versions
    test = run_cli("test", str(out / "q.zip"), "--runtime", "python3.10", "--import",
                   "pyqldb.driver.qldb_driver", env=env)
    assert test.returncode == 0, test.stdout + test.stderr


def test_mysql_connector_imports_and_opencv_is_still_refused(tmp_path: Path) -> None:
    require(find_interpreter("3.12") is not None, "no CPython 3.12 to import the layers with")
    cases = tuple(c for c in CASES if c.name in {"mysql-connector-python", "opencv-python"})
    assert len(cases) == 2
    run_cases(cases, tmp_path, _env(tmp_path))
