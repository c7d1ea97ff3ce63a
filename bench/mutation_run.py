"""Mutation run: do the tests notice when core code is broken on purpose?

Each mutation replaces one snippet of a core module with a plausible bug (a
broken guard: an unsorted zip, no cache verification, no redaction, ...), runs the tests
that cover that module in a scratch copy of the repository (PYTHONPATH puts
the copy first; the CLI subprocesses inherit it), and counts the mutation as
killed when the tests fail. Prints one line per mutation and the kill rate.

    python bench/mutation_run.py            # every mutation
    python bench/mutation_run.py --only cache,redact
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation("closure-every-file", "lambdalayer/audit/closure.py",
             "    frontier = [f.rel for f in files if is_extension_module(f, target)]\n",
             "    frontier = [f.rel for f in files]\n",
             ("tests/unit/audit/test_closure.py", "tests/integration/pipeline/test_on_demand.py")),
    Mutation("closure-ignores-mapped", "lambdalayer/audit/closure.py",
             "    frontier += [rel for rel in mapped if rel in present]\n", "",
             ("tests/unit/audit/test_closure.py", "tests/integration/pipeline/test_on_demand.py")),
    Mutation("proof-skips-dependencies", "lambdalayer/proof/prove.py",
             "        if test_imports is None:\n            wanted += sorted(",
             "        if False:\n            wanted += sorted(",
             ("tests/integration/pipeline/test_dependency_pairs.py",)),
    Mutation("fix-pairs-ignored", "lambdalayer/pipeline/proving.py",
             "proving.fix_pairs and search.complete", "False and search.complete",
             ("tests/integration/pipeline/test_dependency_pairs.py",)),
    Mutation("note-names-newest-not-written", "lambdalayer/resolve/newest.py",
             "        version = got.get(name, str(have))\n", "        version = str(newest)\n",
             ("tests/integration/pipeline/test_resolution_policy.py",)),
    Mutation("zip-unsorted", "lambdalayer/archive/zipwriter.py",
             "    entries = sorted(files)\n", "    entries = list(files)\n",
             ("tests/unit/archive/test_archive.py", "tests/unit/archive/test_archive_parallel.py")),
    Mutation("zip-current-time", "lambdalayer/archive/zipwriter.py",
             "    time, date = _dos_time(fixed_timestamp())",
             "    time, date = _dos_time(__import__('time').localtime()[:6])",
             ("tests/unit/archive/test_archive.py",)),
    Mutation("wheel-fit-backstop", "lambdalayer/resolve/resolver.py",
             "        if dist.is_pure or any(target.accepts_wheel_tag(t) for t in dist.tags):",
             "        if True:",
             ("tests/unit/resolve/test_wheel_fit.py",)),
    Mutation("cache-verify", "lambdalayer/common/cache.py",
             "        if not hmac.compare_digest(mac, expected) or not _inflates_to(payload, key):",
             "        if False:",
             ("tests/unit/archive/test_member_cache.py",)),
    Mutation("cache-clean-marker", "lambdalayer/common/cache.py",
             "    if not is_lambdalayer_cache(root):\n        raise",
             "    if False:\n        raise",
             ("tests/unit/archive/test_member_cache.py", "tests/unit/cli/test_cache_cmd.py")),
    Mutation("redact", "lambdalayer/common/redact.py",
             "    return _rewrite(text, lambda _: REDACTED)",
             "    return text",
             ("tests/unit/resolve/test_index_query.py",
              "tests/integration/pipeline/test_private_index.py")),
    Mutation("index-auth-header", "lambdalayer/resolve/index_query.py",
             '        headers["Authorization"] = auth', "        pass",
             ("tests/integration/pipeline/test_private_index.py",)),
    Mutation("index-plan-ignores-file", "lambdalayer/resolve/index_settings.py",
             '               or next(iter(files["index"]), None)\n', "",
             ("tests/unit/resolve/test_index_query.py",)),
    Mutation("test-env-leaks", "lambdalayer/proof/runner.py",
             "    env = {name: os.environ[name] for name in _HOST_VARIABLES if name in os.environ}",
             "    env = dict(os.environ)",
             ("tests/integration/proof/test_test_isolation.py",)),
    Mutation("config-owner", "lambdalayer/project/config.py",
             "        return stat.S_ISREG(entry.st_mode) and entry.st_uid == me",
             "        return True",
             ("tests/unit/project/test_config.py",)),
    Mutation("config-boundary", "lambdalayer/project/config.py",
             "            break  # the repository", "            pass  # the repository",
             ("tests/unit/project/test_config.py",)),
    Mutation("publish-one-read", "lambdalayer/aws/publish.py",
             "    if hashlib.sha256(data).hexdigest() != layer.sha256:", "    if False:",
             ("tests/integration/aws/test_publish.py",)),
    Mutation("elf-dedup", "lambdalayer/audit/elf.py",
             "        if (tag, value) in seen:", "        if False:",
             ("tests/unit/audit", "tests/integration/audit/test_hostile_zips.py")),
    Mutation("markup-escape", "lambdalayer/cli/build_render.py",
             '                          f"{escape(finding.path)}: "',
             '                          f"{finding.path}: "',
             ("tests/unit/cli/test_markup.py",)),
    Mutation("publish-oldest", "lambdalayer/aws/publish.py",
             'if newest is None or item["Version"] > newest["Version"]:',
             'if newest is None or item["Version"] < newest["Version"]:',
             ("tests/integration/aws/test_publish.py",)),
    Mutation("attach-limit-in-place", "lambdalayer/aws/attach.py",
             "    if len(after) > MAX_LAYERS:", "    if len(function.layers) >= MAX_LAYERS:",
             ("tests/integration/aws/test_attach.py",)),
    Mutation("arn-download-cap", "lambdalayer/common/deadline.py",
             "        if copied > cap:", "        if False:",
             ("tests/integration/audit/test_check.py",)),
    Mutation("exclude-inside-guard", "lambdalayer/shrink/exclude.py",
             "        path.relative_to(root)\n    except ValueError:\n        return False",
             "        pass\n    except ValueError:\n        return False",
             ("tests/unit/shrink",)),
    Mutation("config-attach-check-first", "lambdalayer/cli/aws_cmd.py",
             "outputs, dry_run=True, force=force))",
             "outputs, dry_run=dry_run, force=force))",
             ("tests/integration/aws/test_attach.py",)),
    Mutation("arn-download-deadline", "lambdalayer/common/deadline.py",
             "        deadline.check()\n        if not data:", "        if not data:",
             ("tests/unit/common/test_deadline.py",)),
    Mutation("redact-first-at", "lambdalayer/common/redact.py",
             '        cut = authority.rfind("@")', '        cut = authority.find("@")',
             ("tests/unit/common/test_redact.py",)),
    Mutation("redirect-keeps-auth", "lambdalayer/resolve/index_query.py",
             '            redirected.remove_header("Authorization")', "            pass",
             ("tests/unit/resolve/test_index_query.py",)),
    Mutation("layer-name-match", "lambdalayer/aws/arns.py",
             "    if not _LAYER_NAME.fullmatch(name):", "    if not _LAYER_NAME.match(name):",
             ("tests/unit/aws/test_planning.py", "tests/integration/pipeline/test_safety.py")),
    Mutation("sandbox-network", "lambdalayer/proof/sandbox.py",
             '    args = ["--unshare-all", *(["--share-net"] if view.network else []),',
             '    args = ["--unshare-all", "--share-net",',
             ("tests/integration/proof/test_sandbox.py",)),
    # The proof as a boundary (docs/proof-threat-model.md).
    Mutation("box-binds-home", "lambdalayer/proof/sandbox.py",
             '    mounts = _system_entries()\n',
             '    mounts = _system_entries() + [("ro", os.path.expanduser("~"),\n'
             '                                   os.path.expanduser("~"))]\n',
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("box-layer-writable", "lambdalayer/proof/sandbox.py",
             '    mounts += [("ro", str(host), inside) for host, inside in view.layer]',
             '    mounts += [("rw", str(host), inside) for host, inside in view.layer]',
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("proof-writes-bytecode", "lambdalayer/proof/runner.py",
             "    command = box.command(config, readable=(Path(bytecode),) if bytecode else ())",
             "    command = box.command(config, writable=(Path(bytecode),) if bytecode else ())",
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("named-box-fails-open", "lambdalayer/proof/sandbox.py",
             '    if found.kind == "none" and (required or choice in ("bwrap", "box")):',
             '    if found.kind == "none" and required:',
             ("tests/unit/proof/test_sandbox.py",)),
    Mutation("answer-without-end-passes", "lambdalayer/proof/runner.py",
             "    if crash is None and not parsed.ended:",
             "    if False:",
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("answer-parse-trusting", "lambdalayer/proof/answers.py",
             "        except (ValueError, RecursionError) as exc:",
             "        except ValueError as exc:",
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("tree-change-unnoticed", "lambdalayer/pipeline/artifacts.py",
             "        unchanged_since_audit(item.plan.name, item.root, item.stamps)\n",
             "        pass\n",
             ("tests/integration/proof/test_hostile_packages.py",)),
    Mutation("manifest-older-version", "lambdalayer/archive/manifest.py",
             "        if (current is not None and current.version > entry.version",
             "        if (False and current is not None and current.version > entry.version",
             ("tests/unit/archive", "tests/integration/pipeline/test_safety.py")),
    Mutation("folder-direction", "tests/unit/test_architecture.py",
             "            if source is None or dest not in ALLOWED.get(source, set()):",
             "            if source is None:",
             ("tests/unit/test_architecture.py",)),
    Mutation("tampered-zip-up-to-date", "lambdalayer/pipeline/plan.py",
             "file_digests(zip_path)[0] != manifest.sha256",
             "file_digests(zip_path)[0] is None",
             ("tests/unit/pipeline", "tests/integration/pipeline/test_build.py")),
    # What made the proof and the zip fast (docs/performance.md) must not cost correctness.
    Mutation("stdlib-compile-forks", "lambdalayer/interpreters/provision.py",
             '"-q", "-j", "1",', '"-q", "-j", "0",',
             ("tests/integration/proof/test_foreign.py::"
              "test_interpreters_add_compiles_what_an_older_release_left_uncompiled",)),
    Mutation("bytecode-never-trimmed", "lambdalayer/proof/prove.py",
             "    if any(run.bytecode_stored for run in all_runs):",
             "    if not any(run.bytecode_stored for run in all_runs):",
             ("tests/integration/pipeline/test_proof_bytecode_cache.py",)),
    Mutation("zip-after-proof-always", "lambdalayer/pipeline/proving.py",
             "    return find_sandbox(required=proving.sandbox_required).boxed",
             "    return False",
             ("tests/integration/pipeline/test_zip_beside_proof.py",)),
    Mutation("zip-beside-unsandboxed-proof", "lambdalayer/pipeline/proving.py",
             "    return find_sandbox(required=proving.sandbox_required).boxed",
             "    return True",
             ("tests/integration/pipeline/test_zip_beside_proof.py",)),
    Mutation("worker-defers-signals", "lambdalayer/common/interrupt.py",
             "    if threading.current_thread() is not threading.main_thread():\n        yield\n"
             "        return\n", "",
             ("tests/unit/common/test_interrupt.py",)),
    Mutation("later-layer-refusal-first", "lambdalayer/pipeline/stages.py",
             "                if failure is not None:\n                    raise failure from None",
             "                if False:\n                    raise failure from None",
             ("tests/unit/pipeline/test_layer_overlap.py",)),
    Mutation("record-follows-links-out", "lambdalayer/archive/record.py",
             "            inside = real == self._root or real.startswith(self._root + os.sep)",
             "            inside = True",
             ("tests/unit/archive/test_record.py",)),
    Mutation("qemu-cpu-boundary", "lambdalayer/interpreters/launch.py",
             "for since, cpu in choices if version >= since",
             "for since, cpu in choices if version > since",
             ("tests/unit/proof/test_launch.py",)),
    Mutation("qemu-cpu-newest-core", "lambdalayer/interpreters/launch.py",
             '"aarch64": (((7, 0), "neoverse-n1"), ((6, 0), "max,pauth-impdef=on"))',
             '"aarch64": (((6, 0), "max,pauth-impdef=on"),)',
             ("tests/unit/proof/test_launch.py", "tests/integration/proof/test_foreign.py")),
    Mutation("precompile-beside-every-proof", "lambdalayer/proof/prove.py",
             "precompile = spare_cores and len(jobs) == 1 and cores > 1",
             "precompile = cores > 1",
             ("tests/integration/pipeline/test_proof_bytecode_cache.py",)),
    Mutation("precompile-tests-too", "lambdalayer/proof/in_target.py",
             'if d not in ("tests", "test", "testing", "__pycache__")]',
             'if d != "__pycache__"]',
             ("tests/integration/pipeline/test_proof_bytecode_cache.py",)),
    Mutation("partial-download-kept", "lambdalayer/pipeline/wheel_streams/fetch.py",
             "            with contextlib.suppress(OSError):\n                path.unlink()\n",
             "            pass\n",
             ("tests/unit/pipeline/wheel_streams/test_fetch_partials.py",
              "tests/integration/pipeline/test_signals.py")),
    Mutation("sdist-built-every-time", "lambdalayer/resolve/resolver.py",
             "        if no_binary and not no_deps and not inputs.index.offline:\n",
             "        if False:\n",
             ("tests/integration/pipeline/test_sdist_reuse.py",)),
    Mutation("sdist-built-per-target", "lambdalayer/pipeline/resolving.py",
             "fresh=fresh, built=built)", "fresh=fresh)",
             ("tests/integration/pipeline/test_sdist_reuse.py",)),
    Mutation("cache-stale-dep-trusted", "lambdalayer/resolve/still_current.py",
             "        if Version(offer.version) != Version(dist.version):\n"
             "            return False\n",
             "",
             ("tests/unit/resolve/test_still_current.py",
              "tests/integration/pipeline/test_sdist_reuse.py")),
    Mutation("clean-keeps-proof-bytecode", "lambdalayer/common/cache.py",
             "    PROOF_BYTECODE_DIR: re.compile(", "    'not-a-folder': re.compile(",
             ("tests/unit/cli/test_cache_cmd.py",)),
)


def _copy(destination: Path) -> None:
    shutil.copytree(ROOT / "lambdalayer", destination / "lambdalayer")
    shutil.copytree(ROOT / "tests", destination / "tests")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    for extra in ("examples", "recipes"):
        if (ROOT / extra).exists():
            shutil.copytree(ROOT / extra, destination / extra)


def _run(copy: Path, mutation: Mutation, timeout: float) -> tuple[str, float]:
    target = copy / mutation.path
    original = target.read_text("utf-8")
    if original.count(mutation.old) != 1:
        return "stale", 0.0  # the code moved on: update the mutation
    target.write_text(original.replace(mutation.old, mutation.new), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                               "no:cacheprovider", *mutation.tests], cwd=copy, env=env,
                              capture_output=True, timeout=timeout, check=False)
        outcome = "killed" if done.returncode != 0 else "SURVIVED"
    except subprocess.TimeoutExpired:
        outcome = "killed (timeout)"
    finally:
        target.write_text(original, "utf-8")
    return outcome, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutation names")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS
              if not args.only or any(part in m.name for part in args.only.split(","))]
    with tempfile.TemporaryDirectory(prefix="lambdalayer-mutants-") as scratch:
        copy = Path(scratch)
        _copy(copy)
        results = []
        for mutation in chosen:
            outcome, seconds = _run(copy, mutation, args.timeout)
            results.append(outcome)
            print(f"{mutation.name:<28} {outcome:<18} {seconds:6.1f} s", flush=True)
    counted = [r for r in results if r != "stale"]
    killed = sum(r.startswith("killed") for r in counted)
    rate = 100 * killed / len(counted) if counted else 0.0
    print(f"kill rate: {killed}/{len(counted)} = {rate:.0f}% "
          f"({results.count('stale')} stale)")
    return 0 if killed == len(counted) else 1


if __name__ == "__main__":
    raise SystemExit(main())
