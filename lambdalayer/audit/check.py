"""The audit's entry points: a layer tree, a path (directory or zip), or a layer ARN.

`audit_layer` is what `build` calls before zipping; `check_path` and
`check_layer_arn` are what `lambdalayer check` calls. None of them print.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lambdalayer.audit import rules
from lambdalayer.audit.elf import Classified, ElfError, ElfInfo, Kind, classify, read_elf
from lambdalayer.audit.findings import AuditReport, Finding, merge_findings
from lambdalayer.audit.names import collisions
from lambdalayer.audit.syslibs import load_base_image_libs
from lambdalayer.audit.tree import LayerFile, LayerTree, scan_layer
from lambdalayer.audit.zipread import ExtractedZip, safe_extract
from lambdalayer.errors import AwsError, UsageError
from lambdalayer.targets.target import Target

# A layer zip is at most ~250 MB unzipped, so zipped it is smaller still.
MAX_DOWNLOAD = 512 << 20
DOWNLOAD_DEADLINE = 600.0  # seconds for the whole download (a layer is at most 50 MB zipped)


def audit_layer(root: Path, targets: list[Target], *,
                allow: frozenset[str] = frozenset()) -> AuditReport:
    """Audit the layer tree at `root` (it holds python/..., or is itself a python/ dir)
    for every target; identical findings from several targets are merged."""
    return audit_tree(scan_layer(root), targets, allow=allow)


def audit_tree(tree: LayerTree, targets: list[Target], *, allow: frozenset[str] = frozenset(),
               extra: Iterable[Finding] = (), zipped_size: int | None = None) -> AuditReport:
    """`audit_layer` on an already scanned tree, adding `extra` findings (from the zip)."""
    if not targets:
        raise UsageError("Nothing to check against: give at least one --runtime and --arch.")
    findings = list(extra)
    classified: dict[str, Classified | OSError] = {}
    parsed: dict[str, ElfInfo | ElfError] = {}
    basenames: dict[str, list[str]] = {}
    for rel in sorted(tree.files) + sorted(tree.links):
        basenames.setdefault(posixpath.basename(rel), []).append(rel)
    syslibs = load_base_image_libs()
    for target in targets:
        ctx = rules.Context(target=target, tree=tree, syslibs=syslibs[target.runtime.os.key])
        files = tree.for_target(target)
        missing = rules.python_dir(ctx, files)
        if missing is not None:
            findings.append(missing)
        elves: list[tuple[LayerFile, ElfInfo]] = []
        for layer_file in files:
            kind = classified.get(layer_file.rel)
            if kind is None:
                try:
                    kind = classify(layer_file.path)
                except OSError as exc:
                    kind = exc
                classified[layer_file.rel] = kind
            if isinstance(kind, OSError):
                findings.append(ctx.finding(
                    layer_file, "unreadable-file", "error",
                    f"Cannot read this file here ({kind.strerror}); Lambda may not either. "
                    "Make it readable (chmod o+r) and check again."))
                continue
            if kind.kind in (Kind.MACHO, Kind.PE):
                findings.append(rules.foreign_binary(ctx, layer_file, kind))
                continue
            if kind.kind is Kind.ELF:
                info = parsed.get(layer_file.rel)
                if info is None:
                    try:
                        info = read_elf(layer_file.path)
                    except ElfError as exc:
                        info = exc
                    except OSError as exc:
                        info = ElfError(str(exc))
                    parsed[layer_file.rel] = info
                if isinstance(info, ElfError):
                    findings.append(ctx.finding(
                        layer_file, "corrupt-elf", "error",
                        f"Starts like a Linux binary but cannot be parsed ({info}); the loader "
                        "will reject it too. Reinstall the package that ships it."))
                    continue
                wrong = rules.wrong_machine(ctx, layer_file, info)
                if wrong is not None:
                    findings.append(wrong)
                    continue
                elves.append((layer_file, info))
            name_finding = rules.extension_name(ctx, layer_file)
            if name_finding is not None:
                findings.append(name_finding)
        # Library resolution needs every ELF file of the target (who loads whom).
        resolved = rules.resolve_needed(ctx, elves)
        for layer_file, info in elves:
            findings.extend(rules.symbol_versions(ctx, layer_file, info, resolved[layer_file.rel]))
            findings.extend(rules.missing_libraries(ctx, layer_file, info,
                                                    resolved[layer_file.rel], basenames))
        for dir_name, wheel in tree.wheel_files(files):
            tag_finding = rules.wheel_tags(ctx, dir_name, wheel)
            if tag_finding is not None:
                findings.append(tag_finding)
            findings.extend(rules.import_time_libraries(ctx, dir_name, wheel, basenames))
    findings.extend(_name_collisions(tree))
    for link, raw in sorted(tree.escaping_links.items()):
        findings.append(Finding(
            severity="error", code="unsafe-path", path=link, package=tree.package_of(link),
            message=f"A symlink to {raw!r}, outside the layer: on Lambda it points at the "
                    "runtime's own files or at nothing. Replace it with the file it names."))
    unzipped = tree.unzipped_size
    if unzipped > rules.MAX_UNZIPPED:
        findings.append(Finding(
            severity="error", code="unzipped-too-large", path="",
            message=f"The layer unzips to {unzipped:,} bytes; Lambda allows "
                    f"{rules.MAX_UNZIPPED:,} for a function and all its layers together, so "
                    "it cannot be attached. Drop packages you do not import, strip the .so "
                    "files and remove tests/ directories (lambdalayer build can slim), or "
                    "split it into several layers for different functions."))
    return AuditReport(findings=merge_findings(findings), allow=allow, files=len(tree.files),
                       unzipped_size=unzipped, zipped_size=zipped_size,
                       targets=tuple(str(t) for t in targets))


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


def check_path(source: Path, targets: list[Target], *,
               allow: frozenset[str] = frozenset()) -> AuditReport:
    """Audit a layer directory (or its python/ directory) or a layer zip."""
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
        return audit_tree(tree, targets, allow=allow, extra=modes)
    if not source.exists():
        raise UsageError(f"{source} does not exist.",
                         hint="Give a layer directory, a layer .zip or a layer version ARN.")
    if not source.is_file():
        raise UsageError(f"{source} is neither a directory nor a zip file.")
    with tempfile.TemporaryDirectory(prefix="lambdalayer-check-") as temporary:
        extracted = safe_extract(source, Path(temporary))
        tree = scan_layer(extracted.root)
        return audit_tree(tree, targets, allow=allow, extra=_zip_findings(extracted, tree),
                          zipped_size=extracted.zipped_size)


def _zip_findings(extracted: ExtractedZip, tree: LayerTree) -> list[Finding]:
    findings = [
        Finding(severity=p.severity, code=p.code, path=p.name, message=p.message,
                package=tree.package_of(p.name))
        for p in extracted.problems
    ]
    if extracted.zipped_size > rules.MAX_DIRECT_ZIP:
        findings.append(Finding(
            severity="warning", code="zipped-too-large", path="",
            message=f"The zip is {extracted.zipped_size:,} bytes, over the "
                    f"{rules.MAX_DIRECT_ZIP:,} Lambda accepts in a direct upload: publishing "
                    "it needs an S3 bucket (lambdalayer publish uploads through S3 for you)."))
    if extracted.unzipped_size > rules.MAX_UNZIPPED and tree.unzipped_size <= rules.MAX_UNZIPPED:
        # Entries that were not extracted still count for Lambda.
        findings.append(Finding(
            severity="error", code="unzipped-too-large", path="",
            message=f"The zip's entries add up to {extracted.unzipped_size:,} bytes unzipped; "
                    f"Lambda allows {rules.MAX_UNZIPPED:,} for a function and its layers."))
    return findings


def check_layer_arn(arn: str, targets: list[Target], *, allow: frozenset[str] = frozenset(),
                    region: str | None = None, profile: str | None = None,
                    endpoint_url: str | None = None) -> AuditReport:
    """Download a published layer version (get_layer_version_by_arn's Content.Location)
    and audit it. AwsError when this account may not read it."""
    from lambdalayer.aws.arns import parse_layer_arn

    parsed = parse_layer_arn(arn)
    if parsed is None or parsed.version is None:
        raise UsageError(f"{arn!r} is not a layer version ARN.",
                         hint="Expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION.")
    location = _layer_location(str(parsed), region=region or parsed.region, profile=profile,
                               endpoint_url=endpoint_url, owner=parsed.account,
                               name=parsed.name, version=parsed.version)
    with tempfile.TemporaryDirectory(prefix="lambdalayer-layer-") as temporary:
        archive = Path(temporary) / f"{parsed.name}-{parsed.version}.zip"
        _download(location, archive, arn=str(parsed))
        return check_path(archive, targets, allow=allow)


def _layer_location(arn: str, *, region: str, profile: str | None, endpoint_url: str | None,
                    owner: str, name: str, version: int) -> str:
    # boto3 costs ~250 ms to import and set up (DESIGN.md §2): only this path pays.
    import botocore.exceptions

    from lambdalayer.aws.client import error_code, make_client, translate_aws_error

    client = make_client("lambda", region=region, profile=profile, endpoint_url=endpoint_url)
    try:
        response = client.get_layer_version_by_arn(Arn=arn)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if error_code(exc) in {"AccessDeniedException", "AccessDenied"}:
            raise AwsError(
                f"This account cannot read the layer {arn}: AWS denied "
                "lambda:GetLayerVersion.",
                hint=f"A layer is private to its owner (account {owner}) until the owner "
                     "grants access: aws lambda add-layer-version-permission --layer-name "
                     f"{name} --version-number {version} --statement-id allow-reader "
                     "--action lambda:GetLayerVersion --principal YOUR_ACCOUNT_ID "
                     f"--region {region}. Or ask the owner for the zip and check that.",
            ) from exc
        raise translate_aws_error(exc, region=region,
                                  resource=f"layer version {arn}") from exc
    location = response.get("Content", {}).get("Location")
    if not isinstance(location, str) or not location:
        raise AwsError(f"AWS returned no download location for {arn}.")
    return location


def _download(url: str, destination: Path, *, arn: str) -> None:
    """Stream the presigned URL to `destination`, capped at MAX_DOWNLOAD bytes."""
    import http.client
    import time
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise AwsError(f"AWS returned an unexpected download location for {arn}.")
    # A total deadline, not only a per-read timeout: a server trickling a byte a
    # minute must not hold `check` for hours.
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    try:
        with urllib.request.urlopen(url, timeout=60) as response, destination.open("wb") as out:
            copied = 0
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                copied += len(chunk)
                if copied > MAX_DOWNLOAD:
                    raise UsageError(f"The layer {arn} is larger than {MAX_DOWNLOAD:,} bytes; "
                                     "no Lambda layer can be that big.")
                if time.monotonic() > deadline:
                    raise AwsError(f"Downloading the layer {arn} took longer than "
                                   f"{DOWNLOAD_DEADLINE:.0f} s; stopped.",
                                   hint="Try again on a faster connection.")
                out.write(chunk)
            expected = response.headers.get("Content-Length", "")
            if expected.isdigit() and copied < int(expected):
                raise http.client.IncompleteRead(b"", int(expected) - copied)
    except (urllib.error.URLError, TimeoutError, ConnectionError,
            http.client.HTTPException) as exc:  # IncompleteRead, RemoteDisconnected...
        raise AwsError(f"Could not download the layer {arn}: {exc}",
                       hint="The download link is valid for 10 minutes; try again.") from exc
    except OSError as exc:
        raise UsageError(f"Could not save the layer {arn} to {destination}: {exc}") from exc


def download_layer(url: str, destination: Path, *, arn: str) -> None:
    """Save a layer version's Content.Location (http/https) to `destination`, capped."""
    _download(url, destination, arn=arn)


def looks_like_layer_arn(text: str) -> bool:
    """True for anything shaped like a Lambda layer ARN (the CLI's dispatch)."""
    return text.startswith("arn:") and ":lambda:" in text and ":layer:" in text


__all__ = ["audit_layer", "audit_tree", "check_layer_arn", "check_path", "download_layer",
           "looks_like_layer_arn"]
