"""The import proof `build` runs on every layer beside the audit, before any zip is swapped in.

Each requested distribution's top-level modules are imported on a CPython of
each target (native, or emulated: see interpreters/find.find_for), in Lambda's
layout and sys.path order, with `-I -S -B` (runner.run_proof does the run).
Private pure-Python modules (`_x.py`) are not imported on their own
(dist_modules says which are). Your own code is imported too: local projects
as the distributions they are, and `--source`/`--include` modules as "your
code (--source src)", judged strictly: each of its top-level modules must
import. A distribution passes
when its main module imports; a failing secondary module of a distribution
whose main module imported is a warning (typically it needs an optional extra
the user did not ask for). Targets this host cannot run are "skipped" with the
reason; the audit has already gated them. Nothing here prints or raises for a
failed import: the caller decides (pipeline/proving.py raises ProofFailed). With
`build --test-report` the runs also import what `lambdalayer test` would, and serve
as its report, so the layer is imported once per target.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.utils import canonicalize_name

from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.proof.conflicts import Conflict, find_conflict
from lambdalayer.proof.result import ArtifactProof, ProofStatus, TargetProof, skipped
from lambdalayer.proof.runner import (
    Overlap,
    ProofReport,
    has_native_code,
    layer_modules,
    run_proof,
)
from lambdalayer.proof.target_run import ImportResult, TargetRun
from lambdalayer.targets.runtime_sdk import RuntimeSdk
from lambdalayer.targets.target import Target

__all__ = [
    "ArtifactProof",
    "Overlap",
    "TargetProof",
    "dist_modules",
    "proof_report_of",
    "prove_layer",
    "skipped",
]
# Import names of distributions whose top-level module differs from the name.
_IMPORT_NAMES = {"python-dateutil": "dateutil", "pyyaml": "yaml"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = re.compile(r"No module named '([^']+)'")
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _extension(site: Path, name: str) -> bool:
    """`name` is an extension module directly in `site` (`_x.so`, `_x.cpython-312-….so`)."""
    return (site / f"{name}.so").is_file() or any(site.glob(f"{name}.*.so"))


def dist_modules(site: Path, dist_info: str, files: Sequence[str]) -> list[str]:
    """The top-level modules a distribution installs in `site` that the proof imports, sorted.

    Public names, and underscore-named extension modules (`_cffi_backend`): those load
    on their own. An underscore-named pure-Python module (`_x.py`, `_x/`) is often
    imported by its package first and need not import alone, so it is left out, unless
    the distribution has no public module at all (`_ruamel_yaml` is all that
    ruamel.yaml.clib installs).
    """
    top_level = site / dist_info / "top_level.txt"
    names: set[str] = set()
    if top_level.is_file():
        names.update(top_level.read_text("utf-8", "replace").split())
    else:
        for path in files:
            first, _, rest = path.partition("/")
            if rest and not first.endswith((".dist-info", ".data")):
                if (site / first / "__init__.py").exists() or (site / first).is_dir():
                    names.add(first)
            elif not rest and first.endswith((".py", ".so")):
                names.add(first.split(".", 1)[0])
    # A namespace directory without __init__.py shared by several dists still imports.
    present = {n for n in names if _IDENTIFIER.match(n) and (
        (site / n).is_dir() or (site / f"{n}.py").is_file() or _extension(site, n))}
    public = {n for n in present if not n.startswith("_")}
    if not public:
        return sorted(present)
    return sorted(public | {n for n in present if _extension(site, n)})


def _main_module(dist: str, modules: Sequence[str]) -> str | None:
    wanted = canonicalize_name(dist).replace("-", "_")
    for module in modules:
        if module.lower() == wanted:
            return module
    return modules[0] if len(modules) == 1 else None


def _fix(dist: str, error: str | None, runtime: str) -> str:
    missing = _MISSING.search(error or "")
    if missing:
        top = missing.group(1).split(".")[0]
        return (f"{dist} imports {top}, which is not in the layer: add it: -p {top} "
                "(or the distribution that provides it)")
    if error and ("ELF" in error or "wrong ELF class" in error or "cannot open shared" in error):
        return (f"a native library of {dist} does not load on {runtime}: see the audit "
                "findings, and build for the right --arch/--runtime")
    return f"{dist} does not import on {runtime}: see the error above"


def _proof_of(run: TargetRun, modules: Mapping[str, Sequence[str]],
              judged_failed: bool | None, provided: frozenset[str]) -> TargetProof:
    """One target's proof. `judged_failed`: whether the judges (_judge_requested,
    _judge_dependencies) failed this run; None for a run they did not judge, which
    then fails on any requested module that did not import. A run the judges let
    pass says so, even when a module left out for the runtime could not be tried:
    "import FAILED" above "built" would contradict itself."""
    # Judged on the requested modules only: with test_imports the run imports more
    # (every top-level package), and those are the test report's to judge.
    requested = {m for mods in modules.values() for m in mods}
    if judged_failed is None:
        judged_failed = any(not i.ok for i in run.imports if i.module in requested)
    status: ProofStatus = "skipped" if run.status == "not-run" else (
        "failed" if run.reason or judged_failed else "passed")
    return TargetProof(target=str(run.target), status=status, how=run.how,
                       interpreter=run.interpreter, python_version=run.python_version,
                       reason=run.reason, seconds=run.seconds, glibc=run.glibc,
                       glibc_newer=run.glibc_newer, covered_by=run.covered_by,
                       sandbox=run.sandbox, mapped=run.mapped,
                       left_out=_left_out(run, provided), ran_on=_ran_on(run),
                       runtime_sdk=run.runtime_sdk)


def _ran_on(run: TargetRun) -> str | None:
    """The host's architecture when a pure-Python target ran unemulated on another one
    (an arm64 target on an x86_64 CPython): "natively" would not be true."""
    from lambdalayer.interpreters.find import host_machine

    if run.how != "native" or run.status == "not-run":
        return None
    host = host_machine()
    if host == run.target.machine:
        return None
    return {"aarch64": "arm64"}.get(host, host)


def _left_out(run: TargetRun, provided: frozenset[str]) -> tuple[str, ...]:
    """The modules that could not be tried because what they import was left out with
    --exclude for the runtime to provide (this interpreter has no copy of it)."""
    found = []
    for result in run.imports:
        missing = None if result.ok else _MISSING.search(result.error or "")
        if missing and missing.group(1).split(".")[0] in provided:
            found.append(result.module)
    return tuple(found)


def _wanted(root: Path, version: str, requested: Sequence[str],
            test_imports: Sequence[str] | None) -> list[str]:
    """What one runtime's run imports: the requested modules (sorted), or with
    `test_imports` what `lambdalayer test` of the zip would import for it."""
    if test_imports is None or not requested:
        return list(requested)
    if test_imports:
        return list(test_imports)  # the proof imports, in their order, as `test` runs them
    # Every top-level package, in `test`'s order, so its report is the same. (An extra
    # module that crashes the interpreter before a requested one is reached leaves that
    # one untried by the proof; the test report fails then, exit 6, as `test` would.)
    return sorted({*layer_modules(root, version), *requested}, key=str.lower)


def _runs(root: Path, targets: Sequence[Target],
          modules: Mapping[str, Mapping[str, Sequence[str]]],
          test_imports: Sequence[str] | None,
          configured: ConfiguredInterpreters,
          dependencies: Mapping[str, Mapping[str, Sequence[str]]],
          bytecode_scope: str | None, spare_cores: bool,
          sandbox_required: bool,
          runtime_sdk: Mapping[str, RuntimeSdk] | None = None,
          overlap: Overlap | None = None) -> list[TargetRun]:
    """One proof run per runtime, each importing what that runtime's tree holds: the
    requested modules first (a dependency that crashes the interpreter cannot hide
    them), then the dependencies' top levels."""
    from lambdalayer.proof import early, warmup

    warmup.wait()  # the interpreters and the box, looked up while the build resolved
    early.stop(overlap)  # the tree is final: the helper beside the import takes over
    by_runtime: dict[str, list[Target]] = {}
    for target in targets:
        by_runtime.setdefault(target.runtime.name, []).append(target)
    jobs = []
    for runtime, group in by_runtime.items():
        requested = sorted({m for mods in modules.get(runtime, {}).values() for m in mods},
                           key=str.lower)
        wanted = _wanted(root, group[0].runtime.python_version, requested, test_imports)
        if test_imports is None:
            wanted += sorted({m for mods in dependencies.get(runtime, {}).values()
                              for m in mods} - set(wanted), key=str.lower)
        if wanted:
            jobs.append((group, wanted))
    native = has_native_code(root)  # once for every runtime's run, not once each
    # Each run waits on its own interpreter process: running them side by side turns
    # the proof of a five-runtime layer from the sum of its runs into about the longest.
    cores = os.cpu_count() or 1
    # A lone run leaves a core free for compiling beside it (runner._start_precompile).
    precompile = spare_cores and len(jobs) == 1 and cores > 1
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), cores))) as pool:
        reports = list(pool.map(
            lambda job: run_proof(root, job[0], imports=job[1], fallback_check=False,
                                  configured=configured, bytecode_scope=bytecode_scope,
                                  trim_bytecode=False, precompile=precompile,
                                  sandbox_required=sandbox_required, native=native,
                                  runtime_sdk=runtime_sdk, overlap=overlap),
            jobs))
    return [run for report in reports for run in report.runs]


