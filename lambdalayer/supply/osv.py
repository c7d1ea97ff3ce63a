"""Known vulnerabilities of exact versions, from OSV's API (docs/supply-chain.md).

One `POST /v1/querybatch` asks about every distribution at once (the answer names each
advisory by id and `modified` only, in the queries' order), then `GET /v1/vulns/ID`
fetches each advisory once. Answers are kept in the cache (`osv-answers/`) with their
HTTP caching headers: an advisory is fetched again only when the batch answer says it
was modified, and then revalidated with `If-None-Match`/`If-Modified-Since`; a batch
answer is reused while its `Cache-Control: max-age` lasts. Every answer is untrusted:
size-capped, time-limited, and a malformed one is reported in one line, never a
traceback. Offline or unreachable: one line, no findings, never a failure by itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DEFAULT_SERVICE = "https://api.osv.dev"
ANSWERS_DIR = "osv-answers"
MAX_ANSWER = 8 << 20  # bytes: the batch answer for a few hundred packages is ~100 KB
TIMEOUT = 15.0  # seconds per request
BATCH = 1000  # OSV's limit of queries per batch
SEVERITIES = ("low", "moderate", "high", "critical")
_MAX_AGE = re.compile(r"max-age=(\d+)")


class ServiceProblem(Exception):
    """The service could not be asked, or its answer was unusable (the one-line why)."""


@dataclass(frozen=True, kw_only=True)
class Advisory:
    """One known vulnerability of one distribution's exact version."""

    package: str  # display name
    version: str
    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str  # "low" | "moderate" | "high" | "critical" | "unknown"
    fixed: tuple[str, ...]  # versions that fix it, lowest first

    def at_least(self, level: str) -> bool:
        """True when this advisory's severity is `level` or worse ("any": always)."""
        if level == "any":
            return True
        return self.severity in SEVERITIES and \
            SEVERITIES.index(self.severity) >= SEVERITIES.index(level)


