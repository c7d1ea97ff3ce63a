"""`build --verbose` says where the time went, stage by stage."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.pipeline.stages import STAGES
from tests.helpers import run_cli
from tests.package_index import make_wheel, serve_index


def test_verbose_build_shows_each_stages_time(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-timed", "1.0", file_tag="py3-none-any",
               wheel_tag="py3-none-any", files={"ll_fixture_timed/__init__.py": b"X = 1\n"})
    env = {"UV_DEFAULT_INDEX": "", "UV_CACHE_DIR": str(tmp_path / "uvcache")}
    with serve_index(files) as index:
        env["UV_DEFAULT_INDEX"] = index
        args = ("build", "timed", "-p", "ll-fixture-timed", "--runtime", "python3.12",
                "--arch", "x86_64", "--out", str(tmp_path / "dist"))
        document = run_cli(*args, "--verbose", "--json", env=env)
        plain = run_cli(*args, "--verbose", "--force", env=env)
        quiet = run_cli(*args, "--force", "--json", env=env)
    assert document.returncode == 0, document.stderr
    timings = document.json()["timings"]
    assert list(timings) == list(STAGES)
    assert all(seconds >= 0 for seconds in timings.values()) and timings["zip"] > 0
    assert plain.returncode == 0, plain.stderr
    line = next(ln for ln in plain.stderr.splitlines() if ln.startswith("time: "))
    assert all(f"{stage} " in line for stage in STAGES)
    assert "timings" not in quiet.json() and "time: " not in quiet.stderr
