"""The zip is written while its layer is proven, and only swapped into dist/ once
the proof passed (pipeline/zips.py).

Local wheels (no network), CPython 3.12 on this host, the proof under bubblewrap (the
only sandbox that makes the tree read-only to it, and so the only one with which the
zip is written beside the proof).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from lambdalayer.proof.sandbox import find_sandbox
from tests.conftest import require
from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel

pytestmark = pytest.mark.slow

# Incompressible, so zipping it takes a noticeable moment (about 0.5 s on 2 cores).
_NOISE = hashlib.shake_256(b"lambdalayer").digest(48_000_000)
# Only a hang takes this long.
HANG = 600.0
_BUILD = ["--runtime", "python3.12", "--arch", "x86_64", "--out", "dist", "--verbose"]


@pytest.fixture(autouse=True)
def _needs() -> None:
    require(find_interpreter("3.12") is not None, "CPython 3.12 is needed (pyenv install 3.12)")
    require(find_sandbox().kind == "bwrap", "bubblewrap (bwrap) is needed for the proof")


def _wheel(tmp_path: Path, version: str, init: str) -> str:
    make_wheel(tmp_path, "slowpkg", version, files={
        "slowpkg/__init__.py": init.encode(), "slowpkg/noise.bin": _NOISE})
    return f"./slowpkg-{version}-py3-none-any.whl"


def _sandboxes_below(pid: int) -> bool:
    """True while a descendant of `pid` is bubblewrap: the proof's box is running."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        name, _, rest = text.rpartition(")")
        parents[int(stat.parent.name)] = int(rest.split()[1])
        names[int(stat.parent.name)] = name.partition("(")[2]
    for child, name in names.items():
        ancestor = parents.get(child)
        while ancestor and ancestor != pid:
            ancestor = parents.get(ancestor)
        if ancestor == pid and name == "bwrap":
            return True
    return False


def _build_watched(tmp_path: Path, *args: str, env: dict[str, str]) -> tuple[list[str], str]:
    """Run `build ARGS` and note, in the order they happen, when a zip first appears in
    dist/ (its hidden partial or temporary file) and each time a box (bubblewrap) starts
    and ends: the proof's, after any shorter probe. Order, not seconds: a loaded machine
    keeps it. (events, stderr)"""
    events: list[str] = []
    boxed = False
    dist = tmp_path / "dist"
    with subprocess.Popen([sys.executable, "-m", "lambdalayer", *args], cwd=tmp_path,
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as build:
        ends = time.monotonic() + HANG
        while build.poll() is None:
            assert time.monotonic() < ends, "the build hangs"
            if "zip started" not in events and dist.is_dir() and any(
                    name.startswith(".") for name in os.listdir(dist)):
                events.append("zip started")
            if _sandboxes_below(build.pid) != boxed:
                boxed = not boxed
                events.append("box started" if boxed else "box ended")
            time.sleep(0.005)
        stderr = build.stderr.read() if build.stderr else ""
    assert build.returncode == 0, stderr
    return events, stderr


def _dist(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp_path / "dist").iterdir())}


def test_the_zip_is_written_while_the_proof_runs(tmp_path: Path) -> None:
    env = {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    wheel = _wheel(tmp_path, "1.0", "import time\ntime.sleep(3)\n")
    # A first build's import claims both cores beside its bytecode helper, and the zip
    # waits for it (common/cores.py); a rebuild's import has the cache and no helper.
    assert run_cli("build", "slow", "-p", wheel, *_BUILD, cwd=tmp_path, env=env).returncode == 0
    events, stderr = _build_watched(tmp_path, "build", "slow", "-p", wheel, *_BUILD, "--force",
                                    env=env)
    # The zip's worker began before the last box, the proof's (the import holds it 3 s),
    # ended: beside the proof, not after it.
    assert "box ended" in events and "zip started" in events, events
    last_end = len(events) - 1 - events[::-1].index("box ended")
    assert events.index("zip started") < last_end, events
    assert "writing slow.zip" not in stderr
    # The same bytes as a zip written after the proof (no sandbox: nothing beside it).
    first = (tmp_path / "dist" / "slow.zip").read_bytes()
    after = run_cli("build", "slow", "-p", wheel, *_BUILD, "--force", cwd=tmp_path,
                    env={**env, "LAMBDALAYER_SANDBOX": "none",
                         "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cold")})
    assert after.returncode == 0, after.stderr
    assert "writing slow.zip" in after.stderr  # written after the proof, as it must be
    assert (tmp_path / "dist" / "slow.zip").read_bytes() == first


def test_a_failed_proof_leaves_dist_as_it_was(tmp_path: Path) -> None:
    env = {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    good = _wheel(tmp_path, "1.0", "VALUE = 1\n")
    assert run_cli("build", "slow", "-p", good, *_BUILD, cwd=tmp_path, env=env).returncode == 0
    before = _dist(tmp_path)
    # The import fails after the zip had time to be written completely.
    bad = _wheel(tmp_path, "2.0", "import time\ntime.sleep(2)\nraise ImportError('no')\n")
    run = run_cli("build", "slow", "-p", bad, *_BUILD, cwd=tmp_path, env=env)
    assert_clean_failure(run, 6)
    assert "ImportError: no" in run.stderr
    assert _dist(tmp_path) == before  # the old pair, byte for byte, and no .partial
    # Nor when it fails at once, while the zip is still being written.
    early = _wheel(tmp_path, "3.0", "raise ImportError('at once')\n")
    run = run_cli("build", "slow", "-p", early, *_BUILD, cwd=tmp_path, env=env)
    assert_clean_failure(run, 6)
    assert _dist(tmp_path) == before
    assert not [p for p in os.listdir(tmp_path / "dist") if p.startswith(".")]


def test_what_the_zip_writer_finds_reaches_the_build_output(tmp_path: Path) -> None:
    """The zip's own warnings, now raised in the worker thread: over 50 MB zipped (publish
    through S3), and a member-cache entry that someone replaced (deleted, compressed
    afresh: the zip is the same)."""
    import zlib

    from lambdalayer.common.cache import _HEADER, _MAGIC, MEMBERS_DIR

    env = {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}
    make_wheel(tmp_path, "bigpkg", "1.0", files={
        "bigpkg/__init__.py": b"VALUE = 1\n",
        "bigpkg/noise.bin": hashlib.shake_256(b"big").digest(53_000_000)})
    args = ["build", "big", "-p", "./bigpkg-1.0-py3-none-any.whl", *_BUILD]
    first = run_cli(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "big.zip is 53.0 MB zipped, over the 50 MB direct upload limit" in first.stderr
    assert "lambdalayer publish --s3-bucket B" in first.stderr
    before = (tmp_path / "dist" / "big.zip").read_bytes()
    entries = [p for p in (tmp_path / "cache" / MEMBERS_DIR).rglob("*") if p.is_file()]
    assert entries
    evil = zlib.compress(b"planted", 6)[2:-4]
    for entry in entries:
        entry.write_bytes(_HEADER.pack(_MAGIC, len(evil), zlib.crc32(evil), bytes(32)) + evil)
    again = run_cli(*args, "--force", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "did not match the content it is stored for and was deleted" in again.stderr
    assert (tmp_path / "dist" / "big.zip").read_bytes() == before