def provided_modules(excluded: Iterable[str]) -> frozenset[str]:
    """Import names of the distributions left out for the runtime to provide (--exclude)."""
    return frozenset(_IMPORT_NAMES.get(name, name.replace("-", "_")) for name in excluded)


def prove_layer(root: Path, targets: Sequence[Target],
                modules: Mapping[str, Mapping[str, Sequence[str]]],
                provided: frozenset[str] = frozenset(), *,
                test_imports: Sequence[str] | None = None,
                configured: ConfiguredInterpreters = NOTHING_CONFIGURED,
                dependencies: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                versions: Mapping[str, str] | None = None,
                bytecode_scope: str | None = None,
                spare_cores: bool = False, own: frozenset[str] = frozenset(),
                sandbox_required: bool = False,
                runtime_sdk: Mapping[str, RuntimeSdk] | None = None,
                overlap: Overlap | None = None) -> ArtifactProof:
    """Import `modules` (runtime -> distribution -> its top-level modules) from `root`.

    A distribution fails when its main module fails (or, with no main module,
    when none of its modules imports); other failures are warnings. A missing
    module in `provided` (left out with --exclude: the runtime ships it) is a
    warning too, since this interpreter does not have the runtime's copy.

    `test_imports` (for `build --test-report`) makes each run import what `lambdalayer
    test` of the zip would: these modules when given (the proof imports, which
    `modules` must hold), else every top-level package of the layer, in `test`'s
    order. The proof above still judges only `modules`; the runs are kept as
    `test_runs`, the test report (proof_report_of).

    `dependencies` (same shape) are the layer's other distributions: their top levels
    are imported after `modules`. A dependency failing because another distribution of
    the layer lacks what it imports (`versions` names both releases) fails the proof
    and is listed in `conflicts`; any other dependency failure (an optional extra, a
    module meant for another platform) is a warning.

    `own`: the names in `modules` that are your own code ("your code (--source src)"):
    each of their modules must import (no main module stands for the others), and
    `own_code` in the result lists what was imported of them.

    `spare_cores`: nothing else runs beside this proof (one layer), so a lone native run
    may compile the layer's modules on another core meanwhile (run_proof's `precompile`).

    `sandbox_required` (`--proof-sandbox required`): run_proof raises SandboxUnavailable
    rather than run the layer's code outside a sandbox.

    `runtime_sdk` (runtime name -> the SDK that runtime ships, for a layer that left it
    out): each run has it after the layer, so what needs boto3 is imported, not skipped.

    `overlap` (runner.Overlap): the caller works while the proof runs; what only fills
    the bytecode cache is left for it to close.
    """
    if not any(m for per_runtime in modules.values() for m in per_runtime.values()):
        return skipped("nothing to import (no top-level module in the requested "
                       "distributions or your code)")
    dependencies = dependencies or {}
    versions = versions or {}
    all_runs = _runs(root, targets, modules, test_imports, configured, dependencies,
                     bytecode_scope, spare_cores, sandbox_required, runtime_sdk, overlap)
    if overlap is not None:
        overlap.stored(sum(run.bytecode_stored for run in all_runs))  # trimmed on close
    elif any(run.bytecode_stored for run in all_runs):
        from lambdalayer.common.cache import trim_proof_bytecode

        # Walking the cache costs about 0.3 s: once per layer, and only after it grew.
        trim_proof_bytecode()
    warnings, failures, conflicts, judged = _judge(root, all_runs, modules, dependencies,
                                                   provided, versions, own)
    proofs = tuple(_proof_of(run, modules.get(run.target.runtime.name, {}),
                             judged.get(str(run.target)), provided)
                   for run in all_runs)
    ran = [p for p in proofs if p.status != "skipped"]
    status: ProofStatus = "failed" if failures else ("passed" if ran else "skipped")
    not_run = [p for p in proofs if p.status == "skipped"]
    reason = "; ".join(f"{p.target}: {p.reason}" for p in not_run) or None
    interpreter = ", ".join(dict.fromkeys(
        f"{p.interpreter} ({p.how})" for p in ran if p.interpreter and not p.covered_by)) or None
    return ArtifactProof(status=status, reason=reason, interpreter=interpreter, targets=proofs,
                      warnings=tuple(warnings), failures=tuple(failures),
                      test_runs=() if test_imports is None else tuple(all_runs),
                      conflicts=tuple(dict.fromkeys(conflicts)),
                      own_code=_own_code(modules, own) if ran else ())


