"""The import proof keeps the bytecode it compiles in lambdalayer's cache, keyed by the
source bytes and the interpreter, and is exactly as strict with it as without it.

Hand-made layers, `lambdalayer test` on this machine's CPython 3.12: no network.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

GOOD = "import json\n\nVALUE = json.dumps({'ok': 1})\n\ndef double(x):\n    return 2 * x\n"
BROKEN = ("import json\n\n\ndef helper():\n    return 1\n\n\n"
          "raise RuntimeError('broken at import')\n")


@pytest.fixture(autouse=True)
def _python312() -> None:
    require(find_interpreter("3.12") is not None,
            "CPython 3.12 is needed (pyenv install 3.12)")


def _layer(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "python" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _zip(layer: Path, destination: Path) -> Path:
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(layer.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(layer).as_posix())
    return destination


def _test(source: Path, cache: Path, *imports: str, **env: str) -> dict[str, object]:
    args = [arg for name in imports for arg in ("--import", name)]
    run = run_cli("test", str(source), "--runtime", "python3.12", "--arch", "x86_64",
                  *args, "--json", env={"LAMBDALAYER_CACHE_DIR": str(cache), **env})
    assert run.returncode in (0, 6), run.stderr
    document: dict[str, object] = run.json()
    return document


def _imports(document: dict[str, object]) -> dict[str, dict[str, object]]:
    targets = document["targets"]
    assert isinstance(targets, list) and len(targets) == 1
    return {i["module"]: i for i in targets[0]["imports"]}


def _layer_entries(cache: Path) -> list[Path]:
    """The kept bytecode of layer modules: not the proof's own runner script's code,
    which the helper keeps there too (proof/script.py)."""
    import hashlib

    from lambdalayer.proof import script

    runner = hashlib.sha256(script.source().encode("utf-8")).hexdigest()
    return [p for p in (cache / "proof-bytecode").rglob("*.pyc")
            if not p.name.startswith(runner)]


def _kept(cache: Path) -> dict[str, int]:
    """Each kept bytecode file (folder/name) and its inode (a rewrite replaces the inode)."""
    return {f"{p.parent.parent.name}/{p.name}": p.stat().st_ino for p in _layer_entries(cache)}


def test_an_unchanged_module_is_compiled_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    layer = _layer(tmp_path / "one", {"good.py": GOOD, "pkg/__init__.py": "from .sub import X\n",
                                      "pkg/sub.py": "X = 3\n"})
    first = _test(layer, cache, "good", "pkg")
    assert first["status"] == "passed"
    kept = _kept(cache)
    assert len(kept) == 3, kept  # good, pkg/__init__, pkg/sub: one file per distinct source
    # The same layer again, staged anew (new paths, new mtimes): nothing is compiled or
    # written again.
    second = _test(layer, cache, "good", "pkg")
    assert second["status"] == "passed"
    assert _kept(cache) == kept
    assert _imports(second)["good"]["origin"] == "/opt/python/good.py"
    # The layer itself is never written to: Lambda's /opt is read-only.
    assert not list(layer.rglob("__pycache__")) and not list(layer.rglob("*.pyc"))
    # Another layer with the same sources reads the same bytecode: only the precompile
    # run, which runs none of a layer's code, writes the cache, named by the source's
    # SHA-256; the import sees it read-only (docs/proof-threat-model.md).
    _test(_zip(layer, tmp_path / "layer.zip"), cache, "good", "pkg")
    assert _kept(cache) == kept
    # Changed source bytes are a new entry.
    (layer / "python" / "good.py").write_text(GOOD + "\nOTHER = 1\n")
    _test(layer, cache, "good")
    assert len(_kept(cache)) == 4


def test_a_failure_reads_the_same_from_cached_bytecode(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    layer = _layer(tmp_path / "one", {"broken.py": BROKEN, "good.py": GOOD})
    runs = [_test(layer, cache, "good", "broken"),
            _test(_zip(layer, tmp_path / "layer.zip"), cache, "good", "broken")]
    for document in runs:
        assert document["status"] == "failed"
        result = _imports(document)["broken"]
        assert result["ok"] is False
        assert result["error"] == "RuntimeError: broken at import"
        # The traceback names the file as Lambda would, at the right line, also when the
        # code object was compiled for a file at another path.
        assert 'File "/opt/python/broken.py", line 8, in <module>' in str(result["traceback"])


def test_the_layers_own_bytecode_is_what_runs(tmp_path: Path) -> None:
    """A layer that ships a valid pyc (built with --compile) runs it, as Lambda would,
    rather than the source or a kept compile of it."""
    cache = tmp_path / "cache"
    layer = _layer(tmp_path / "one", {"shipped.py": "VALUE = 'from source'\n"})
    source = layer / "python" / "shipped.py"
    _test(layer, cache, "shipped")  # a compile of the source is kept now
    interpreter = find_interpreter("3.12")
    assert interpreter is not None
    # An unchecked-hash pyc of other code: CPython (and Lambda) load it without the source.
    other = tmp_path / "other.py"
    other.write_text("raise ImportError('the shipped pyc ran')\n")
    pyc = layer / "python" / "__pycache__" / "shipped.cpython-312.pyc"
    subprocess.run([interpreter.path, "-c", (
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], "
        "doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)"),
        str(other), str(pyc)], check=True)
    assert source.read_text() == "VALUE = 'from source'\n"
    document = _test(layer, cache, "shipped")
    assert _imports(document)["shipped"]["error"] == "ImportError: the shipped pyc ran"


def test_the_cache_off_keeps_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    layer = _layer(tmp_path / "one", {"good.py": GOOD})
    document = _test(layer, cache, "good", LAMBDALAYER_CACHE_MAX="0")
    assert document["status"] == "passed"
    assert not (cache / "proof-bytecode").exists()


def _kept_bytes(cache: Path) -> int:
    return sum(p.stat().st_size for p in (cache / "proof-bytecode").rglob("*") if p.is_file())


@pytest.mark.network
def test_the_kept_bytecode_stays_within_its_share_of_the_cache(tmp_path: Path) -> None:
    """An eighth of LAMBDALAYER_CACHE_MAX, after `test` and after `build` (whose runs of
    several runtimes trim once, when they added bytecode)."""
    cache = tmp_path / "cache"
    big = "".join(f"def f{n}(x):\n    return [x * {n} for _ in range(3)]\n" for n in range(300))
    layer = _layer(tmp_path / "one", {"big.py": big, "other.py": big + "Y = 1\n"})
    document = _test(layer, cache, "big", "other", LAMBDALAYER_CACHE_MAX="40K")
    assert document["status"] == "passed"
    assert _kept_bytes(cache) <= 5000  # each pyc is over 5 KB: the trim removed them
    # Unbounded, both are kept.
    _test(layer, tmp_path / "roomy", "big", "other")
    assert _kept_bytes(tmp_path / "roomy") > 10_000
    src = tmp_path / "src"
    src.mkdir()
    (src / "mine.py").write_text(big)
    built = run_cli("build", "mine", "--source", str(src), "-p", "six==1.16.0",
                    "--runtime", "python3.12", "--runtime", "python3.13", "--arch", "x86_64",
                    "--out", str(tmp_path / "dist"), "--json",
                    env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache2"),
                         "LAMBDALAYER_CACHE_MAX": "40K"})
    assert built.returncode == 0, built.stderr
    assert built.json()["artifacts"][0]["import_test"]["status"] == "passed"
    assert _kept_bytes(tmp_path / "cache2") <= 5000


UNUSED = b"UNUSED = 'a module no import reaches'\n"
IN_TESTS = b"IN_TESTS = 'a test module'\n"


def _kept_sources(cache: Path) -> set[str]:
    """The SHA-256 of each source whose bytecode the proof keeps."""
    return {p.name.split(".")[0] for p in _layer_entries(cache)}


def test_a_lone_first_proof_compiles_beside_the_import(tmp_path: Path) -> None:
    """A build with one layer and one runtime leaves a core free: a second run of the
    target's CPython fills the bytecode cache meanwhile (tests/ folders skipped); with
    two runtimes both cores import, and only what they import is compiled. Either way
    the proof judges the same imports, and no helper or half-written file is left."""
    import hashlib

    from tests.package_index import make_wheel, serve_index

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "llpre", "1.0", files={
        # The import takes a second: the helper, racing it, has time to reach unused.py
        # (a tiny layer's import could end, and stop the helper, before it started).
        "llpre/__init__.py": b"from . import used\n",
        "llpre/used.py": b"import time\n\ntime.sleep(1)\nUSED = 1\n",
        "llpre/unused.py": UNUSED, "llpre/tests/test_unused.py": IN_TESTS})
    unused, in_tests = (hashlib.sha256(s).hexdigest() for s in (UNUSED, IN_TESTS))
    scratch = tmp_path / "tmp"  # the proof's staged layer, named in its command lines
    scratch.mkdir()
    with serve_index(wheels) as url:
        def build(name: str, *runtimes: str) -> set[str]:
            cache = tmp_path / f"cache-{name}"
            run = run_cli("build", name, "-p", "llpre", "--index-url", url,
                          *(a for r in runtimes for a in ("--runtime", r)),
                          "--arch", "x86_64", "--out", str(tmp_path / "dist"), "--json",
                          env={"LAMBDALAYER_CACHE_DIR": str(cache), "TMPDIR": str(scratch)})
            assert run.returncode == 0, run.stderr
            assert run.json()["artifacts"][0]["import_test"]["status"] == "passed"
            assert not list(cache.rglob("*.tmp"))
            # Private, like the rest of the cache: the helper's folders as the proof's.
            folders = [p for p in (cache / "proof-bytecode").rglob("*") if p.is_dir()]
            assert folders and {p.stat().st_mode & 0o777 for p in folders} == {0o700}
            return _kept_sources(cache)

        alone = build("alone", "python3.12")
        assert unused in alone and in_tests not in alone
        require(find_interpreter("3.11") is not None, "CPython 3.11 is needed")
        assert unused not in build("two", "python3.11", "python3.12")
    assert subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True).stdout == b""
    assert list(scratch.iterdir()) == []


def held_while_uv_unpacks(uv_cache: Path, wanted: bool, until: Callable[[], object]) -> None:
    """A wanted download waits, 5 s at most, until `until()`. uv also downloads each
    wheel whole once to resolve (this index offers no metadata files), before it
    unpacks anything: a download for which uv has unpacked nothing within a second is
    that one, and is let go."""
    import time

    started = time.monotonic()
    while wanted and time.monotonic() < started + 5 and not until():
        if time.monotonic() > started + 1 and not (uv_cache / "archive-v0").is_dir():
            return
        time.sleep(0.02)


@pytest.mark.parametrize("box", ["bwrap", "box"])
def test_a_cold_build_compiles_what_uv_unpacks_while_uv_still_downloads(
        tmp_path: Path, box: str) -> None:
    """uv unpacks each wheel into its cache as it arrives: while the layer's last wheel is
    still downloading, the modules of one that arrived are compiled already, none of
    them imported (proof/early.py), in either box. The helper sees uv's cache
    read-only, and nothing of it outlives the build: no process, no folder, no
    half-written file."""
    import hashlib
    import threading

    from tests.package_index import make_wheel, serve_index

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "llfirst", "1.0", requires=("lllast",), files={
        "llfirst/__init__.py": b"VALUE = 1\n", "llfirst/unused.py": UNUSED})
    make_wheel(wheels, "lllast", "1.0")
    cache, uv_cache, scratch = tmp_path / "cache", tmp_path / "uv-cache", tmp_path / "tmp"
    scratch.mkdir()
    wanted = hashlib.sha256(UNUSED).hexdigest()
    seen_during_download = threading.Event()

    def compiled() -> bool:
        if any(p.name.startswith(wanted) for p in cache.rglob("*.pyc")):
            seen_during_download.set()
        return seen_during_download.is_set()

    def hold(name: str) -> None:
        """lllast's download waits for llfirst's unused module's bytecode."""
        held_while_uv_unpacks(uv_cache, name.startswith("lllast"), compiled)

    with serve_index(wheels, hold=hold) as url:
        run = run_cli("build", "early", "-p", "llfirst", "--index-url", url,
                      "--runtime", "python3.12", "--arch", "x86_64",
                      "--out", str(tmp_path / "dist"), "--json",
                      env={"LAMBDALAYER_CACHE_DIR": str(cache), "TMPDIR": str(scratch),
                           "UV_CACHE_DIR": str(uv_cache), "LAMBDALAYER_SANDBOX": box})
    assert run.returncode == 0, run.stderr
    assert run.json()["artifacts"][0]["import_test"]["status"] == "passed"
    assert seen_during_download.is_set(), "nothing was compiled while uv downloaded"
    assert not list(uv_cache.rglob("*.pyc")) and not list(uv_cache.rglob("__pycache__"))
    assert not list(cache.rglob("*.tmp"))
    assert subprocess.run(["pgrep", "-f", str(uv_cache)], capture_output=True).stdout == b""
    assert list(scratch.iterdir()) == []


