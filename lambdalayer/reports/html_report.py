"""`lambdalayer report` / `build --report`: one self-contained HTML page about a layer.

A treemap of the unzipped size (package -> directory -> file; zipped sizes on
hover), the targets, the audit findings, what --slim/--strip/--exclude
would save, each distribution's licence, and the known vulnerabilities when a
`--vulns` run or the manifest (`build --vulns`) has them. Everything is inline
(CSS, SVG, a few lines of JS): the file opens offline and makes no request. The
layout is computed here, so the labels are in the SVG itself.
"""

from __future__ import annotations

import html
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalayer.archive.manifest import Manifest, manifest_path_for, read_manifest
from lambdalayer.audit.check import audit_layer
from lambdalayer.audit.findings import Finding
from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.common.errors import UsageError
from lambdalayer.common.fileio import file_digests, write_atomic
from lambdalayer.common.units import format_size
from lambdalayer.common.zipread import safe_extract
from lambdalayer.reports.sizing import (
    PackageSize,
    SavingsEstimate,
    estimate_savings,
    measure_layer,
)
from lambdalayer.reports.treemap import Box, SizeNode, size_tree, squarify
from lambdalayer.targets.target import Target, expand_targets

WIDTH, HEIGHT = 1200, 640
# The page may load nothing: no network, whatever a viewer's browser would allow.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


@dataclass(frozen=True, kw_only=True)
class LayerReport:
    """What the page shows. `zipped_total` is None for a directory (no zip)."""

    source: str
    name: str
    targets: tuple[str, ...]
    total: int
    zipped_total: int | None
    packages: tuple[PackageSize, ...]
    findings: tuple[Finding, ...]
    findings_known: bool  # False when there were no targets to audit for
    savings: SavingsEstimate | None
    tree: SizeNode
    licences: tuple[tuple[str, str, str], ...] = ()  # (distribution, version, licence)
    vulns: dict[str, Any] | None = None  # VulnReport.as_dict(); None: not asked


def make_report(source: Path, targets: list[Target] | None = None, *,
                vulns: dict[str, Any] | None = None) -> LayerReport:
    """Measure and audit the layer zip or directory at `source`. Targets default to
    the zip's manifest's; its findings (and its `vulns`, unless a `vulns` answer is
    given) are used when the manifest matches the zip."""
    if source.is_dir():
        report = _report_tree(source, str(source), source.name, targets or [], None, None)
        return LayerReport(**{**report.__dict__, "licences": _licences(source),
                              "vulns": vulns})
    if not source.is_file():
        raise UsageError(f"{source} does not exist.", hint="Give a layer .zip or directory.")
    manifest = _own_manifest(source)
    if not targets and manifest is not None:
        targets = expand_targets(manifest.runtimes, manifest.architectures)
    with tempfile.TemporaryDirectory(prefix="lambdalayer-report-") as temporary:
        extracted = safe_extract(source, Path(temporary))
        with zipfile.ZipFile(source) as archive:
            zipped = {i.filename: i.compress_size for i in archive.infolist() if not i.is_dir()}
        report = _report_tree(extracted.root, str(source), source.stem, targets or [], zipped,
                              manifest)
        licences = _licences(extracted.root)
    return LayerReport(**{**report.__dict__, "zipped_total": extracted.zipped_size,
                          "licences": licences,
                          "vulns": vulns if vulns is not None
                          else (manifest.vulns if manifest else None)})


def _licences(root: Path) -> tuple[tuple[str, str, str], ...]:
    """(distribution, version, licence) of each distribution in the layer tree `root`."""
    from lambdalayer.supply.inventory import layer_distributions

    return tuple((d.name, d.version, d.licence.text) for d in layer_distributions(root))


def write_report(report: LayerReport, destination: Path, *, option: str = "--output") -> None:
    """Write the page (temporary file + rename); never over a file that is not a report of
    ours, nor into the cache (docs/safety.md)."""
    from lambdalayer.common.cache import cache_root
    from lambdalayer.common.safepaths import Protected, check_report_file

    check_report_file(destination, Protected.make(cache=cache_root()), option=option)
    write_atomic(destination, render_html(report).encode("utf-8"))


def _own_manifest(archive: Path) -> Manifest | None:
    beside = manifest_path_for(archive)
    if archive.suffix != ".zip" or not beside.is_file():
        return None
    try:
        manifest = read_manifest(beside)
    except UsageError:
        return None
    return manifest if manifest.sha256 == file_digests(archive)[0] else None


