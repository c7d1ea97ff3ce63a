"""AWS failures a user can fix: one clear message, exit 5, no traceback. And
`build --for-function`'s core, function_target."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lambdalayer.aws.functions import function_target
from lambdalayer.common.errors import UsageError
from tests.integration.aws.conftest import Aws, BuildLayer, Run

RunCli = Callable[..., Run]
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def test_missing_credentials(aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer()

    result = run("publish", "--region", "us-east-1", "--region", "eu-west-1",
                 drop_env=CREDENTIALS)

    assert result.code == 5
    assert result.stderr.count("No AWS credentials found") == 1
    assert "aws configure" in result.stderr
    assert "Traceback" not in result.stderr
    assert aws.version_numbers("pg8000") == []


def test_missing_credentials_in_json_mode_is_a_json_error(aws: Aws, run: RunCli) -> None:
    result = run("attach", "--function", "f", "--layer", "x", "--json", drop_env=CREDENTIALS)

    assert result.code == 5
    assert result.json()["error"]["exit_code"] == 5


def test_function_not_found(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("makenaide-pg8000")

    result = run("attach", "--function", "makenaide-nope", "--layer", "makenaide-pg8000")

    assert result.code == 5
    assert "Function 'makenaide-nope' was not found in us-east-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_layer_version_not_found(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("makenaide-pg8000")
    aws.create_function("makenaide-scanner")

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000:9")

    assert result.code == 5
    assert "makenaide-pg8000:9" in result.stderr and "not found" in result.stderr


def test_unknown_region_is_named_without_a_network_round_trip(aws: Aws, run: RunCli) -> None:
    # Without an endpoint override the region must be one AWS has.
    result = run("versions", "x", "--region", "us-est-1", drop_env=("AWS_ENDPOINT_URL",))

    assert result.code == 5
    assert "Unknown AWS region 'us-est-1'" in result.stderr
    assert "did you mean" in result.stderr


def test_function_target_reads_runtime_and_architecture(aws: Aws) -> None:
    aws.create_function("makenaide-scanner", runtime="python3.11", arch="arm64")

    assert function_target("makenaide-scanner") == ("python3.11", "arm64")


def test_function_target_refuses_a_runtime_it_cannot_build_for(aws: Aws) -> None:
    aws.create_function("node-function", runtime="nodejs20.x")

    with pytest.raises(UsageError, match=r"nodejs20\.x"):
        function_target("node-function")