def test_a_warm_uv_starts_no_early_box(tmp_path: Path) -> None:
    """The helper compiling while uv downloads starts only once uv unpacks a wheel: a
    build whose uv finds every wheel in its cache (here with an empty lambdalayer cache,
    so the proof still has everything to compile) starts no such box at all."""
    import shutil

    from tests.package_index import make_wheel, serve_index

    real = shutil.which("bwrap")
    require(real is not None, "bubblewrap is needed (apt-get install bubblewrap)")
    log, bin_dir = tmp_path / "boxes.log", tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "bwrap"  # found first on PATH: logs each box, then is bwrap
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "llwarm", "1.0", requires=("llwarmlast",),
               files={"llwarm/__init__.py": b"VALUE = 1\n"})
    make_wheel(wheels, "llwarmlast", "1.0")
    uv_cache, warm = tmp_path / "uv-cache", False

    def early_boxes_logged() -> int:
        if not log.is_file():
            return 0
        return sum(f" {uv_cache.resolve()} /uv-cache " in f" {line} "
                   for line in log.read_text().splitlines())

    def hold(name: str) -> None:
        """In the cold build, the last wheel's download waits for the early box, as a
        slow network would: with nothing left to download, the proof may start first
        (and then no early box is worth starting). The warm build is not held: its uv
        still downloads each wheel once to resolve."""
        held_while_uv_unpacks(uv_cache, name.startswith("llwarmlast") and not warm,
                              early_boxes_logged)

    with serve_index(wheels, hold=hold) as url:
        def early_boxes(name: str) -> int:
            log.unlink(missing_ok=True)
            run = run_cli("build", name, "-p", "llwarm", "--index-url", url, "--force",
                          "--runtime", "python3.12", "--arch", "x86_64",
                          "--out", str(tmp_path / "dist"),
                          env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / f"cache-{name}"),
                               "UV_CACHE_DIR": str(uv_cache),
                               "PATH": f"{bin_dir}:{os.environ['PATH']}"})
            assert run.returncode == 0, run.stderr
            return early_boxes_logged()

        assert early_boxes("cold") == 1  # uv unpacked llwarm: compiled meanwhile
        warm = True
        assert early_boxes("warm") == 0


