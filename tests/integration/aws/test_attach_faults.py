"""`lambdalayer attach` when Lambda fails part-way, against the moto server.

Two faults moto cannot produce come from a loopback proxy in front of it: a 500 on one
function's UpdateFunctionConfiguration, and LastUpdateStatus Failed in GetFunction
(after our update, or before it: a function whose last update failed). Everything else
is moto's own answer. The CLI runs as a user runs it, pointed at the proxy.
"""

from __future__ import annotations

import http.server
import json
import re
import shlex
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]
_CONFIGURATION = re.compile(r"^/2015-03-31/functions/([^/]+)/configuration$")
_FUNCTION = re.compile(r"^/2015-03-31/functions/([^/?]+)$")


@dataclass
class Faults:
    url: str = ""
    fail_update: set[str] = field(default_factory=set)  # 500 on these functions' updates
    failed_after_update: set[str] = field(default_factory=set)
    failed_until_update: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)


@pytest.fixture
def faults(aws: Aws) -> Iterator[Faults]:
    state = Faults()

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path.split("?", 1)[0]
            update = _CONFIGURATION.match(path) if self.command == "PUT" else None
            if update and update.group(1) in state.fail_update:
                self._reply(500, {"Type": "Service", "message": "Internal failure"},
                            {"x-amzn-ErrorType": "ServiceException"})
                return
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(aws.url + self.path, data=body, headers=headers,
                                             method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, data, reply_headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as error:
                status, data, reply_headers = error.code, error.read(), error.headers
            if update and status < 300:
                state.updated.add(update.group(1))
            function = _FUNCTION.match(path) if self.command == "GET" else None
            if function and status == 200:
                data = self._status(function.group(1), data)
            self.send_response(status)
            for key, value in reply_headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                       "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status(self, name: str, data: bytes) -> bytes:
            failed = ((name in state.failed_after_update and name in state.updated)
                      or (name in state.failed_until_update and name not in state.updated))
            if not failed:
                return data
            document = json.loads(data)
            document["Configuration"].update(
                LastUpdateStatus="Failed", LastUpdateStatusReasonCode="InvalidZipFileException",
                LastUpdateStatusReason="Lambda could not unzip a layer")
            return json.dumps(document).encode()

        def _reply(self, status: int, document: dict[str, str],
                   headers: dict[str, str]) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            for key, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _arn(name: str, version: int) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:{version}"


def _via(faults: Faults) -> dict[str, str]:
    # One attempt: botocore's retries of a 500 only slow the test down.
    return {"AWS_ENDPOINT_URL": faults.url, "AWS_MAX_ATTEMPTS": "1"}


def _undo_commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip().startswith("aws lambda update-function-configuration")]


def _run_undo(command: str, aws: Aws) -> None:
    """Run the printed undo through boto3 (no AWS CLI here): same function, same list."""
    words = shlex.split(command)
    name = words[words.index("--function-name") + 1]
    layers = words[words.index("--layers") + 1:]
    aws.client("lambda").update_function_configuration(
        FunctionName=name, Layers=[] if layers == ["[]"] else layers)


def test_a_500_on_the_second_function_names_the_first_change_and_its_undo(
        aws: Aws, faults: Faults, run: RunCli) -> None:
    other = aws.publish_raw("powertools")
    arn = aws.publish_raw("makenaide-pg8000")
    aws.create_function("fn1", layers=[other])
    aws.create_function("fn2")
    faults.fail_update = {"fn2"}

    result = run("attach", "--function", "fn1", "--function", "fn2", "--layer",
                 "makenaide-pg8000", env=_via(faults))

    assert result.code == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert "ServiceException" in result.stderr or "Internal failure" in result.stderr
    assert "Already changed before this failure" in result.stderr
    assert f"fn1 (us-east-1): before {other}; after {other} {arn}" in result.stderr
    [undo] = _undo_commands(result.stderr)
    assert "--function-name fn1" in undo and undo.endswith(f"--layers {other}")
    assert aws.layers_of("fn1") == [other, arn] and aws.layers_of("fn2") == []
    _run_undo(undo, aws)
    assert aws.layers_of("fn1") == [other]


