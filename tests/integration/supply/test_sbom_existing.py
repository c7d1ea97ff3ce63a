"""`check --sbom` and `report --sbom` write the SBOM of a layer zip `build` did not just
make, or of a published version by ARN (docs/supply-chain.md): schema-valid, the same
distributions and vendored libraries as the build's own SBOM, the same bytes each time.
Outside in: the real CLI, a loopback index, moto for the published layer."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index

NATIVE_TAG = "cp312-cp312-manylinux_2_17_x86_64"
LIBZ = Path("/lib/x86_64-linux-gnu/libz.so.1")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not LIBZ.is_file():
        pytest.skip("needs the host's x86_64 libz to stand for a vendored library")
    files = tmp_path_factory.mktemp("sbom-existing-index")
    make_wheel(files, "llvend", "1.0", file_tag=NATIVE_TAG,
               files={"llvend/__init__.py": b"VALUE = 1\n",
                      "llvend.libs/libz-1a2b3c4d.so.1": LIBZ.read_bytes()},
               requires=("llpure>=2",), metadata_extra="License-Expression: MIT\n")
    make_wheel(files, "llpure", "2.0")
    out = tmp_path_factory.mktemp("dist")
    with serve_index(files) as url:
        run = run_cli("build", "vend", "-p", "llvend==1.0", "--index-url", url, "--runtime",
                      "python3.12", "--arch", "x86_64", "--no-proof", "--out", str(out),
                      env={"LAMBDALAYER_CACHE_DIR": str(out.parent / "cache")})
    assert run.returncode == 0, run.stderr
    yield out / "vend.zip"


def _inventory(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for component in document["components"]:
        found.add((component["name"], component.get("version", ""), ""))
        for inner in component.get("components", []):
            found.add((inner["name"], component["name"], inner["hashes"][0]["content"]))
    return found


def _valid(path: Path) -> dict[str, Any]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = path.read_text("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document: dict[str, Any] = json.loads(text)
    return document


def test_check_and_report_write_the_sbom_of_an_existing_zip(built: Path,
                                                            tmp_path: Path) -> None:
    own = _valid(built.with_name("vend.cdx.json"))
    first = run_cli("check", str(built), "--sbom", str(tmp_path / "a.cdx.json"), "--json")
    assert first.returncode == 0, first.stderr
    assert first.json()["sbom"] == str(tmp_path / "a.cdx.json")
    document = _valid(tmp_path / "a.cdx.json")
    assert _inventory(document) == _inventory(own)
    assert document["metadata"]["component"]["hashes"] == \
        own["metadata"]["component"]["hashes"]
    origins = {p["value"] for c in document["components"] for p in c["properties"]
               if p["name"] == "lambdalayer:origin"}
    assert origins == {"not known"}  # only the build knew where each wheel came from

    report = run_cli("report", str(built), "-o", str(tmp_path / "r.html"),
                     "--sbom", str(tmp_path / "b.cdx.json"))
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "b.cdx.json").read_bytes() == (tmp_path / "a.cdx.json").read_bytes()


def test_an_sbom_of_a_folder_is_refused(built: Path, tmp_path: Path) -> None:
    run = run_cli("check", str(tmp_path), "--runtime", "python3.12",
                  "--sbom", str(tmp_path / "x.cdx.json"))
    assert_clean_failure(run, 2)
    assert "is not a zip" in run.stderr


def test_check_writes_the_sbom_of_a_published_layer_by_arn(
        built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real download path (check_layer_arn) from a loopback server standing in for
    the presigned URL; Lambda's GetLayerVersionByArn answered by botocore's Stubber (moto's
    server answers that call with HTTP 500)."""
    import boto3
    from botocore.stub import Stubber

    from lambdalayer.common.fileio import file_digests
    from lambdalayer.project.checking import check_source

    arn = "arn:aws:lambda:us-east-1:123456789012:layer:vend:3"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(built.parent))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    url = f"http://127.0.0.1:{server.server_address[1]}/{built.name}"
    stubber.add_response("get_layer_version_by_arn", {"Content": {"Location": url}},
                         expected_params={"Arn": arn})
    stubber.activate()
    monkeypatch.setattr("lambdalayer.aws.client.make_client", lambda *a, **k: client)
    try:
        report = check_source(arn, runtimes=("python3.12",), archs=("x86_64",),
                              allow=frozenset(), region=None, profile=None,
                              endpoint_url=None, sbom=tmp_path / "arn.cdx.json")
    finally:
        server.shutdown()
        server.server_close()
    assert report.ok
    document = _valid(tmp_path / "arn.cdx.json")
    assert _inventory(document) == _inventory(_valid(built.with_name("vend.cdx.json")))
    top = document["metadata"]["component"]
    assert top["name"] == "vend"
    assert [p["value"] for p in top["properties"] if p["name"] == "aws:lambda:CodeSha256"] \
        == [file_digests(built)[1]]