def test_a_build_refused_before_its_proof_leaves_no_early_box(tmp_path: Path) -> None:
    """uv unpacked a wheel, so the early helper started, then the build was refused
    before any proof (a requirement no index has): the command still ends at once, with
    its refusal, and nothing of the helper is left."""
    import time

    from tests.package_index import make_wheel, serve_index

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "llthere", "1.0")
    scratch, uv_cache = tmp_path / "tmp", tmp_path / "uv-cache"
    scratch.mkdir()
    with serve_index(wheels) as url:
        # uv unpacks llthere into its cache (the early helper starts), then fails on
        # the second requirement: uv is run per target, llmissing only for arm64.
        started = time.monotonic()
        run = run_cli("build", "refused", "-p", "llthere", "-p",
                      "llmissing; platform_machine == 'aarch64'", "--index-url", url,
                      "--runtime", "python3.12", "--arch", "x86_64", "--arch", "arm64",
                      "--out", str(tmp_path / "dist"),
                      env={"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache"),
                           "TMPDIR": str(scratch), "UV_CACHE_DIR": str(uv_cache)},
                      timeout=60)  # a helper left waiting for a proof would hang the exit
        took = time.monotonic() - started
    assert run.returncode == 3, run.stderr
    assert "llmissing" in run.stderr and "Traceback" not in run.stderr
    assert took < 30
    assert subprocess.run(["pgrep", "-f", str(uv_cache)], capture_output=True).stdout == b""
    assert list(scratch.iterdir()) == []
