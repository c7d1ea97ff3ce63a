"""The 262,144,000-byte rule at attach: code + every layer, unzipped, checked before any change.

Against the moto server. Sizes come from dist/ manifests when the layer was
built here; otherwise from the published zip itself, served here by a loopback
HTTP server: moto hands out `s3://` and fake AWS links, so a botocore hook
rewrites only the `Location` value of its answers to point at that server.
"""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.archive.manifest import read_manifest, write_manifest
from lambdalayer.aws.attach import attach, resolve_layer
from lambdalayer.aws.function_size import cached_size, function_size
from lambdalayer.common.errors import AuditError
from lambdalayer.common.limits import UNZIPPED_LIMIT
from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]


def _arn(name: str, version: int) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:{version}"


def _claim(zip_path: Path, unzipped: int) -> None:
    """Make the manifest beside `zip_path` say the layer is `unzipped` bytes unzipped."""
    manifest_path = zip_path.with_suffix(".json")
    manifest = read_manifest(manifest_path)
    manifest.unzipped_size = unzipped
    write_manifest(manifest_path, manifest)


def test_over_the_limit_by_manifests_is_refused_with_a_breakdown_and_changes_nothing(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    _claim(build_layer("numpy"), 150_000_000)
    _claim(build_layer("pandas"), 120_000_000)
    assert run("publish", "--all").code == 0
    aws.create_function("scanner", layers=[_arn("numpy", 1)])

    result = run("attach", "--function", "scanner", "--layer", "pandas")

    assert result.code == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert "262,144,000" in result.stderr and "nothing was changed" in result.stderr
    assert "270,000,000" in result.stderr
    assert f"150,000,000  {_arn('numpy', 1)}" in result.stderr
    assert f"120,000,000  {_arn('pandas', 1)}" in result.stderr
    assert "code" in result.stderr
    assert aws.layers_of("scanner") == [_arn("numpy", 1)]


def test_dry_run_shows_the_sum_and_names_what_it_could_not_measure(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    _claim(build_layer("numpy"), 100_000_000)
    _claim(build_layer("pandas"), 50_000_000)
    assert run("publish", "--all").code == 0
    aws.create_function("scanner", layers=[_arn("numpy", 1)])

    human = run("attach", "--function", "scanner", "--layer", "pandas", "--dry-run")
    result = run("attach", "--function", "scanner", "--layer", "pandas", "--dry-run", "--json")

    assert human.code == 0, human.stderr
    assert "150,000,000 of 262,144,000 bytes" in human.stdout
    # moto's code location is not served anywhere: a warning, not a guess.
    assert "could not measure the unzipped size of code" in human.stderr
    [function] = result.json()["functions"]
    assert function["unzipped"]["known"] == 150_000_000
    assert function["unzipped"]["complete"] is False
    assert [p["name"] for p in function["unzipped"]["parts"]] == [
        "code", _arn("numpy", 1), _arn("pandas", 1)]
    assert aws.layers_of("scanner") == [_arn("numpy", 1)]


# --------------------------------------------------------------------- published artifacts


@dataclass
class ZipServer:
    """Serves zips on loopback; honours Range unless `ranges` is False; counts bytes sent."""

    url: str
    files: dict[str, bytes]
    ranges: bool = True
    sent: int = 0
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def zip_server() -> Iterator[ZipServer]:
    state = ZipServer(url="", files={})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            spec = self.headers.get("Range")
            state.requests.append(spec or "whole")
            if spec and state.ranges:
                first_text, _, last_text = spec.removeprefix("bytes=").partition("-")
                if not first_text:
                    first, last = max(0, len(body) - int(last_text)), len(body) - 1
                else:
                    first = int(first_text)
                    last = int(last_text) if last_text else len(body) - 1
                part = body[first:last + 1]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
            else:
                part = body
                self.send_response(200)
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            # Counted before the write: the client can have read it all and the test
            # asserted before this thread runs again (a race seen under load).
            state.sent += len(part)
            self.wfile.write(part)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def make_zip(declared: int, *, small_files: int = 0) -> bytes:
    """A zip whose files add up to `declared` bytes unzipped (mostly one file of zeros)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(small_files):
            archive.writestr(f"python/pkg/module_{index:05d}.py", b"x")
        with archive.open("python/big.bin", "w") as handle:
            left = declared - small_files
            while left > 0:
                step = min(left, 1 << 22)
                handle.write(bytes(step))
                left -= step
    return buffer.getvalue()


def serve_locations(client: Any, server: ZipServer, paths: dict[str, str]) -> None:
    """Rewrite only the `Location` in moto's answers: function name or layer ARN -> path."""

    def layer(parsed: dict[str, Any], **_: Any) -> None:
        path = paths.get(parsed.get("LayerVersionArn", ""))
        if path:
            parsed["Content"]["Location"] = server.url + path

    def code(parsed: dict[str, Any], **_: Any) -> None:
        path = paths.get(parsed.get("Configuration", {}).get("FunctionName", ""))
        if path:
            parsed["Code"]["Location"] = server.url + path

    client.meta.events.register("after-call.lambda.GetLayerVersion", layer)
    client.meta.events.register("after-call.lambda.GetFunction", code)


def test_published_zips_are_measured_from_their_end_and_cached(
        aws: Aws, zip_server: ZipServer) -> None:
    foreign = aws.publish_raw("otel", b"1")
    aws.create_function("scanner", layers=[foreign])
    big = make_zip(120_000_000)
    zip_server.files = {"/otel.zip": big, "/code.zip": make_zip(3_000_000, small_files=2000)}
    client = aws.client("lambda")
    serve_locations(client, zip_server, {foreign: "/otel.zip", "scanner": "/code.zip"})

    measured = function_size(client, "scanner", [foreign])

    assert [(p.label, p.size, p.source) for p in measured.parts] == [
        ("code", 3_000_000, "artifact"), (foreign, 120_000_000, "artifact")]
    # Only the ends were read: the code zip's directory (2000 entries) needed a
    # second range request; the layer's ~120 KB zip was never fetched whole.
    assert all(spec != "whole" for spec in zip_server.requests)
    assert len(zip_server.requests) == 3
    layer_sha = client.get_layer_version(LayerName="otel", VersionNumber=1)["Content"][
        "CodeSha256"]
    assert cached_size(layer_sha) == 120_000_000

    before = len(zip_server.requests)
    again = function_size(client, "scanner", [foreign])
    assert [p.source for p in again.parts] == ["cache", "cache"]
    assert len(zip_server.requests) == before


def test_a_server_without_ranges_gets_a_bounded_download(aws: Aws,
                                                         zip_server: ZipServer) -> None:
    foreign = aws.publish_raw("otel", b"1")
    aws.create_function("scanner")
    zip_server.ranges = False
    body = make_zip(5_000_000)
    zip_server.files = {"/otel.zip": body}
    client = aws.client("lambda")
    serve_locations(client, zip_server, {foreign: "/otel.zip"})

    measured = function_size(client, "scanner", [foreign])

    assert measured.parts[1].size == 5_000_000
    assert zip_server.sent == len(body)


def test_over_the_limit_with_a_downloaded_size_is_refused_before_any_change(
        aws: Aws, zip_server: ZipServer, tmp_path: Path) -> None:
    foreign = aws.publish_raw("otel", b"1")
    aws.publish_raw("pandas", b"2")
    aws.create_function("scanner", layers=[foreign])
    zip_server.files = {"/otel.zip": make_zip(200_000_000), "/pandas.zip": make_zip(70_000_000)}
    client = aws.client("lambda")
    serve_locations(client, zip_server, {foreign: "/otel.zip",
                                         _arn("pandas", 1): "/pandas.zip"})
    choice = resolve_layer(client, "pandas:1", dist=tmp_path)

    with pytest.raises(AuditError) as refused:
        attach(client, ["scanner"], choice, dist=tmp_path)

    assert "270,000,000" in str(refused.value) and f"{UNZIPPED_LIMIT:,}" in str(refused.value)
    assert aws.layers_of("scanner") == [foreign]