def _report_tree(path: Path, source: str, name: str, targets: list[Target],
                 zipped: dict[str, int] | None, manifest: Manifest | None) -> LayerReport:
    measured = measure_layer(path)
    sizes = measured.sizes
    files = {}
    for file in measured.root.rglob("*"):
        if file.is_file() and not file.is_symlink():
            files[file.relative_to(measured.root).as_posix()] = file.stat().st_size
    owners = dict(sizes.owners)
    tree = size_tree(files, owners, zipped)
    per_package: dict[str, int] = {}
    if zipped is not None:
        for rel, size in zipped.items():
            owner = owners.get(rel, ("(other)", ""))[0]
            per_package[owner] = per_package.get(owner, 0) + size
    packages = tuple(
        PackageSize(name=p.name, version=p.version, size=p.size, files=p.files,
                    compressed=per_package.get(p.name) if zipped is not None else None)
        for p in sizes.packages)
    if manifest is not None:
        findings = tuple(Finding(severity=f.severity, code=f.code, path=f.path,
                                 message=f.message, package=f.package)
                         for f in manifest.findings)
    elif targets:
        findings = tuple(audit_layer(measured.root, targets).findings)
    else:
        findings = ()
    return LayerReport(
        source=source, name=name, targets=tuple(str(t) for t in targets), total=sizes.total,
        zipped_total=None, packages=packages, findings=findings,
        findings_known=manifest is not None or bool(targets),
        savings=_savings(measured.root, measured.site_dirs, targets), tree=tree)


def _savings(root: Path, site_dirs: dict[Path, list[InstalledDist]], targets: list[Target]) -> \
        SavingsEstimate | None:
    """What the size options would save; None when it cannot be estimated here."""
    fallback = targets[0] if targets else None
    site_targets: dict[Path, Target] = {}
    for site in site_dirs:
        parts = site.relative_to(root).parts  # ("python",) or ("python", "lib", "python3.12", …)
        chosen = fallback
        if len(parts) > 2:
            version = parts[2].removeprefix("python")
            chosen = next((t for t in targets if t.runtime.python_version == version), None)
            if chosen is None:
                try:
                    chosen = expand_targets([f"python{version}"], ["x86_64"])[0]
                except UsageError:
                    chosen = fallback
        if chosen is None:
            try:
                chosen = expand_targets(["python3.12"], ["x86_64"])[0]
            except UsageError:
                return None
        site_targets[site] = chosen
    try:
        return estimate_savings(root, site_dirs, site_targets, [])
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- HTML


def _size(size: int | None) -> str:
    return "–" if size is None else format_size(size)


_HUES = (210, 28, 140, 350, 260, 95, 185, 45, 300, 5, 120, 230)


