"""A build's two fixed costs, guarded by the order of events (never a clock): uv starts
before the pipeline's heavy modules are imported, and the CLI's own process ends without
the interpreter's teardown, its cleanup and exit status kept (cli/__init__._leave)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.package_index import make_wheel, serve_index

# Observes a real run from inside: which modules were loaded when `uv pip install` was
# started; the atexit handlers (registered first, so run last); and a finalizer that only
# the interpreter's teardown of modules runs.
SITECUSTOMIZE = '''
import atexit, os, subprocess, sys
_out = os.environ["OBSERVED"]
def _note(line, open=open):  # open kept: the teardown may have emptied builtins
    with open(_out, "a") as handle:
        handle.write(line + "\\n")
atexit.register(_note, "atexit ran")
class _Teardown:
    def __del__(self):
        _note("teardown ran")
sys.modules["sitecustomize"].keeper = _Teardown()
_init = subprocess.Popen.__init__
def _popen(self, args, *rest, **kwargs):
    if not isinstance(args, str) and list(args)[1:3] == ["pip", "install"]:
        _note("uv started with " + " ".join(sorted(sys.modules)))
    _init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = _popen
'''

# Loaded only once uv runs: every one of them would delay uv on a cold build. (packaging:
# a bare name is neither parsed nor a pin; the manifest's module: the inputs hash waits.)
HEAVY = ("lambdalayer.pipeline.stages", "lambdalayer.audit", "lambdalayer.proof",
         "lambdalayer.supply.cdx", "cyclonedx", "lambdalayer.archive.zipwriter", "rich",
         "packaging", "lambdalayer.archive.manifest", "lambdalayer.supply.inventory",
         "lambdalayer.targets.lambda_model")


def _observed_build(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                          list[str]]:
    """`python -m lambdalayer build ARGS` against a loopback index, with TMPDIR private;
    its run and the lines the sitecustomize noted."""
    (tmp_path / "site").mkdir(exist_ok=True)
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    observed = tmp_path / "observed.txt"
    observed.unlink(missing_ok=True)
    index_dir = tmp_path / "index"
    make_wheel(index_dir, "ll-fixture-ends", "1.0", files={"ll_fixture_ends.py": b"x = 1\n"})
    path = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", ""),
                            str(Path(__file__).resolve().parents[2])])
    with serve_index(index_dir) as index:
        env = {**os.environ, "PYTHONPATH": path, "OBSERVED": str(observed),
               "TMPDIR": str(tmp_path / "tmp"), "UV_DEFAULT_INDEX": index,
               "UV_CACHE_DIR": str(tmp_path / "uvcache"),
               "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
        run = subprocess.run([sys.executable, "-m", "lambdalayer", "build", *args],
                             cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300, check=False)
    return run, observed.read_text().splitlines()


def test_uv_starts_before_the_pipeline_is_imported(tmp_path: Path) -> None:
    run, observed = _observed_build(tmp_path, "early", "-p", "ll-fixture-ends", "--runtime",
                                    "python3.12", "--arch", "x86_64", "--no-proof")
    assert run.returncode == 0, run.stderr
    loaded = next(line for line in observed if line.startswith("uv started")).split()[3:]
    assert "lambdalayer.pipeline.layer" in loaded  # the observation is of the build's uv
    early = [name for name in loaded if name.startswith(HEAVY)]
    assert early == []


def test_the_process_ends_without_teardown_and_keeps_its_cleanup(tmp_path: Path) -> None:
    run, observed = _observed_build(tmp_path, "ends", "-p", "ll-fixture-ends", "--runtime",
                                    "python3.12", "--arch", "x86_64", "--no-proof", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["artifacts"][0]["name"] == "ends"  # flushed whole
    assert [line for line in observed if not line.startswith("uv started")] == ["atexit ran"]
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == []  # no work directory left


def test_a_failure_keeps_its_exit_status(tmp_path: Path) -> None:
    run, observed = _observed_build(tmp_path, "missing", "-p", "ll-fixture-absent",
                                    "--runtime", "python3.12", "--arch", "x86_64")
    assert run.returncode == 3, run.stderr  # cannot be resolved: docs/exit-codes.md
    assert "error:" in run.stderr and "Traceback" not in run.stderr
    assert [line for line in observed if not line.startswith("uv started")] == ["atexit ran"]
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == []


def test_under_a_profiler_the_process_ends_as_python_ends_it(tmp_path: Path) -> None:
    """`python -m cProfile -o F -m lambdalayer …` writes F after the program returns: the
    fast exit would lose it, so under a profiler or tracer the exit is Python's own."""
    written = tmp_path / "profile.out"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(written), "-m",
                           "lambdalayer", "runtimes"], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "python3.12" in done.stdout
    assert written.is_file() and written.stat().st_size > 0
