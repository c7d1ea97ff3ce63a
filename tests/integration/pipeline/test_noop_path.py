"""The no-op path: an unchanged rebuild, `--help` and `runtimes` do only what they need
(docs/performance.md, bench/noop_bench.py has the timings; these tests guard the mechanism).

Each run is a fresh process with an audit hook (sys.addaudithook) that records the files
it opens and the processes it starts, and, at the end, the modules it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.package_index import make_wheel, serve_index

# Runs the CLI in-process under an audit hook; writes what it saw to argv[1] as JSON.
_PROBE = r"""
import json, os, sys
seen = {"opened": [], "spawned": []}
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        seen["opened"].append(os.fsdecode(args[0]))
    elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork",
                   "os.forkpty", "os.spawn", "os.system"):
        seen["spawned"].append(event)
sys.addaudithook(hook)
from lambdalayer.cli import main
try:
    main(sys.argv[2:])
except SystemExit as done:
    seen["code"] = done.code
seen["modules"] = sorted(sys.modules)
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
"""

# What none of the three needs: AWS, rich (plain output to a pipe), the pipeline's
# stages, the resolver, the proof, the audit, and what the licences line's zip reading
# took (zipfile, email's parser); tempfile for the output folder's probe.
NEVER = ("boto3", "botocore", "rich", "zipfile", "email.parser", "tempfile",
         "lambdalayer.pipeline.stages", "lambdalayer.resolve.resolver",
         "lambdalayer.owncode.sources", "lambdalayer.proof.runner",
         "lambdalayer.audit.check", "lambdalayer.proof.result")

SPECS = ("-p", "llnoop==1.0", "-p", "llnoopdep==2.0; python_version >= '3.11'",
         "-p", "llnoopold==1.0; python_version < '3.11'")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = tmp_path_factory.mktemp("noop-index")
    make_wheel(files, "llnoop", "1.0", files={"llnoop/__init__.py": b"X = 1\n"},
               metadata_extra="License-Expression: MIT\n")
    make_wheel(files, "llnoopdep", "2.0", files={"llnoopdep/__init__.py": b"Y = 2\n"},
               metadata_extra="Classifier: License :: OSI Approved :: BSD License\n")
    make_wheel(files, "llnoopold", "1.0")
    with serve_index(files) as url:
        yield url


def _among(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """The modules that are one of `names` or inside one of them."""
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def _env(tmp_path: Path) -> dict[str, str]:
    return {"LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}


def _build_args(index: str, out: Path, *extra: str) -> list[str]:
    return ["build", "noop", *SPECS, "--index-url", index, "--runtime", "python3.12",
            "--runtime", "python3.13", "--arch", "x86_64", "--no-proof", "--out", str(out),
            *extra]


def _probe(tmp_path: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run `lambdalayer ARGS` (stdout a pipe) under the audit hook; what it saw."""
    record = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", _PROBE, str(record), *args],
                          env={**os.environ, **_env(tmp_path)}, cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=300)
    seen: dict[str, Any] = json.loads(record.read_text())
    return seen, done


def _first_build(index: str, tmp_path: Path) -> dict[str, Any]:
    first = run_cli(*_build_args(index, tmp_path / "dist", "--json"), env=_env(tmp_path),
                    cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    return first.json()


def test_an_unchanged_rebuild_reads_the_zip_once_and_starts_nothing(
        index: str, tmp_path: Path) -> None:
    built = _first_build(index, tmp_path)

    seen, done = _probe(tmp_path, *_build_args(index, tmp_path / "dist"))

    assert seen["code"] == 0, done.stderr
    assert "up to date" in done.stdout
    # Once: its digest against the manifest's (the licences come from the manifest).
    assert [p for p in seen["opened"] if Path(p).name == "noop.zip"] == [str(
        tmp_path / "dist" / "noop.zip")]
    assert seen["spawned"] == []  # no uv, no interpreter, no sandbox
    assert _among(seen["modules"], NEVER) == []
    licences = built["artifacts"][0]["licences"]
    assert {(d["name"], d["licence"]) for d in licences} == {
        ("llnoop", "MIT"), ("llnoopdep", "BSD License")}
    assert "licences in noop.zip: BSD License (llnoopdep); MIT (llnoop)" in done.stdout


def test_the_json_of_an_up_to_date_build_has_the_same_licences(
        index: str, tmp_path: Path) -> None:
    built = _first_build(index, tmp_path)
    manifest = json.loads((tmp_path / "dist" / "noop.json").read_text())
    assert [(d["name"], d["source"]) for d in manifest["licences"]] == [
        ("llnoop", "License-Expression"), ("llnoopdep", "classifier")]

    again = run_cli(*_build_args(index, tmp_path / "dist", "--json"), env=_env(tmp_path),
                    cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    artifact = again.json()["artifacts"][0]
    assert artifact["up_to_date"] is True
    assert artifact["licences"] == built["artifacts"][0]["licences"]


def test_a_manifest_from_before_the_licences_record_reads_the_zip_and_stays_as_it_was(
        index: str, tmp_path: Path) -> None:
    _first_build(index, tmp_path)
    path = tmp_path / "dist" / "noop.json"
    older = json.loads(path.read_text())
    del older["licences"]
    path.write_text(json.dumps(older, indent=2, sort_keys=True) + "\n")
    written = path.read_bytes()

    seen, done = _probe(tmp_path, *_build_args(index, tmp_path / "dist"))

    assert seen["code"] == 0, done.stderr
    assert "up to date" in done.stdout
    assert "licences in noop.zip: BSD License (llnoopdep); MIT (llnoop)" in done.stdout
    assert path.read_bytes() == written  # an up-to-date build writes nothing


@pytest.mark.parametrize("args", [["--help"], ["runtimes"]])
def test_help_and_runtimes_import_neither_rich_nor_the_build(
        tmp_path: Path, args: list[str]) -> None:
    seen, done = _probe(tmp_path, *args)

    assert seen["code"] == 0, done.stderr
    assert seen["spawned"] == []
    never = (*NEVER, "packaging", "lambdalayer.pipeline", "lambdalayer.project")
    assert _among(seen["modules"], never) == []