def _judge(root: Path, runs: Sequence[TargetRun],
           modules: Mapping[str, Mapping[str, Sequence[str]]],
           dependencies: Mapping[str, Mapping[str, Sequence[str]]], provided: frozenset[str],
           versions: Mapping[str, str], own: frozenset[str]
           ) -> tuple[list[str], list[str], list[Conflict], dict[str, bool]]:
    """Every run that ran, judged: (warnings, failures, conflicts, and per target whether
    the judges failed it)."""
    warnings: list[str] = []
    failures: list[str] = []
    conflicts: list[Conflict] = []
    judged: dict[str, bool] = {}  # target -> whether the judges failed it
    for run in runs:
        if run.status == "not-run" or run.covered_by:
            continue
        if run.reason:  # the interpreter itself failed
            failures.append(f"{run.target}: {run.reason}")
            continue
        before = len(failures)
        by_module: dict[str, ImportResult] = {i.module: i for i in run.imports}
        runtime = run.target.runtime.name
        requested = modules.get(runtime, {})
        owners = {m: dist for group in (dependencies.get(runtime, {}), requested)
                  for dist, mods in group.items() for m in mods}
        # Where the conflict analysis reads the provider's source (conflicts.defines).
        roots = (root / "python" / "lib" / f"python{run.target.runtime.python_version}"
                 / "site-packages", root / "python")
        _judge_requested(run, requested, provided, owners, versions, by_module, warnings,
                         failures, conflicts, own, roots)
        _judge_dependencies(run, dependencies.get(runtime, {}), requested, owners, versions,
                            by_module, warnings, failures, conflicts, roots)
        judged[str(run.target)] = len(failures) > before
    return warnings, failures, conflicts, judged


