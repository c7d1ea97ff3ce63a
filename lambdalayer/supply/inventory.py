"""The distributions in a layer zip or folder, from their `*.dist-info/METADATA`
(name, version, licence), for `check --vulns` on a layer `build` did not just make."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lambdalayer.supply.licences import Licence, licence_from_metadata

MAX_METADATA = 1 << 20  # bytes read of one METADATA: its headers come first


@dataclass(frozen=True, kw_only=True)
class Shipped:
    """One distribution found in a layer."""

    name: str  # as METADATA writes it
    version: str
    licence: Licence


def _parse(text: str) -> Shipped | None:
    from email.parser import HeaderParser  # here: an up-to-date build's summary needs none

    message = HeaderParser().parsestr(text, headersonly=True)
    headers = [(k, str(v)) for k, v in message.items()]
    get = {k.lower(): v for k, v in headers}
    if not get.get("name") or not get.get("version"):
        return None
    return Shipped(name=get["name"].strip(), version=get["version"].strip(),
                   licence=licence_from_metadata(headers))


def _is_metadata(name: str) -> bool:
    parts = name.split("/")
    return len(parts) >= 2 and parts[-1] == "METADATA" and parts[-2].endswith(".dist-info")


def layer_distributions(source: Path) -> list[Shipped]:
    """Every distribution of the zip or folder `source`, by name and version (a
    distribution installed for several runtimes counts once per version)."""
    import zipfile

    texts: list[str] = []
    if source.is_dir():
        for path in sorted(source.rglob("*.dist-info/METADATA")):
            with path.open("rb") as handle:
                texts.append(handle.read(MAX_METADATA).decode("utf-8", errors="replace"))
    else:
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if _is_metadata(info.filename):
                    with archive.open(info) as handle:
                        texts.append(handle.read(MAX_METADATA).decode("utf-8", "replace"))
    found: dict[tuple[str, str], Shipped] = {}
    for text in texts:
        shipped = _parse(text)
        if shipped is not None:
            found.setdefault((shipped.name.lower(), shipped.version), shipped)
    return [found[key] for key in sorted(found)]


def refuse_denied_licences(source: Path, patterns: tuple[str, ...], layer: str) -> None:
    """AuditError naming each distribution of `source` whose licence `patterns` deny
    (--deny-licence, `deny_licences`; docs/supply-chain.md); nothing when none is."""
    if not patterns:
        return
    from lambdalayer.common.errors import AuditError
    from lambdalayer.supply.licences import denied_terms

    refused = [(d, denied_terms(d.licence, list(patterns))) for d in layer_distributions(source)]
    refused = [(d, terms) for d, terms in refused if terms]
    if not refused:
        return
    lines = "\n".join(f"  {d.name} {d.version}: {d.licence.text} ({', '.join(terms)} denied)"
                      for d, terms in refused)
    excludes = " ".join(f"--exclude {d.name}" for d, _ in refused)
    raise AuditError(
        f"{layer} contains {len(refused)} distribution{'s' * (len(refused) != 1)} under a "
        f"licence you deny ({', '.join(patterns)}); no zip was written.\n{lines}",
        hint=f"Leave it out if nothing needs it ({excludes}), replace it, or, if its licence "
             "is acceptable after all, drop that --deny-licence / deny_licences entry.",
        details=tuple({"severity": "error", "code": "denied-licence", "package": d.name,
                       "path": f"{d.name} {d.version}", "licence": d.licence.text,
                       "denied": ", ".join(terms),
                       "message": f"its licence {d.licence.text} needs {', '.join(terms)}"}
                      for d, terms in refused))
