"""The client seam: retry mode for throttling, and one clear message per fixable failure."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from lambdalayer.aws.client import make_client, translate_aws_error
from lambdalayer.common.errors import EXIT_AWS


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class _Throttling(BaseHTTPRequestHandler):
    """Answers 429 TooManyRequestsException `throttle` times, then a function config."""

    throttle = 2
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls <= self.throttle:
            body = json.dumps({"Type": "User", "message": "Rate exceeded"}).encode()
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
        else:
            body = json.dumps({"FunctionName": "fn", "Runtime": "python3.12"}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def throttling_server() -> Iterator[str]:
    _Throttling.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_throttling_is_retried_by_botocore_standard_mode(
        no_aws_config: None, monkeypatch: pytest.MonkeyPatch, throttling_server: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = make_client("lambda", region="us-east-1", endpoint_url=throttling_server)

    config = client.get_function_configuration(FunctionName="fn")

    assert config["Runtime"] == "python3.12"
    assert _Throttling.calls == 3


def test_missing_credentials_fail_before_any_call(no_aws_config: None) -> None:
    with pytest.raises(Exception) as caught:
        make_client("lambda", region="us-east-1")
    assert getattr(caught.value, "exit_code", None) == EXIT_AWS
    assert "No AWS credentials found" in str(caught.value)


def test_missing_region_says_how_to_set_one(no_aws_config: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(Exception, match="--region") as caught:
        make_client("lambda", region=None)
    assert getattr(caught.value, "exit_code", None) == EXIT_AWS


def test_unknown_profile_is_named(no_aws_config: None) -> None:
    with pytest.raises(Exception, match="'nope' is not configured"):
        make_client("lambda", region="us-east-1", profile="nope")


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetFunctionConfiguration")


def test_translations_are_one_clear_message_each() -> None:
    denied = translate_aws_error(
        _client_error("AccessDeniedException", "User: arn:aws:iam::1:user/ci is not authorized"),
        region="us-east-1")
    assert str(denied).startswith("Access denied in us-east-1: User: arn:aws:iam::1:user/ci")
    missing = translate_aws_error(_client_error("ResourceNotFoundException", "Function not found"),
                                  region="eu-west-1", resource="function 'scanner'")
    assert str(missing).startswith("Function 'scanner' was not found in eu-west-1.")
    assert "No AWS credentials found" in str(translate_aws_error(NoCredentialsError()))
    expired = translate_aws_error(_client_error("ExpiredTokenException", "expired"))
    assert "expired" in str(expired)
    assert all(e.exit_code == EXIT_AWS for e in (denied, missing, expired))
