"""Wheels, sdists and a PEP 691 package index made by the tests, served on loopback.

A real HTTP index (not `--find-links`) so that both uv and lambdalayer's own index
queries (resolve/index_query.py) see the same releases, as they would on PyPI.
`serve_index` is public (projects it lacks redirect to PyPI, for build backends);
`private_index` requires HTTP Basic credentials on every request and records each
request (path, whether it was authorised) so a test can tell what was asked.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from packaging.utils import canonicalize_name


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(out: Path, name: str, version: str, *, file_tag: str = "py3-none-any",
               wheel_tag: str | None = None, files: dict[str, bytes] | None = None,
               requires_python: str | None = None, requires: tuple[str, ...] = (),
               deflate_level: int | None = None, metadata_extra: str = "") -> Path:
    """A wheel named with `file_tag` whose WHEEL file says `wheel_tag` (default: the same);
    `files` default to one module named like the project; `requires` are Requires-Dist;
    members are stored, or deflated at `deflate_level` (as real wheels are)."""
    wheel_tag = wheel_tag or file_tag
    dist = name.replace("-", "_")
    if files is None:
        files = {f"{dist}/__init__.py": b"VALUE = 1\n"}
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires) + metadata_extra
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
    method = zipfile.ZIP_STORED if deflate_level is None else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=method, compresslevel=deflate_level) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


def make_sdist(out: Path, name: str, version: str, *, module: str, native: bool = False,
               c_header: str = "Python.h", requires: tuple[str, ...] = (),
               build_log: Path | None = None, module_text: str | None = None) -> Path:
    """A setuptools sdist of one module; `native` adds a C extension (`<module>._speed`)
    that includes `c_header`; `requires` are its dependencies; every run of its setup.py
    (a build runs it several times) appends a line to `build_log`; `module_text` replaces
    the module's `VERSION = '...'`."""
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    setup = "from setuptools import setup\n"
    if build_log is not None:
        setup += f"open({str(build_log)!r}, 'a').write('{name} {version}\\n')\n"
    if native:
        setup += ("from setuptools import Extension\n"
                  f"setup(ext_modules=[Extension('{module}._speed', ['speed.c'])])\n")
    else:
        setup += "setup()\n"
    files = {
        "pyproject.toml": ("[build-system]\nrequires = ['setuptools>=61']\n"
                           "build-backend = 'setuptools.build_meta'\n[project]\n"
                           f"name = '{name}'\nversion = '{version}'\n"
                           f"dependencies = {list(requires)!r}\n"
                           "[tool.setuptools]\n"
                           f"packages = ['{module}']\n"),
        "setup.py": setup,
        f"{module}/__init__.py": module_text or f"VERSION = '{version}'\n",
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


def _project(path: Path) -> str:
    """The project a distribution file belongs to: NAME-VER-TAGS.whl, NAME-VER.tar.gz."""
    base = path.name.split("-")[0] if path.suffix == ".whl" else path.name.rsplit("-", 1)[0]
    return str(canonicalize_name(base))


class _Handler(http.server.BaseHTTPRequestHandler):
    files_dir: Path
    expected_auth: str | None  # "Basic ...": every request must carry it
    to_pypi: bool  # redirect projects the index lacks to PyPI
    head_allowed: bool
    seen: list[tuple[str, bool]]
    served_instead: dict[str, bytes]  # file name -> other bytes than those the page hashes
    stall: threading.Event | None  # set: a file's second half waits for it, except for uv
    to_others: Callable[[str], bytes | None] | None  # path -> a body for all but uv
    hold: Callable[[str], None] | None  # file name -> returns when uv may download it whole

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet test output

    head = False

    def do_HEAD(self) -> None:
        if not self.head_allowed:
            self.send_response(405)  # uv then GETs the whole file
            self.end_headers()
            return
        self.head = True
        self.do_GET()

    def do_GET(self) -> None:
        authorised = self.expected_auth is None or \
            self.headers.get("Authorization") == self.expected_auth
        self.seen.append((self.path, authorised))
        if not authorised:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.end_headers()
            return None
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        hostile = None if self.to_others is None or self._from_uv() else \
            self.to_others(self.path)
        if hostile is not None:  # what lambdalayer's own queries get instead
            return self._send(hostile, "application/vnd.pypi.simple.v1+json")
        if len(parts) == 2 and parts[0] == "files":
            path = self.files_dir / parts[1]
            if (self.hold is not None and self._from_uv() and not self.head
                    and "Range" not in self.headers):
                self.hold(parts[1])  # uv's download of the whole file, not a metadata probe
            if parts[1] in self.served_instead:
                return self._send(self.served_instead[parts[1]], "application/octet-stream")
            if path.is_file():
                return self._send(path.read_bytes(), "application/octet-stream")
        if len(parts) == 2 and parts[0] == "simple":
            return self._project_page(str(canonicalize_name(parts[1])))
        self.send_error(404)
        return None

    def _project_page(self, project: str) -> None:
        entries = [{"filename": path.name, "url": f"/files/{path.name}",
                    "hashes": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
                   for path in sorted(self.files_dir.iterdir()) if _project(path) == project]
        if entries:
            body = json.dumps({"meta": {"api-version": "1.0"}, "name": project,
                               "files": entries}).encode()
            return self._send(body, "application/vnd.pypi.simple.v1+json")
        if not self.to_pypi:
            self.send_error(404)
            return None
        # Anything else (setuptools for isolated sdist builds) comes from PyPI.
        self.send_response(302)
        self.send_header("Location", f"https://pypi.org/simple/{project}/")
        self.end_headers()
        return None

    def _from_uv(self) -> bool:
        return self.headers.get("User-Agent", "").startswith("uv/")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.head:
            return
        stalled = (self.stall is not None and content_type == "application/octet-stream"
                   and not self._from_uv())
        if not stalled or self.stall is None:
            self.wfile.write(body)
            return
        # lambdalayer's own fetch of a wheel (for its deflate streams) hangs half-way.
        with contextlib.suppress(OSError):
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.stall.wait(60)
            self.wfile.write(body[len(body) // 2:])


@dataclass
class PrivateIndex:
    url: str  # with credentials: http://user:password@127.0.0.1:PORT/simple
    bare_url: str
    password: str
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (path, authorised)


@contextmanager
def _serve(files_dir: Path, *, expected_auth: str | None, to_pypi: bool, head_allowed: bool,
           seen: list[tuple[str, bool]],
           served_instead: dict[str, bytes] | None = None,
           stall: threading.Event | None = None,
           to_others: Callable[[str], bytes | None] | None = None,
           hold: Callable[[str], None] | None = None) -> Iterator[int]:
    """Serve `files_dir` on a free loopback port (yielded) until the block ends."""
    handler = type("Handler", (_Handler,), {
        "files_dir": files_dir, "expected_auth": expected_auth, "to_pypi": to_pypi,
        "head_allowed": head_allowed, "seen": seen,
        "served_instead": served_instead if served_instead is not None else {},
        "stall": stall,
        "to_others": staticmethod(to_others) if to_others is not None else None,
        "hold": staticmethod(hold) if hold is not None else None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_index(files_dir: Path, *, served_instead: dict[str, bytes] | None = None,
                stall: threading.Event | None = None,
                requests: list[tuple[str, bool]] | None = None,
                to_others: Callable[[str], bytes | None] | None = None,
                hold: Callable[[str], None] | None = None) -> Iterator[str]:
    """Serve `files_dir` as a simple index; yields its URL (`http://127.0.0.1:PORT/simple`).
    `served_instead` (file name -> bytes, changeable while serving): what a download of
    that file gets, while the project page still gives the real file's hash. `stall`:
    a download by anything but uv sends half the file, then waits until it is set.
    `requests` gets each request's (path, True) as it comes. `to_others` (request path ->
    body or None): a hostile index's answer to everything but uv (lambdalayer's own
    queries), uv still getting the real pages. `hold` (file name -> None) is called
    before uv downloads a whole file (not a HEAD or a ranged read of its metadata), and
    the download waits until it returns."""
    with _serve(files_dir, expected_auth=None, to_pypi=True, head_allowed=True,
                seen=requests if requests is not None else [], served_instead=served_instead,
                stall=stall, to_others=to_others, hold=hold) as port:
        yield f"http://127.0.0.1:{port}/simple"


@contextmanager
def private_index(files_dir: Path, *, user: str = "aws",
                  password: str = "s3cr3t-T0KEN:with/odd@chars") -> Iterator[PrivateIndex]:
    """Serve `files_dir` behind HTTP Basic auth (`user:password`) until the block ends."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    seen: list[tuple[str, bool]] = []
    with _serve(files_dir, expected_auth=expected, to_pypi=False, head_allowed=False,
                seen=seen) as port:
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        yield PrivateIndex(url=f"http://{credentials}@127.0.0.1:{port}/simple",
                           bare_url=f"http://127.0.0.1:{port}/simple", password=password,
                           requests=seen)
