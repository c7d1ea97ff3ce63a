"""LayerFacts as a CycloneDX 1.6 document, through cyclonedx-python-lib (imported only
when an SBOM is written). Every bom-ref is set here from the facts, never generated, so
the same facts give the same bytes."""

from __future__ import annotations

import json
import uuid
from pathlib import PurePath

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from packageurl import PackageURL

from lambdalayer.supply.licences import UNKNOWN, Licence
from lambdalayer.supply.sbom import DistFacts, LayerFacts, OwnCode, serial_number

SCHEMA = SchemaVersion.V1_6
_P = "lambdalayer:"  # our property names (CycloneDX's namespace convention)


def _sha(value: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=value)


def _licences(licence: Licence) -> list[LicenseExpression | DisjunctiveLicense]:
    if licence.expression:
        return [LicenseExpression(licence.expression)]
    return [DisjunctiveLicense(name=name) for name in licence.names or (UNKNOWN,)]


def _dist_ref(dist: DistFacts, ambiguous: bool) -> str:
    return f"{dist.purl}#{'.'.join(dist.tags)}" if ambiguous else dist.purl


def _dist(dist: DistFacts, ambiguous: bool) -> Component:
    props = [Property(name=f"{_P}origin", value=dist.origin),
             Property(name=f"{_P}licence-source", value=dist.licence.source),
             *(Property(name=f"{_P}wheel-tag", value=t) for t in dist.tags),
             *(Property(name=f"{_P}installed-in", value=p) for p in dist.paths)]
    if dist.wheel_sha256 is None:
        props.append(Property(name=f"{_P}wheel-sha256", value="not known to this build"))
    ref = _dist_ref(dist, ambiguous)
    vendored = [Component(
        name=PurePath(v.path).name, type=ComponentType.LIBRARY, bom_ref=f"{ref}!{v.path}",
        hashes=[_sha(v.sha256)],
        properties=[Property(name=f"{_P}path", value=v.path),
                    Property(name=f"{_P}vendored-by", value=v.carrier)])
        for v in dist.vendored]
    return Component(
        name=dist.display_name, version=dist.version, type=ComponentType.LIBRARY,
        bom_ref=ref, purl=PackageURL.from_string(dist.purl),
        hashes=[_sha(dist.wheel_sha256)] if dist.wheel_sha256 else [],
        licenses=_licences(dist.licence), properties=props, components=vendored,
        external_references=[ExternalReference(type=ExternalReferenceType.BOM,
                                               url=XsUri(path), comment="PEP 770 SBOM")
                             for path in dist.sboms])


def _own(own: OwnCode) -> Component:
    return Component(name=f"your code ({own.label})", type=ComponentType.APPLICATION,
                     bom_ref=f"own:{own.label}",
                     hashes=[_sha(own.sha256)] if own.sha256 else [],
                     properties=[Property(name=f"{_P}option", value=own.label)])


def bom_json(facts: LayerFacts, serial: uuid.UUID) -> bytes:
    """The document's bytes: CycloneDX 1.6 JSON, keys sorted, two-space indent."""
    from cyclonedx.model.tool import ToolRepository

    top = Component(
        name=facts.name, type=ComponentType.APPLICATION, bom_ref=f"layer:{facts.zip_name}",
        hashes=[_sha(facts.sha256)],
        properties=[Property(name="aws:lambda:CodeSha256", value=facts.code_sha256),
                    Property(name=f"{_P}zip", value=facts.zip_name),
                    Property(name=f"{_P}inputs-hash", value=facts.inputs_hash),
                    *(Property(name=f"{_P}target", value=t) for t in facts.targets)])
    seen: dict[tuple[str, str], int] = {}
    for dist in facts.dists:
        seen[(dist.name, dist.version)] = seen.get((dist.name, dist.version), 0) + 1
    dists = [_dist(d, seen[(d.name, d.version)] > 1) for d in facts.dists]
    own = [_own(o) for o in facts.own]
    metadata = BomMetaData(component=top, timestamp=facts.timestamp,
                           tools=ToolRepository(components=[Component(
                               type=ComponentType.APPLICATION, name="lambdalayer",
                               version=facts.tool_version, bom_ref="tool:lambdalayer")]))
    bom = Bom(components=[*dists, *own], metadata=metadata, serial_number=serial)
    bom.register_dependency(top, [*dists, *own])
    for component in dists:
        bom.register_dependency(component, [])
    text = JsonV1Dot6(bom).output_as_string()
    # Sorted keys and a fixed indent: the library's own key order is stable, but a
    # document people diff reads best sorted, and it costs nothing.
    return (json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n").encode("utf-8")


def render(facts: LayerFacts) -> bytes:
    """The CycloneDX 1.6 JSON document for `facts`, byte-for-byte the same each time."""
    return bom_json(facts, serial_number(facts))