def _own_code(modules: Mapping[str, Mapping[str, Sequence[str]]],
              own: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, its modules) for each piece of your own code the proof imported."""
    found: dict[str, set[str]] = {}
    for per_runtime in modules.values():
        for name, mods in per_runtime.items():
            if name in own:
                found.setdefault(name, set()).update(mods)
    return tuple((name, tuple(sorted(mods, key=str.lower))) for name, mods in found.items())


def _where(result: ImportResult) -> str:
    """The innermost layer file of a failed import's traceback (`/opt/python/x.py, line 3`)."""
    frames = _FRAME.findall(result.traceback or "")
    inside = [f"{path}, line {line}" for path, line in frames if path.startswith("/opt/")]
    return inside[-1] if inside else (result.origin or "")


def _judge_own(run: TargetRun, name: str, bad: Sequence[ImportResult],
               provided: frozenset[str], warnings: list[str], failures: list[str]) -> None:
    """Your own code: every module that fails to import is a failure (nothing optional)."""
    for result in bad:
        text = f"{run.target}: import {result.module} ({name}): {result.error}"
        missing = _MISSING.search(result.error or "")
        if missing and missing.group(1).split(".")[0] in provided:
            warnings.append(f"{text} — left out with --exclude for the runtime to "
                            "provide; not tried here")
            continue
        where = _where(result)
        fix = (_fix(name, result.error, run.target.runtime.name) if missing else
               "change your code where the error above points: it would fail the same "
               "way on Lambda")
        failures.append(text + (f"\n    at: {where}" if where else "") + f"\n    fix: {fix}")


