"""A real moto_server on loopback for the Lambda API, shared by every test session.

boto3 reaches it over HTTP through AWS_ENDPOINT_URL, exactly as a user pointing
lambdalayer at LocalStack would; nothing is patched in-process. Registered as a
plugin in tests/conftest.py, so one server serves the whole run.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambdalayer-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; stop it at the end of the session."""
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        pytest.fail(f"moto_server not found beside {sys.executable}; install moto[server]")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start (see {log.name})")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def aws_env(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Process environment pointing boto3 at moto with fake credentials; also applied to
    os.environ for in-process calls. Never reads the developer's ~/.aws."""
    home = tmp_path_factory.mktemp("aws-home")
    values = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "GITHUB_OUTPUT"):
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield dict(os.environ)


@dataclass
class Aws:
    """Direct boto3 access to the moto server, for arranging and checking state."""

    url: str
    env: dict[str, str]

    def client(self, service: str, region: str = REGION) -> Any:
        import boto3

        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_function(self, name: str, *, runtime: str = "python3.12",
                        arch: str = "x86_64", layers: list[str] | None = None,
                        region: str = REGION) -> None:
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
        self.client("lambda", region).create_function(
            FunctionName=name, Runtime=runtime, Role=ROLE_ARN, Handler="handler.handler",
            Code={"ZipFile": code.getvalue()}, Architectures=[arch], Layers=layers or [])

    def layers_of(self, name: str, region: str = REGION) -> list[str]:
        config = self.client("lambda", region).get_function_configuration(FunctionName=name)
        return [layer["Arn"] for layer in config.get("Layers", [])]

    def publish_raw(self, name: str, payload: bytes | None = None, *,
                    runtimes: list[str] | None = None,
                    archs: list[str] | None = None, region: str = REGION) -> str:
        """Publish a layer version directly (not through lambdalayer); returns its ARN.
        Its bytes differ from another name's (attach replaces the same bytes in place)."""
        payload = payload if payload is not None else name.encode()
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("python/marker.txt", payload)
        response = self.client("lambda", region).publish_layer_version(
            LayerName=name, Content={"ZipFile": code.getvalue()},
            CompatibleRuntimes=runtimes or ["python3.12"],
            CompatibleArchitectures=archs or ["x86_64"])
        return str(response["LayerVersionArn"])

    def version_numbers(self, layer: str, region: str = REGION) -> list[int]:
        response = self.client("lambda", region).list_layer_versions(LayerName=layer)
        return sorted(v["Version"] for v in response["LayerVersions"])


@pytest.fixture
def aws(moto_url: str, aws_env: dict[str, str]) -> Aws:
    """A freshly reset moto with the IAM role functions need."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    helper = Aws(url=moto_url, env=aws_env)
    helper.client("iam").create_role(
        RoleName="lambdalayer-test",
        AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "lambda.amazonaws.com"}}],
        }))
    return helper


