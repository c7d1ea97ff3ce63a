"""A private package index on loopback for tests: PEP 691 JSON, HTTP Basic auth.

Serves wheels built in the test (`make_wheel`) under /simple/NAME/ and
/files/FILE, requires `user:password` for every request, and records each
request (path, whether it was authorised) so a test can tell what was asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_wheel(directory: Path, name: str, version: str, tag: str = "py3-none-any",
               module_source: str = "VALUE = 1\n") -> Path:
    """A minimal wheel: one module named like the project, dist-info, RECORD."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": module_source.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 .encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                              f"{'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n"
                              .encode(),
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()) + f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    path = directory / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


@dataclass
class PrivateIndex:
    url: str  # with credentials: http://user:password@127.0.0.1:PORT/simple
    bare_url: str
    password: str
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (path, authorised)


@contextmanager
def private_index(wheels: list[Path], *, user: str = "aws",
                  password: str = "s3cr3t-T0KEN:with/odd@chars") -> Iterator[PrivateIndex]:
    """Serve `wheels` (grouped by project) until the block ends."""
    from urllib.parse import quote

    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    by_name: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0] if wheel.suffix == ".whl" else \
            wheel.name.rsplit("-", 1)[0]
        by_name.setdefault(project.replace("_", "-").lower(), []).append(wheel)
    seen: list[tuple[str, bool]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.send_response(405)  # uv then GETs the whole file
            self.end_headers()

        def do_GET(self) -> None:
            authorised = self.headers.get("Authorization") == expected
            seen.append((self.path, authorised))
            if not authorised:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            parts = [p for p in self.path.split("/") if p]
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in by_name:
                body = json.dumps({"meta": {"api-version": "1.0"}, "name": parts[1], "files": [
                    {"filename": w.name, "url": f"/files/{w.name}",
                     "hashes": {"sha256": hashlib.sha256(w.read_bytes()).hexdigest()}}
                    for w in by_name[parts[1]]]}).encode()
                self._send(body, "application/vnd.pypi.simple.v1+json")
            elif len(parts) == 2 and parts[0] == "files":
                match = [w for ws in by_name.values() for w in ws if w.name == parts[1]]
                if match:
                    self._send(match[0].read_bytes(), "application/octet-stream")
                else:
                    self.send_error(404)
            else:
                self.send_error(404)

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield PrivateIndex(
            url=f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}/simple",
            bare_url=f"http://127.0.0.1:{port}/simple", password=password, requests=seen)
    finally:
        server.shutdown()
        server.server_close()
