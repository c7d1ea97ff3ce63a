"""Supply-chain documents about a built layer: its bill of materials (sbom.py, CycloneDX
1.6), the licences of its distributions (licences.py) and the known vulnerabilities of
their exact versions (osv.py, OSV's batch API).

Takes the layer tree and what the pipeline knows about it (installed distributions,
wheel hashes, where each came from); gives plain dataclasses and document bytes, and
never prints (docs/supply-chain.md).
"""