@dataclass(frozen=True, kw_only=True)
class VulnReport:
    """What the service said about the distributions asked about."""

    service: str
    asked: tuple[tuple[str, str], ...]  # (display name, version)
    advisories: tuple[Advisory, ...] = ()
    problem: str | None = None  # why nothing (or not everything) could be asked
    fixes: tuple[str, ...] = field(default=())  # one "NAME>=VERSION" per distribution

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`--json`'s `vulns`, the manifest's; docs/json.md)."""
        return {"service": self.service, "problem": self.problem,
                "checked": len(self.asked), "fixes": list(self.fixes),
                "vulnerabilities": [{"package": a.package, "version": a.version, "id": a.id,
                                     "aliases": list(a.aliases), "severity": a.severity,
                                     "fixed": list(a.fixed), "summary": a.summary}
                                    for a in self.advisories]}

    def failing(self, level: str | None) -> tuple[Advisory, ...]:
        return tuple(a for a in self.advisories if level and a.at_least(level))


def _read(request: urllib.request.Request) -> tuple[bytes, dict[str, str], int]:
    """The body (capped), headers and status of one request; ServiceProblem otherwise."""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            body = answer.read(MAX_ANSWER + 1)
            headers = {k.lower(): v for k, v in answer.headers.items()}
            status = answer.status
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return b"", {k.lower(): v for k, v in exc.headers.items()}, 304
        raise ServiceProblem(f"it answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceProblem(f"it could not be reached ({reason})") from exc
    if len(body) > MAX_ANSWER:
        raise ServiceProblem(f"its answer was larger than {MAX_ANSWER >> 20} MiB")
    return body, headers, status


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceProblem("its answer was not JSON") from exc
    if not isinstance(data, dict):
        raise ServiceProblem("its answer was not a JSON object")
    return data


class _Cache:
    """Answers kept on disk with the headers that say how long they hold."""

    def __init__(self, root: Path | None) -> None:
        self.folder = root / ANSWERS_DIR if root is not None else None

    def _path(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text("utf-8")) if path else None
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, key: str, body: bytes, headers: dict[str, str]) -> None:
        path = self._path(key)
        if path is None:
            return
        kept = {h: headers[h] for h in ("etag", "last-modified", "cache-control", "date")
                if h in headers}
        entry = {"key": key, "stored": time.time(), "headers": kept,
                 "body": body.decode("utf-8", errors="replace")}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(entry), "utf-8")
        except OSError:
            pass  # a cache that cannot be written only costs a request next time


def _fresh(entry: dict[str, Any]) -> bool:
    match = _MAX_AGE.search(str(entry.get("headers", {}).get("cache-control", "")))
    return match is not None and \
        time.time() - float(entry.get("stored", 0)) < int(match.group(1))


def _batch(service: str, asked: list[tuple[str, str]], cache: _Cache) -> list[list[dict[str, Any]]]:
    """Per distribution asked, OSV's `[{id, modified}]`."""
    queries = [{"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
               for name, version in asked]
    results: list[list[dict[str, Any]]] = []
    for start in range(0, len(queries), BATCH):
        payload = json.dumps({"queries": queries[start:start + BATCH]}, sort_keys=True)
        key = f"batch {service} {payload}"
        entry = cache.get(key)
        if entry is not None and _fresh(entry):
            body = entry["body"].encode()
        else:
            request = urllib.request.Request(
                f"{service}/v1/querybatch", data=payload.encode(), method="POST",
                headers={"Content-Type": "application/json", "Accept": "application/json"})
            body, headers, _status = _read(request)
            cache.put(key, body, headers)
        answer = _json(body).get("results")
        if not isinstance(answer, list) or len(answer) != len(queries[start:start + BATCH]):
            raise ServiceProblem("its answer did not have one result per package")
        for result in answer:
            vulns = result.get("vulns", []) if isinstance(result, dict) else None
            if not isinstance(vulns, list) or not all(
                    isinstance(v, dict) and isinstance(v.get("id"), str) for v in vulns):
                raise ServiceProblem("its answer listed vulnerabilities without ids")
            results.append(vulns)
    return results


def _advisory_record(service: str, vuln: dict[str, Any], cache: _Cache) -> dict[str, Any]:
    """The whole OSV record of `vuln` ({id, modified}), from the cache while unmodified."""
    ident = vuln["id"]
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", ident):
        raise ServiceProblem(f"its answer named a vulnerability {ident[:40]!r}")
    key = f"vuln {service} {ident}"
    entry = cache.get(key)
    if entry is not None:
        record = _json(entry["body"].encode())
        if record.get("modified") == vuln.get("modified") or _fresh(entry):
            return record
    headers = {"Accept": "application/json"}
    if entry is not None:
        if "etag" in entry["headers"]:
            headers["If-None-Match"] = entry["headers"]["etag"]
        if "last-modified" in entry["headers"]:
            headers["If-Modified-Since"] = entry["headers"]["last-modified"]
    body, answer_headers, status = _read(urllib.request.Request(
        f"{service}/v1/vulns/{ident}", headers=headers))
    if status == 304 and entry is not None:
        body = entry["body"].encode()
    record = _json(body)
    cache.put(key, body, answer_headers)
    return record


def _severity(record: dict[str, Any]) -> str:
    """The advisory database's own word (GitHub's `database_specific.severity`)."""
    word = str((record.get("database_specific") or {}).get("severity", "")).lower()
    return {"medium": "moderate"}.get(word, word) if word else "unknown"


def _fixed(record: dict[str, Any], name: str) -> tuple[str, ...]:
    """The `fixed` events of the record's PyPI ranges for distribution `name`."""
    found: set[str] = set()
    for affected in record.get("affected") or []:
        package = affected.get("package") or {} if isinstance(affected, dict) else {}
        if package.get("ecosystem") != "PyPI" or \
                canonicalize_name(str(package.get("name", ""))) != name:
            continue
        for span in affected.get("ranges") or []:
            for event in (span.get("events") or []) if isinstance(span, dict) else []:
                if isinstance(event, dict) and isinstance(event.get("fixed"), str):
                    found.add(event["fixed"])
    return tuple(sorted(found, key=_version_key))


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


def _fix_line(name: str, version: str, advisories: list[Advisory]) -> str | None:
    """`NAME>=V`: the lowest version past `version` that fixes every advisory, when each
    names one."""
    needed: list[Version] = []
    for advisory in advisories:
        later = [v for v in (_version_key(f)[1] for f in advisory.fixed)
                 if isinstance(v, Version) and v > Version(version)]
        if not later:
            return None
        needed.append(min(later))
    return f"{name}>={max(needed)}" if needed else None


def query(packages: list[tuple[str, str]], *, service: str = DEFAULT_SERVICE,
          cache_root: Path | None = None) -> VulnReport:
    """Ask `service` about each (display name, version); never raises for the service."""
    service = service.rstrip("/")
    asked = sorted(set(packages), key=lambda p: (canonicalize_name(p[0]), p[1]))
    cache = _Cache(cache_root)
    try:
        per_package = _batch(service, asked, cache)
        advisories: list[Advisory] = []
        fixes: list[str] = []
        for (name, version), vulns in zip(asked, per_package, strict=True):
            found = []
            for vuln in sorted(vulns, key=lambda v: v["id"]):
                record = _advisory_record(service, vuln, cache)
                found.append(Advisory(
                    package=name, version=version, id=vuln["id"],
                    aliases=tuple(sorted(a for a in record.get("aliases") or []
                                         if isinstance(a, str))),
                    summary=str(record.get("summary") or "")[:200],
                    severity=_severity(record),
                    fixed=_fixed(record, canonicalize_name(name))))
            advisories.extend(found)
            fix = _fix_line(name, version, found) if found else None
            if fix:
                fixes.append(fix)
    except ServiceProblem as problem:
        return VulnReport(service=service, asked=tuple(asked),
                          problem=f"The vulnerability service {service} was not asked: "
                                  f"{problem}. No vulnerability was checked.")
    return VulnReport(service=service, asked=tuple(asked), advisories=tuple(advisories),
                      fixes=tuple(fixes))
