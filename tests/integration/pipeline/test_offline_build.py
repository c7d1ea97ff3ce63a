"""`build --offline`: uv installs from its cache, the index is not asked, and a note says so."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, serve_index


def _build(index: str, tmp_path: Path, *args: str) -> CliRun:
    env = {"UV_DEFAULT_INDEX": index, "UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    return run_cli("build", "pinned", "-p", "ll-fixture-newest<2", "--runtime", "python3.12",
                   "--arch", "x86_64", "--out", str(tmp_path / "dist"), "--json", *args,
                   env=env)


def test_offline_build_asks_nothing(tmp_path: Path) -> None:
    files = tmp_path / "index"
    for version in ("1.0", "2.0"):
        make_wheel(files, "ll-fixture-newest", version, file_tag="py3-none-any",
                   wheel_tag="py3-none-any", files={"ll_fixture_newest/__init__.py": b""})
    with serve_index(files) as index:
        online = _build(index, tmp_path)
    assert online.returncode == 0, online.stderr
    assert any("not the newest release (2.0)" in w for w in online.json()["warnings"])
    # The index is gone now: only uv's cache and no query can make this build.
    offline = _build(index, tmp_path, "--offline", "--force")
    assert offline.returncode == 0, offline.stderr
    warnings = offline.json()["warnings"]
    assert any("Offline: the index was not asked" in w for w in warnings), warnings
    assert not any("not the newest release" in w for w in warnings)
    assert offline.json()["artifacts"][0]["sha256"] == online.json()["artifacts"][0]["sha256"]
