"""Popular Lambda packages, one layer each for python3.12/x86_64.

Each is built and imports on CPython 3.12 with only the layer (`lambdalayer test`),
or is refused with the right advice. Builds run two at a time, sharing one
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
from tests.realworld.packages import CASES, Case

pytestmark = pytest.mark.network


def outcome(case: Case, work: Path, env: dict[str, str]) -> str:
    """"ok" or what went wrong, for one case."""
    out = work / case.name
    build = run_cli("build", case.name, "-p", case.spec, "--runtime", "python3.12",
                    "--arch", "x86_64", "--out", str(out), "--json", env=env)
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
    args = ["test", str(out / f"{case.name}.zip"), "--runtime", "python3.12", "--json"]
    for module in case.imports:
        args += ["--import", module]
    test = run_cli(*args, env=env)
    if test.returncode != 0:
        return f"import failed ({test.returncode}): {test.stdout[-600:]} {test.stderr[-300:]}"
    return "ok"


def test_real_packages_build_and_import_or_are_refused_with_advice(tmp_path: Path) -> None:
    require(find_interpreter("3.12") is not None, "no CPython 3.12 to import the layers with")
    env = {"UV_CACHE_DIR": os.environ.get("LAMBDALAYER_TEST_UV_CACHE",
                                          str(tmp_path / "uvcache")),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(CASES, pool.map(lambda c: outcome(c, tmp_path, env), CASES),
                           strict=True))
    failures = {c.spec: r for c, r in results.items() if r != "ok"}
    assert len(CASES) >= 40
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
