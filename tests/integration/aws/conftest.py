"""A real moto_server on loopback for the AWS commands, reset before each test.

boto3 reaches it over HTTP through AWS_ENDPOINT_URL, exactly as a user pointing
lambdalayer at LocalStack would; nothing is patched in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdalayer.archive.manifest import Manifest, PackageRecord, manifest_path_for, write_manifest
from lambdalayer.archive.zipwriter import iter_tree, write_zip
from lambdalayer.common.fileio import file_digests
from tests.aws_fixtures import ACCOUNT, REGION, ROLE_ARN, Aws

__all__ = ["ACCOUNT", "REGION", "ROLE_ARN", "Aws"]


BuildLayer = Callable[..., Path]


@pytest.fixture
def build_layer(tmp_path: Path) -> BuildLayer:
    """Write dist/NAME.zip + dist/NAME.json as `lambdalayer build` would; returns the zip."""

    def build(name: str = "pg8000", *, content: str = "v1", dist: Path | None = None,
              runtimes: tuple[str, ...] = ("python3.12",),
              architectures: tuple[str, ...] = ("x86_64",),
              packages: tuple[tuple[str, str], ...] = (("pg8000", "1.31.2"), ("scramp", "1.4.5")),
              pad_to: int = 0, stem: str | None = None) -> Path:
        out = dist or tmp_path / "dist"
        tree = tmp_path / "trees" / f"{stem or name}-{content}"
        package_dir = tree / "python" / name
        package_dir.mkdir(parents=True, exist_ok=True)
        (package_dir / "__init__.py").write_text(f"VERSION = {content!r}\n")
        zip_path = out / f"{stem or name}.zip"  # stem: NAME-ARCH, as build names them
        stats = write_zip(iter_tree(tree), zip_path)
        if pad_to:
            # A zip this big is only about its size here; sparse, so it costs no disk.
            with zip_path.open("r+b") as handle:
                handle.truncate(pad_to)
        sha256, code_sha256 = file_digests(zip_path)
        write_manifest(manifest_path_for(zip_path), Manifest(
            name=name, zip=zip_path.name, sha256=sha256, code_sha256=code_sha256,
            size=zip_path.stat().st_size, unzipped_size=stats.unzipped_size,
            runtimes=list(runtimes), architectures=list(architectures),
            packages=[PackageRecord(name=n, version=v, tags=["py3-none-any"])
                      for n, v in packages],
            tool_version="0.1.0", inputs_hash="0" * 64, inputs={},
            license="MIT",
        ))
        return zip_path

    return build


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def run(aws_env: dict[str, str], tmp_path: Path) -> Callable[..., Run]:
    """Run `python -m lambdalayer ARGS` as a user would, in tmp_path (so dist/ is there)."""

    def invoke(*args: str, env: dict[str, str] | None = None,
               drop_env: tuple[str, ...] = ()) -> Run:
        environment = {**aws_env, **(env or {})}
        for name in drop_env:
            environment.pop(name, None)
        done = subprocess.run([sys.executable, "-m", "lambdalayer", *args], cwd=tmp_path,
                              env=environment, capture_output=True, text=True, timeout=120)
        return Run(code=done.returncode, stdout=done.stdout, stderr=done.stderr)

    return invoke
