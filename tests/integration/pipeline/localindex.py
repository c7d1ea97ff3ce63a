"""Wheels, sdists and a PEP 691 package index made by the tests, served on loopback.

A real HTTP index (not `--find-links`) so that both uv and lambdalayer's own index
queries (resolve/index_query.py) see the same releases, as they would on PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import canonicalize_name


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(out: Path, name: str, version: str, *, file_tag: str, wheel_tag: str,
               files: dict[str, bytes], requires_python: str | None = None) -> Path:
    """A wheel named with `file_tag` whose WHEEL file says `wheel_tag`."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    pure = wheel_tag.endswith("-none-any")
    contents = dict(files)
    contents[f"{info}/METADATA"] = metadata.encode()
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: lambdalayer-tests\nRoot-Is-Purelib: "
        f"{'true' if pure else 'false'}\nTag: {wheel_tag}\n").encode()
    record = [_record_line(k, v) for k, v in contents.items()] + [f"{info}/RECORD,,"]
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{dist}-{version}-{file_tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


def make_sdist(out: Path, name: str, version: str, *, module: str, native: bool = False,
               c_header: str = "Python.h") -> Path:
    """A setuptools sdist of one module; `native` adds a C extension (`<module>._speed`)
    that includes `c_header`."""
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    setup = "from setuptools import setup\n"
    if native:
        setup += ("from setuptools import Extension\n"
                  f"setup(ext_modules=[Extension('{module}._speed', ['speed.c'])])\n")
    else:
        setup += "setup()\n"
    files = {
        "pyproject.toml": ("[build-system]\nrequires = ['setuptools>=61']\n"
                           "build-backend = 'setuptools.build_meta'\n[project]\n"
                           f"name = '{name}'\nversion = '{version}'\n"
                           "[tool.setuptools]\n"
                           f"packages = ['{module}']\n"),
        "setup.py": setup,
        f"{module}/__init__.py": f"VERSION = '{version}'\n",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    if native:
        files["speed.c"] = (
            f"#include <Python.h>\n#include <{c_header}>\n"
            "static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_speed\", NULL, -1, NULL};\n"
            "PyMODINIT_FUNC PyInit__speed(void) "
            "{ return PyModule_Create(&m); }\n")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode()
            entry = tarfile.TarInfo(f"{root}/{member}")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    files_dir: Path

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet test output

    head = False

    def do_HEAD(self) -> None:
        self.head = True
        self.do_GET()

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "files":
            path = self.files_dir / parts[1]
            if path.is_file():
                return self._send(path.read_bytes(), "application/octet-stream")
        if len(parts) == 2 and parts[0] == "simple":
            project = canonicalize_name(parts[1])
            entries = []
            for path in sorted(self.files_dir.iterdir()):
                base = path.name.split("-")[0]
                if canonicalize_name(base) != project:
                    continue
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries.append({"filename": path.name, "url": f"/files/{path.name}",
                                "hashes": {"sha256": digest}})
            if entries:
                body = json.dumps({"meta": {"api-version": "1.0"}, "name": project,
                                   "files": entries}).encode()
                return self._send(body, "application/vnd.pypi.simple.v1+json")
            # Anything else (setuptools for isolated sdist builds) comes from PyPI.
            self.send_response(302)
            self.send_header("Location", f"https://pypi.org/simple/{project}/")
            self.end_headers()
            return None
        self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head:
            self.wfile.write(body)


@contextmanager
def serve_index(files_dir: Path) -> Iterator[str]:
    """Serve `files_dir` as a simple index; yields its URL (`http://127.0.0.1:PORT/simple`)."""
    handler = type("Handler", (_Handler,), {"files_dir": files_dir})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()