def test_json_error_carries_the_undo_too(aws: Aws, faults: Faults, run: RunCli) -> None:
    aws.publish_raw("makenaide-pg8000")
    aws.create_function("fn1")
    aws.create_function("fn2")
    faults.fail_update = {"fn2"}

    result = run("attach", "--function", "fn1", "--function", "fn2", "--layer",
                 "makenaide-pg8000", "--json", env=_via(faults))

    assert result.code == 5
    message = result.json()["error"]["message"]
    assert _undo_commands(message) == [
        "aws lambda update-function-configuration --region us-east-1 --function-name fn1 "
        "--layers '[]'"]


def test_failed_after_the_update_is_our_message_with_before_after_and_undo(
        aws: Aws, faults: Faults, run: RunCli) -> None:
    arn = aws.publish_raw("makenaide-pg8000")
    aws.create_function("fn1")
    faults.failed_after_update = {"fn1"}

    result = run("attach", "--function", "fn1", "--layer", "makenaide-pg8000",
                 env=_via(faults))

    assert result.code == 5, result.stderr
    assert "Waiter" not in result.stderr and "waiter" not in result.stderr
    assert "LastUpdateStatus is Failed (InvalidZipFileException: Lambda could not unzip" \
        in result.stderr
    assert f"fn1 (us-east-1): before (no layers); after {arn}" in result.stderr
    assert _undo_commands(result.stderr) == [
        "aws lambda update-function-configuration --region us-east-1 --function-name fn1 "
        "--layers '[]'"]


def test_a_function_already_failed_is_repaired_by_attach(aws: Aws, faults: Faults,
                                                         run: RunCli) -> None:
    arn = aws.publish_raw("makenaide-pg8000")
    aws.create_function("fn1")
    faults.failed_until_update = {"fn1"}

    result = run("attach", "--function", "fn1", "--layer", "makenaide-pg8000", "--json",
                 env=_via(faults))

    assert result.code == 0, result.stderr
    assert result.json()["functions"][0]["after"] == [arn]
    assert aws.layers_of("fn1") == [arn]


def test_config_driven_attach_names_every_change_before_the_failure(
        aws: Aws, faults: Faults, build_layer: BuildLayer, run: RunCli,
        tmp_path: Path) -> None:
    build_layer("pg8000")
    assert run("publish", "--json").code == 0
    aws.create_function("first-ok")
    aws.create_function("second-ok")
    aws.create_function("third-fails")
    faults.fail_update = {"third-fails"}
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.pg8000]\nrecipe = "pg8000"\n'
        'functions = ["first-ok", "second-ok", "third-fails"]\n')

    result = run("attach", env=_via(faults))

    assert result.code == 5, result.stderr
    undo = _undo_commands(result.stderr)
    assert [shlex.split(c)[shlex.split(c).index("--function-name") + 1] for c in undo] == [
        "first-ok", "second-ok"]
    assert aws.layers_of("third-fails") == []


def test_the_core_raises_attach_incomplete_with_the_cause_exit_code(
        aws: Aws, faults: Faults) -> None:
    """In-process: the exception carries the changes (for callers other than the CLI)."""
    import boto3
    from botocore.config import Config

    from lambdalayer.aws.attach import AttachIncomplete, attach, resolve_layer

    aws.publish_raw("makenaide-pg8000")
    aws.create_function("fn1")
    aws.create_function("fn2")
    faults.fail_update = {"fn2"}
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url=faults.url,
                          config=Config(retries={"max_attempts": 1}))
    layer = resolve_layer(client, "makenaide-pg8000", dist=Path("/nonexistent"))
    with pytest.raises(AttachIncomplete) as failed:
        attach(client, ["fn1", "fn2"], layer, sleep=lambda _: None)
    assert failed.value.exit_code == 5
    assert [r.name for r in failed.value.changed] == ["fn1"]