def _judge_requested(run: TargetRun, requested: Mapping[str, Sequence[str]],
                     provided: frozenset[str], owners: Mapping[str, str],
                     versions: Mapping[str, str], by_module: Mapping[str, ImportResult],
                     warnings: list[str], failures: list[str],
                     conflicts: list[Conflict], own: frozenset[str] = frozenset(),
                     roots: Sequence[Path] = ()) -> None:
    """A requested distribution fails when its main module fails (or, with no main
    module, when none imports); a module left out for the runtime, or a secondary one
    of a distribution whose main module imports, is a warning. Your own code (`own`)
    fails on any module (_judge_own)."""
    for dist, mods in requested.items():
        results = [by_module[m] for m in mods if m in by_module]
        bad = [r for r in results if not r.ok]
        if not bad:
            continue
        if dist in own:
            _judge_own(run, dist, bad, provided, warnings, failures)
            continue
        main = _main_module(dist, list(mods))
        main_ok = (by_module[main].ok if main is not None and main in by_module
                   else main is None and len(bad) < len(results))
        for result in bad:
            text = f"{run.target}: import {result.module} ({dist}): {result.error}"
            missing = _MISSING.search(result.error or "")
            conflict = find_conflict(dist, result.error, owners, versions, roots)
            if missing and missing.group(1).split(".")[0] in provided:
                warnings.append(f"{text} — left out with --exclude for the runtime to "
                                "provide; not tried here")
            elif main_ok and result.module != main:
                warnings.append(f"{text} — {dist}'s main module imports; this one "
                                "probably needs an optional extra")
            elif conflict is not None:
                conflicts.append(conflict)
                failures.append(f"{text}\n    cause: {conflict.describe()}")
            else:
                failures.append(f"{text}\n    fix: "
                                f"{_fix(dist, result.error, run.target.runtime.name)}")


def _judge_dependencies(run: TargetRun, dependencies: Mapping[str, Sequence[str]],
                        requested: Mapping[str, Sequence[str]], owners: Mapping[str, str],
                        versions: Mapping[str, str], by_module: Mapping[str, ImportResult],
                        warnings: list[str], failures: list[str],
                        conflicts: list[Conflict], roots: Sequence[Path] = ()) -> None:
    """A dependency's top level that fails against another distribution of the layer is
    a failure; any other failure of a dependency is a warning, as optional parts are."""
    judged = {m for mods in requested.values() for m in mods}
    for dist, mods in dependencies.items():
        if dist in requested:
            continue
        for module in mods:
            result = by_module.get(module)
            if result is None or result.ok or module in judged:
                continue
            text = f"{run.target}: import {module} ({dist} {versions.get(dist, '')}".rstrip()
            text += f", a dependency in the layer): {result.error}"
            conflict = find_conflict(dist, result.error, owners, versions, roots)
            if conflict is None:
                warnings.append(f"{text} — the requested packages import; this part of "
                                f"{dist} probably needs something optional")
                continue
            conflicts.append(conflict)
            failures.append(f"{text}\n    cause: {conflict.describe()}")


def proof_report_of(proof: ArtifactProof, source: Path, targets: Sequence[Target],
                    imports_from: str) -> ProofReport | None:
    """`lambdalayer test`'s report of `source` (the zip of the proven tree) for `targets`,
    made from the proof's test_runs; None when those do not stand for exactly these
    targets (no test_runs, or a runtime the proof had nothing to import for): then the
    zip must be tested itself."""
    runs = proof.test_runs
    if [str(run.target) for run in runs] != [str(target) for target in targets]:
        return None
    return ProofReport(source=str(source), runs=runs, imports_from=imports_from)