def _svg(report: LayerReport) -> str:
    boxes = squarify(report.tree, WIDTH, HEIGHT)
    hue_of: dict[str, int] = {}
    parts = [f'<svg id="treemap" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             'role="img" aria-label="treemap of the unzipped size">']
    package: SizeNode | None = None
    for box in boxes:
        if box.depth == 1:
            package = box.node
            hue_of.setdefault(package.name, _HUES[len(hue_of) % len(_HUES)])
        hue = hue_of.get(package.name if package else "", 0)
        light = min(88, 45 + 9 * box.depth)
        tip = (f"{package.name if package and box.depth > 1 else ''}"
               f"{' › ' if box.depth > 1 else ''}{box.node.path}\n"
               f"unzipped {_size(box.node.size)}"
               + ("" if box.node.zipped is None else f", zipped {_size(box.node.zipped)}"))
        data = json.dumps({"path": box.node.path, "size": box.node.size,
                           "zipped": box.node.zipped, "kind": box.node.kind,
                           "version": box.node.version})
        parts.append(
            f'<g class="node d{box.depth} {box.node.kind}" data-info="{html.escape(data)}">'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'fill="hsl({hue},55%,{light}%)"/><title>{html.escape(tip)}</title>')
        parts.append(_label(box))
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _label(box: Box) -> str:
    size = 13 if box.depth == 1 else 11
    if box.w < 30 or box.h < size + 3:
        return ""
    text = box.node.name if box.depth > 1 else f"{box.node.name} {box.node.version}".strip()
    fits = int((box.w - 6) / (size * 0.6))
    if fits < 3:
        return ""
    if len(text) > fits:
        text = text[:fits - 1] + "…"
    weight = ' font-weight="bold"' if box.depth == 1 else ""
    return (f'<text class="label" x="{box.x + 3:.1f}" y="{box.y + size:.1f}" '
            f'font-size="{size}"{weight}>{html.escape(text)}</text>')


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.meta{color:#555}table{border-collapse:collapse;margin:4px 0}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.num,th.num{text-align:right}#treemap{border:1px solid #ccc;max-width:100%;height:auto}
#treemap rect{stroke:#fff;stroke-width:.6}#treemap .label{pointer-events:none;fill:#111}
#treemap g.node:hover>rect{stroke:#000;stroke-width:1.5}
#detail{min-height:1.4em;color:#333;font-family:ui-monospace,monospace}
.error{color:#b00020;font-weight:bold}.warning{color:#a15c00}.info{color:#555}
"""

_JS = """
(function(){
  var detail=document.getElementById('detail');
  function size(n){if(n===null||n===undefined)return '–';var u=['B','KB','MB','GB'],i=0;
    while(n>=1000&&i<3){n/=1000;i++;}return (i?n.toFixed(1):n.toFixed(0))+' '+u[i];}
  function show(g){var d=JSON.parse(g.getAttribute('data-info'));
    detail.textContent=d.path+(d.version?' '+d.version:'')+' — unzipped '+size(d.size)+
      (d.zipped===null?'':', zipped '+size(d.zipped));}
  document.getElementById('treemap').addEventListener('mousemove',function(e){
    var g=e.target.closest('g.node');if(g)show(g);});
  var largest=document.querySelector('#treemap g.d1');if(largest)show(largest);
})();
"""


def _vulns_html(vulns: dict[str, Any] | None) -> str:
    """The known vulnerabilities (a `--vulns` answer, or the manifest's); "" when never
    asked."""
    if not isinstance(vulns, dict):
        return ""
    e = html.escape
    head = "<h2>Known vulnerabilities</h2>"
    if vulns.get("problem"):
        return f"{head}<p>{e(str(vulns['problem']))}</p>"
    found = [v for v in vulns.get("vulnerabilities") or [] if isinstance(v, dict)]
    if not found:
        return (f"{head}<p>None known: {e(str(vulns.get('checked', 0)))} distributions asked "
                f"of {e(str(vulns.get('service', '')))}.</p>")
    rows = "".join(
        f"<tr><td>{e(str(v.get('package')))} {e(str(v.get('version')))}</td>"
        f"<td>{e(', '.join(map(str, [v.get('id'), *(v.get('aliases') or [])])))}</td>"
        f"<td class={e(str(v.get('severity')))}>{e(str(v.get('severity')))}</td>"
        f"<td>{e(', '.join(map(str, v.get('fixed') or [])) or 'no fix yet')}</td>"
        f"<td>{e(str(v.get('summary') or ''))}</td></tr>" for v in found)
    fixes = " ".join(f"-p '{fix}'" for fix in vulns.get("fixes") or [])
    fix = f"<p>Fix: <code>{e(fixes)}</code></p>" if fixes else ""
    return (f"{head}<table><tr><th>distribution</th><th>advisory</th><th>severity</th>"
            f"<th>fixed in</th><th></th></tr>{rows}</table>{fix}")


def render_html(report: LayerReport) -> str:
    """The whole page as a string."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(p.name)}</td><td>{e(p.version)}</td><td class=num>{_size(p.size)}</td>"
        f"<td class=num>{100 * p.size / (report.total or 1):.0f}%</td>"
        f"<td class=num>{_size(p.compressed)}</td><td class=num>{p.files}</td></tr>"
        for p in report.packages)
    if not report.findings_known:
        findings = ("<p>Not audited: no targets (give --runtime/--arch, or report on a zip "
                    "with its manifest beside it).</p>")
    elif not report.findings:
        findings = "<p>No findings: the audit found nothing for these targets.</p>"
    else:
        findings = "<table><tr><th></th><th>code</th><th>package</th><th>file</th>" \
                   "<th>what happens on Lambda</th></tr>" + "".join(
                       f"<tr><td class={e(f.severity)}>{e(f.severity)}</td><td>{e(f.code)}</td>"
                       f"<td>{e(f.package or '')}</td><td>{e(f.path or '(layer)')}</td>"
                       f"<td>{e(f.message)}</td></tr>" for f in report.findings) + "</table>"
    if report.savings is None:
        savings = "<p>Could not estimate what the size options would save.</p>"
    elif not report.savings.options:
        savings = "<p>--slim, --strip and --exclude :runtime: would remove nothing here.</p>"
    else:
        savings = "<table><tr><th>option</th><th class=num>saves</th><th>what</th></tr>" + \
            "".join(f"<tr><td><code>{e(s.option)}</code></td><td class=num>{_size(s.saves)}"
                    f"</td><td>{e(s.detail)}</td></tr>" for s in report.savings.options) + \
            f"</table><p>All of them together: {_size(report.total)} → " \
            f"{_size(report.total - report.savings.combined)} unzipped.</p>"
    zipped = "" if report.zipped_total is None else f", {_size(report.zipped_total)} zipped"
    targets = ", ".join(report.targets) or "none given"
    licences = "<table><tr><th>distribution</th><th>version</th><th>licence</th></tr>" + "".join(
        f"<tr><td>{e(name)}</td><td>{e(version)}</td><td>{e(text)}</td></tr>"
        for name, version, text in report.licences) + "</table>" if report.licences \
        else "<p>No distributions (no *.dist-info) in this layer.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{e(report.name)} — lambdalayer report</title><style>{_CSS}</style></head>
<body>
<h1>{e(report.name)}</h1>
<p class="meta">{e(report.source)}: {_size(report.total)} unzipped{zipped},
{len(report.packages)} package(s). Targets: {e(targets)}.</p>
<h2>Where the bytes go</h2>
<p class="meta">Area is unzipped size, by package → directory → file; hover for zipped sizes.</p>
{_svg(report)}
<div id="detail"></div>
<h2>Packages</h2>
<table><tr><th>package</th><th>version</th><th class=num>unzipped</th><th class=num>share</th>
<th class=num>zipped</th><th class=num>files</th></tr>{rows}</table>
<h2>Audit findings</h2>
{findings}
<h2>What the size options would save</h2>
{savings}
<h2>Licences</h2>
{licences}
{_vulns_html(report.vulns)}
<script>{_JS}</script>
</body></html>
"""
