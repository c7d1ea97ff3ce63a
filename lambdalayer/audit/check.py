"""The audit's entry points: a layer tree, or a path (directory or zip).

`audit_layer` is what `build` calls before zipping; `check_path` is what
`lambdalayer check` calls (a layer ARN is downloaded first by
aws/download.check_layer_arn). None of them print.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from lambdalayer.audit import rules
from lambdalayer.audit.closure import classify_load, import_closure, may_be_on_demand
from lambdalayer.audit.elf import (
    Classified,
    ElfError,
    ElfInfo,
    ElfOverBudget,
    Kind,
    classify,
    read_elf,
)
from lambdalayer.audit.findings import AuditReport, Finding, merge_findings
from lambdalayer.audit.names import collisions
from lambdalayer.audit.optional import mark_optional
from lambdalayer.audit.syslibs import load_base_image_libs
from lambdalayer.audit.tree import LayerFile, LayerTree, scan_layer
from lambdalayer.common.budget import PER_RUN, Budget
from lambdalayer.common.errors import UsageError
from lambdalayer.common.limits import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT
from lambdalayer.common.zipread import ExtractedZip, safe_extract
from lambdalayer.targets.target import Target

_T = TypeVar("_T")

# A layer zip is at most ~250 MB unzipped, so zipped it is smaller still.


def audit_layer(root: Path, targets: list[Target], *, allow: frozenset[str] = frozenset(),
                layer: str | None = None, mapped: frozenset[str] = frozenset()) -> AuditReport:
    """Audit the layer tree at `root` (it holds python/..., or is itself a python/ dir)
    for every target; identical findings from several targets are merged. `layer` is
    the name the printed fixes rebuild (default: the directory's name). `mapped`: layer
    paths the import proof saw loaded, which join the import closure (closure.py)."""
    return audit_tree(scan_layer(root), targets, allow=allow,
                      layer=layer or advice_name(root), mapped=mapped)


def advice_name(source: Path) -> str:
    """A layer name for the fixes we print (`lambdalayer build NAME -p ...`) when no
    manifest names the layer: the zip's or directory's name, as a valid layer name."""
    stem = source.stem if source.suffix == ".zip" else source.name
    if stem == "python" and source.parent.name:  # ./python: the layer is its parent
        stem = source.parent.name
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:140]
    return name or "layer"


def audit_tree(tree: LayerTree, targets: list[Target], *, allow: frozenset[str] = frozenset(),
               extra: Iterable[Finding] = (), zipped_size: int | None = None,
               layer: str = "layer", mapped: frozenset[str] = frozenset()) -> AuditReport:
    """`audit_layer` on an already scanned tree, adding `extra` findings (from the zip)."""
    if not targets:
        raise UsageError("Nothing to check against: give at least one --runtime and --arch.")
    findings = list(extra)
    classified: dict[str, Classified | OSError] = {}
    parsed: dict[str, ElfInfo | ElfError] = {}
    budget = Budget(PER_RUN, scope="run")  # every ELF file of this audit draws on it
    basenames: dict[str, list[str]] = {}
    for rel in sorted(tree.files) + sorted(tree.links):
        basenames.setdefault(posixpath.basename(rel), []).append(rel)
    syslibs = load_base_image_libs()
    for target in targets:
        ctx = rules.Context(target=target, tree=tree, syslibs=syslibs[target.runtime.os.key],
                            layer=layer)
        findings.extend(_target_findings(ctx, tree, classified, parsed, basenames, budget,
                                         mapped))
    findings.extend(_name_collisions(tree))
    findings.extend(_layer_findings(tree))
    return AuditReport(findings=merge_findings(findings), allow=allow, files=len(tree.files),
                       unzipped_size=tree.unzipped_size, zipped_size=zipped_size,
                       targets=tuple(str(t) for t in targets),
                       pins=tuple(rules.installed_pins(tree)))


def _target_findings(ctx: rules.Context, tree: LayerTree,
                     classified: dict[str, Classified | OSError],
                     parsed: dict[str, ElfInfo | ElfError],
                     basenames: dict[str, list[str]], budget: Budget,
                     mapped: frozenset[str] = frozenset()) -> list[Finding]:
    """Every finding for one target (`classified` and `parsed` are shared by the targets)."""
    findings: list[Finding] = []
    files = tree.for_target(ctx.target)
    missing = rules.python_dir(ctx, files)
    if missing is not None:
        findings.append(missing)
    start = len(findings)
    elves: list[tuple[LayerFile, ElfInfo]] = []
    for layer_file in files:
        found, info = _file_findings(ctx, layer_file, classified, parsed, budget)
        findings.extend(found)
        if info is not None:
            elves.append((layer_file, info))
    # Library resolution needs every ELF file of the target (who loads whom).
    resolved = rules.resolve_needed(ctx, elves)
    for layer_file, info in elves:
        findings.extend(rules.symbol_versions(ctx, layer_file, info, resolved[layer_file.rel]))
        findings.extend(rules.missing_libraries(ctx, layer_file, info,
                                                resolved[layer_file.rel], basenames))
    # What importing the extension modules maps is an error; the rest only on demand,
    # unless the proof saw it mapped (a dlopen at import time).
    static = import_closure(ctx.target, files, resolved)
    closure = import_closure(ctx.target, files, resolved, mapped) if mapped else static
    findings[start:] = classify_load(
        findings[start:], closure,
        frozenset(f.rel for f in files if may_be_on_demand(f, ctx.target)),
        ctx.target.runtime.os.name, missed=closure - static)
    # Parts a package loads only for a feature it can do without (optional_parts.toml).
    findings[start:] = mark_optional(findings[start:], tree, ctx.target, mapped=mapped)
    for dir_name, wheel in tree.wheel_files(files):
        tag_finding = rules.wheel_tags(ctx, dir_name, wheel)
        if tag_finding is not None:
            findings.append(tag_finding)
        findings.extend(rules.import_time_libraries(ctx, dir_name, wheel, basenames))
    return findings


def _once(memo: dict[str, _T], key: str, compute: Callable[[], _T]) -> _T:
    """`compute()` once per key: every target of a layer shares one read of each file."""
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _classify(path: Path) -> Classified | OSError:
    try:
        return classify(path)
    except OSError as exc:
        return exc


def _read(path: Path, budget: Budget) -> ElfInfo | ElfError:
    try:
        return read_elf(path, budget.child())
    except ElfError as exc:
        return exc
    except OSError as exc:
        return ElfError(str(exc))


def _file_findings(ctx: rules.Context, layer_file: LayerFile,
                   classified: dict[str, Classified | OSError],
                   parsed: dict[str, ElfInfo | ElfError], budget: Budget
                   ) -> tuple[list[Finding], ElfInfo | None]:
    """One file's findings, and its ELF information when the target can load it."""
    kind = _once(classified, layer_file.rel, lambda: _classify(layer_file.path))
    if isinstance(kind, OSError):
        return [ctx.finding(
            layer_file, "unreadable-file", "error",
            f"Cannot read this file here ({kind.strerror}); Lambda may not either. "
            "Make it readable (chmod o+r) and check again.")], None
    if kind.kind in (Kind.MACHO, Kind.PE):
        return [rules.foreign_binary(ctx, layer_file, kind)], None
    elf: ElfInfo | None = None
    if kind.kind is Kind.ELF:
        info = _once(parsed, layer_file.rel, lambda: _read(layer_file.path, budget))
        if isinstance(info, ElfOverBudget):
            return [ctx.finding(
                layer_file, "unreadable-elf", "error",
                f"Parsing this Linux binary stopped at lambdalayer's limit ({info}); "
                "no real library comes near it, so the file is corrupt or crafted. "
                "Reinstall the package that ships it (docs/sandbox-and-limits.md).")], None
        if isinstance(info, ElfError):
            return [ctx.finding(
                layer_file, "corrupt-elf", "error",
                f"Starts like a Linux binary but cannot be parsed ({info}); the loader "
                "will reject it too. Reinstall the package that ships it.")], None
        wrong = rules.wrong_machine(ctx, layer_file, info)
        if wrong is not None:
            return [wrong], None
        elf = info
    name_finding = rules.extension_name(ctx, layer_file)
    return ([] if name_finding is None else [name_finding]), elf


def _layer_findings(tree: LayerTree) -> list[Finding]:
    """What is wrong with the layer whatever the target: symlinks out, too large unzipped."""
    findings = []
    for link, raw in sorted(tree.escaping_links.items()):
        findings.append(Finding(
            severity="error", code="unsafe-path", path=link, package=tree.package_of(link),
            message=f"A symlink to {raw!r}, outside the layer: on Lambda it points at the "
                    "runtime's own files or at nothing. Replace it with the file it names."))
    unzipped = tree.unzipped_size
    if unzipped > UNZIPPED_LIMIT:
        findings.append(Finding(
            severity="error", code="unzipped-too-large", path="",
            message=f"The layer unzips to {unzipped:,} bytes; Lambda allows "
                    f"{UNZIPPED_LIMIT:,} for a function and all its layers together, so "
                    "it cannot be attached. Drop packages you do not import, strip the .so "
                    "files and remove tests/ directories (lambdalayer build can slim), or "
                    "split it into several layers for different functions."))
    for record, why in sorted(tree.unreadable_records().items()):
        findings.append(Finding(
            severity="warning", code="unreadable-record", path=record,
            message=f"This RECORD was not read: {why}. No real package comes near "
                    "lambdalayer's limit, so it is corrupt or crafted; its files are counted "
                    "without a package. Reinstall the package (docs/trust.md)."))
    return findings


def _name_collisions(tree: LayerTree) -> list[Finding]:
    """Paths one file on macOS/Windows (case or Unicode form only differ): refused, since the
    layer then depends on the host that built or extracted it (audit/names.py)."""
    names = set(tree.files) | set(tree.links) | tree.recorded_paths() | tree.twins
    return [Finding(
        severity="error", code="case-collision", path=group[0], package=tree.package_of(group[0]),
        message=f"{' and '.join(repr(n) for n in group)} differ only in letter case or Unicode "
                "form: on macOS and Windows they are one file, so a layer built or extracted "
                "there keeps only one of them and differs from a Linux build. Rename one; "
                "--allow case-collision accepts it for layers only ever built on Linux.")
        for group in collisions(names)]


def one_fix_per_layer(report: AuditReport, layer: str, pins: Iterable[str],
                      targets: list[Target]) -> AuditReport:
    """`report` with every rebuild fix (a build of one package each) replaced by one
    command rebuilding everything the layer holds (`pins`, NAME==VERSION) for `targets`:
    a fix per package would rebuild the layer with that package alone."""
    prefix = f"lambdalayer build {layer} "
    if not any(f.fix and f.fix.startswith(prefix) for f in report.findings):
        return report
    runtimes = dict.fromkeys(t.runtime.name for t in targets)
    archs = dict.fromkeys(t.arch for t in targets)
    fix = " ".join([prefix.rstrip(), *(f"-p {pin}" for pin in pins),
                    *(f"--runtime {r}" for r in runtimes), *(f"--arch {a}" for a in archs)])
    findings = [dataclasses.replace(f, fix=fix, message=f.message.replace(f.fix, fix))
                if f.fix and f.fix.startswith(prefix) else f for f in report.findings]
    return dataclasses.replace(report, findings=findings)


def check_path(source: Path, targets: list[Target], *, allow: frozenset[str] = frozenset(),
               layer: str | None = None, pins: Iterable[str] | None = None) -> AuditReport:
    """Audit a layer directory (or its python/ directory) or a layer zip; `layer` names
    the layer in the fixes printed (default: from the file name). The fixes rebuild the
    whole layer: `pins` (NAME==VERSION, from its manifest), else what its dist-info says."""
    report = _check_path(source, targets, allow=allow, layer=layer or advice_name(source))
    return one_fix_per_layer(report, layer or advice_name(source),
                             pins if pins is not None else report.pins, targets)


def _check_path(source: Path, targets: list[Target], *, allow: frozenset[str],
                layer: str) -> AuditReport:
    if source.is_dir():
        tree = scan_layer(source)
        modes = [
            Finding(severity="warning", code="not-world-readable", path=f.rel,
                    package=tree.package_of(f.rel),
                    message=f"Mode {f.mode:04o}: a zip made from this directory by a tool that "
                            "keeps modes gives Lambda a file it cannot read (PermissionError). "
                            "chmod -R o+rX the tree, or zip it with lambdalayer build.")
            for f in tree.files.values() if not f.mode & 0o004
        ]
        return audit_tree(tree, targets, allow=allow, extra=modes, layer=layer)
    if not source.exists():
        raise UsageError(f"{source} does not exist.",
                         hint="Give a layer directory, a layer .zip or a layer version ARN.")
    if not source.is_file():
        raise UsageError(f"{source} is neither a directory nor a zip file.")
    with tempfile.TemporaryDirectory(prefix="lambdalayer-check-") as temporary:
        extracted = safe_extract(source, Path(temporary))
        tree = scan_layer(extracted.root)
        return audit_tree(tree, targets, allow=allow, extra=_zip_findings(extracted, tree),
                          zipped_size=extracted.zipped_size, layer=layer)


def _zip_findings(extracted: ExtractedZip, tree: LayerTree) -> list[Finding]:
    findings = [
        Finding(severity=p.severity, code=p.code, path=p.name, message=p.message,
                package=tree.package_of(p.name))
        for p in extracted.problems
    ]
    if extracted.zipped_size > DIRECT_UPLOAD_LIMIT:
        findings.append(Finding(
            severity="warning", code="zipped-too-large", path="",
            message=f"The zip is {extracted.zipped_size:,} bytes, over the "
                    f"{DIRECT_UPLOAD_LIMIT:,} Lambda accepts in a direct upload: publishing "
                    "it needs an S3 bucket (lambdalayer publish uploads through S3 for you)."))
    if extracted.unzipped_size > UNZIPPED_LIMIT and tree.unzipped_size <= UNZIPPED_LIMIT:
        # Entries that were not extracted still count for Lambda.
        findings.append(Finding(
            severity="error", code="unzipped-too-large", path="",
            message=f"The zip's entries add up to {extracted.unzipped_size:,} bytes unzipped; "
                    f"Lambda allows {UNZIPPED_LIMIT:,} for a function and its layers."))
    return findings


def looks_like_layer_arn(text: str) -> bool:
    """True for anything shaped like a Lambda layer ARN (the CLI's dispatch)."""
    return text.startswith("arn:") and ":lambda:" in text and ":layer:" in text


__all__ = ["audit_layer", "audit_tree", "check_path", "looks_like_layer_arn"]
