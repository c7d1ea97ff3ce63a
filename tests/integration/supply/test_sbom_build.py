"""`build` writes dist/NAME.cdx.json beside each zip (docs/supply-chain.md): schema-valid
CycloneDX 1.6, its components exactly the zip's distributions and the libraries vendored
in their `*.libs/` folders, and the same bytes for the same inputs. Outside in: the real
CLI against a loopback index."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, serve_index

NATIVE_TAG = "cp312-cp312-manylinux_2_17_x86_64"
LIBZ = Path("/lib/x86_64-linux-gnu/libz.so.1")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not LIBZ.is_file():
        pytest.skip("needs the host's x86_64 libz to stand for a vendored library")
    files = tmp_path_factory.mktemp("sbom-index")
    make_wheel(files, "llvend", "1.0", file_tag=NATIVE_TAG,
               files={"llvend/__init__.py": b"VALUE = 1\n",
                      "llvend.libs/libz-1a2b3c4d.so.1": LIBZ.read_bytes()},
               requires=("llpure>=2",), metadata_extra="License-Expression: MIT\n")
    make_wheel(files, "llpure", "2.0",
               metadata_extra="Classifier: License :: OSI Approved :: BSD License\n")
    with serve_index(files) as url:
        yield url, files


def _build(url: str, out: Path, cache: Path) -> CliRun:
    return run_cli("build", "vend", "-p", "llvend==1.0", "--index-url", url, "--runtime",
                   "python3.12", "--arch", "x86_64", "--no-proof", "--out", str(out),
                   "--json", env={"LAMBDALAYER_CACHE_DIR": str(cache)})


def _flat(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from _flat(component.get("components", []))


def _props(component: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def test_the_sbom_lists_exactly_what_the_zip_holds_and_is_reproducible(
        index: tuple[str, Path], tmp_path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    url, files = index
    first = _build(url, tmp_path / "a", tmp_path / "cache-a")
    assert first.returncode == 0, first.stderr
    sbom_path = tmp_path / "a" / "vend.cdx.json"
    text = sbom_path.read_text("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    manifest = json.loads((tmp_path / "a" / "vend.json").read_text("utf-8"))
    assert manifest["sbom"] == "vend.cdx.json"
    document = json.loads(text)
    assert document["specVersion"] == "1.6"
    tool, = document["metadata"]["tools"]["components"]  # CycloneDX 1.5's form, not a list
    assert (tool["name"], tool["type"]) == ("lambdalayer", "application")
    top = document["metadata"]["component"]
    assert top["hashes"] == [{"alg": "SHA-256", "content": manifest["sha256"]}]
    assert _props(top, "aws:lambda:CodeSha256") == [manifest["code_sha256"]]
    assert _props(top, "lambdalayer:target") == ["python3.12/x86_64"]

    with zipfile.ZipFile(tmp_path / "a" / "vend.zip") as archive:
        names = archive.namelist()
        in_zip_dists = {n.split("/")[-2].removesuffix(".dist-info").lower()
                        for n in names if n.endswith(".dist-info/METADATA")}
        in_zip_libs = {n: hashlib.sha256(archive.read(n)).hexdigest()
                       for n in names if ".libs/" in n and not n.endswith("/")}
    components = list(_flat(document["components"]))
    dists = {f"{c['name'].lower()}-{c['version']}": c for c in components if "purl" in c}
    libs = {_props(c, "lambdalayer:path")[0]: c for c in components
            if _props(c, "lambdalayer:vendored-by")}
    assert set(dists) == in_zip_dists == {"llvend-1.0", "llpure-2.0"}
    assert {path: c["hashes"][0]["content"] for path, c in libs.items()} == in_zip_libs
    assert len(in_zip_libs) == 1
    assert all(_props(c, "lambdalayer:vendored-by") == ["llvend"] for c in libs.values())
    # Nested in the distribution that carries it.
    assert [c["name"] for c in dists["llvend-1.0"]["components"]] == ["libz-1a2b3c4d.so.1"]
    # Each distribution: purl, the wheel's own SHA-256, licence and origin.
    wheels = {w.name.split("-")[0]: hashlib.sha256(w.read_bytes()).hexdigest()
              for w in files.glob("*.whl")}
    for name in ("llvend", "llpure"):
        assert dists[f"{name}-{'1.0' if name == 'llvend' else '2.0'}"]["hashes"] == [
            {"alg": "SHA-256", "content": wheels[name]}]
    assert dists["llvend-1.0"]["purl"] == "pkg:pypi/llvend@1.0"
    assert dists["llvend-1.0"]["licenses"] == [{"expression": "MIT"}]
    assert dists["llpure-2.0"]["licenses"] == [{"license": {"name": "BSD License"}}]
    assert _props(dists["llpure-2.0"], "lambdalayer:origin") == ["index"]

    # Same inputs, same bytes: another build elsewhere, with another cache.
    shutil.rmtree(tmp_path / "cache-a")
    second = _build(url, tmp_path / "b", tmp_path / "cache-b")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "b" / "vend.cdx.json").read_bytes() == sbom_path.read_bytes()
