"""Recorded OSV answers for PyYAML 5.3 and its fixed release, served on loopback.

The shapes follow OSV's documentation as stored (no live OSV can be reached from here):
- POST /v1/querybatch, https://google.github.io/osv.dev/post-v1-querybatch/ : the answer
  is `{"results": [{"vulns": [{"id", "modified"}]}, ...]}`, one result per query in the
  queries' order; a query with no match may be an empty object; `vulns` are summaries
  (id and modified only) and the full record comes from GET /v1/vulns/{id}.
- GET /v1/vulns/{id} returns one record in the OSV schema
  (https://ossf.github.io/osv-schema/): id, modified, published, aliases, summary,
  details, severity [{type: CVSS_V3, score}], affected [{package {ecosystem, name, purl},
  ranges [{type: ECOSYSTEM, events [{introduced}, {fixed}]}], versions}],
  database_specific {severity, cwe_ids, github_reviewed}, references.
- The two advisories for PyYAML 5.3, as GitHub's advisory database publishes them through
  OSV: GHSA-6757-jp84-gxfx (CVE-2020-1747, PYSEC-2020-96; FullLoader arbitrary code
  execution, fixed in 5.3.1) and GHSA-8q59-q68h-6hv4 (CVE-2020-14343, PYSEC-2021-142;
  the incomplete fix of CVE-2020-1747, fixed in 5.4), both rated CRITICAL.
Trimmed (details, references and the long `versions` lists shortened); every field that
lambdalayer reads is as OSV sends it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RECORDS: dict[str, dict[str, Any]] = {
    "GHSA-6757-jp84-gxfx": {
        "schema_version": "1.6.0",
        "id": "GHSA-6757-jp84-gxfx",
        "modified": "2024-09-18T19:27:22.371391Z",
        "published": "2021-04-20T16:43:58Z",
        "aliases": ["CVE-2020-1747", "PYSEC-2020-96"],
        "summary": "Improper Input Validation in PyYAML",
        "details": "A vulnerability was discovered in the PyYAML library in versions before "
                   "5.3.1, where it is susceptible to arbitrary code execution when it "
                   "processes untrusted YAML files through the full_load method or with the "
                   "FullLoader loader.",
        "severity": [{"type": "CVSS_V3",
                      "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "pyyaml", "purl": "pkg:pypi/pyyaml"},
            "ranges": [{"type": "ECOSYSTEM",
                        "events": [{"introduced": "5.1b7"}, {"fixed": "5.3.1"}]}],
            "versions": ["5.1", "5.1.1", "5.1.2", "5.2", "5.2b1", "5.3", "5.3b1"],
            "database_specific": {"source": "https://github.com/github/advisory-database/"
                                            "blob/main/advisories/github-reviewed/2021/04/"
                                            "GHSA-6757-jp84-gxfx/GHSA-6757-jp84-gxfx.json"},
        }],
        "database_specific": {"severity": "CRITICAL", "cwe_ids": ["CWE-20"],
                              "github_reviewed": True},
        "references": [{"type": "ADVISORY",
                        "url": "https://nvd.nist.gov/vuln/detail/CVE-2020-1747"}],
    },
    "GHSA-8q59-q68h-6hv4": {
        "schema_version": "1.6.0",
        "id": "GHSA-8q59-q68h-6hv4",
        "modified": "2024-09-18T19:28:01.012094Z",
        "published": "2021-03-25T21:26:26Z",
        "aliases": ["CVE-2020-14343", "PYSEC-2021-142"],
        "summary": "Improper Input Validation in PyYAML",
        "details": "A vulnerability was discovered in the PyYAML library in versions before "
                   "5.4, where it is susceptible to arbitrary code execution when it "
                   "processes untrusted YAML files through the full_load method or with the "
                   "FullLoader loader. This flaw is due to an incomplete fix for "
                   "CVE-2020-1747.",
        "severity": [{"type": "CVSS_V3",
                      "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "pyyaml", "purl": "pkg:pypi/pyyaml"},
            "ranges": [{"type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "5.4"}]}],
            "versions": ["5.3", "5.3.1", "5.4b1", "5.4b2"],
        }],
        "database_specific": {"severity": "CRITICAL", "cwe_ids": ["CWE-20"],
                              "github_reviewed": True},
        "references": [{"type": "ADVISORY",
                        "url": "https://nvd.nist.gov/vuln/detail/CVE-2020-14343"}],
    },
}
AFFECTED = {("pyyaml", "5.3"): ["GHSA-6757-jp84-gxfx", "GHSA-8q59-q68h-6hv4"],
            ("pyyaml", "5.3.1"): ["GHSA-8q59-q68h-6hv4"]}


@dataclass
class Service:
    """The loopback service: its URL, what it was asked, and what it answers instead."""

    url: str = ""
    asked: list[str] = field(default_factory=list)
    instead: bytes | None = None  # answer every batch with these bytes


def _answer(service: Service, handler: http.server.BaseHTTPRequestHandler) -> None:
    service.asked.append(f"{handler.command} {handler.path}")
    if handler.command == "POST" and handler.path == "/v1/querybatch":
        length = int(handler.headers.get("Content-Length", "0"))
        queries = json.loads(handler.rfile.read(length))["queries"]
        results = []
        for query in queries:
            key = (query["package"]["name"].lower(), query["version"])
            ids = AFFECTED.get(key, [])
            results.append({"vulns": [{"id": i, "modified": RECORDS[i]["modified"]}
                                      for i in ids]} if ids else {})
        body = service.instead or json.dumps({"results": results}).encode()
        headers = {"Cache-Control": "no-store"}
    elif handler.command == "GET" and handler.path.startswith("/v1/vulns/"):
        record = RECORDS[handler.path.rsplit("/", 1)[1]]
        etag = f'"{record["modified"]}"'
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.end_headers()
            return
        body = json.dumps(record).encode()
        headers = {"ETag": etag, "Cache-Control": "public, max-age=0"}
    else:
        handler.send_response(404)
        handler.end_headers()
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def osv_service() -> Iterator[Service]:
    service = Service()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            _answer(service, self)

        def do_POST(self) -> None:
            _answer(service, self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
