"""Sequences a server cannot be made to produce, through botocore's Stubber:
an update in progress (ResourceConflictException) and a lost race
(PreconditionFailedException) during attach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambdalayer.aws.attach import LayerChoice, attach
from lambdalayer.aws.function_size import FunctionSize
from lambdalayer.common.errors import AwsError

PREFIX = "arn:aws:lambda:us-east-1:123456789012:layer:"
OURS = LayerChoice(arn=f"{PREFIX}ours:2", name="ours", version=2, runtimes=("python3.12",),
                   architectures=("x86_64",))


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    # The size check's calls (tests/integration/aws/test_attach_sizes.py) are not part of
    # the sequences stubbed here.
    monkeypatch.setattr("lambdalayer.aws.attach.function_size",
                        lambda _client, name, _layers, dist=None: FunctionSize(function=name,
                                                                               parts=()))
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _config(layers: list[str], revision: str) -> dict[str, Any]:
    return {"FunctionName": "fn", "Runtime": "python3.12", "Architectures": ["x86_64"],
            "Layers": [{"Arn": a, "CodeSize": 1} for a in layers], "RevisionId": revision}


def _read(stubber: Stubber, layers: list[str], revision: str) -> None:
    stubber.add_response("get_function_configuration", _config(layers, revision),
                         {"FunctionName": "fn"})


def _wait(stubber: Stubber) -> None:
    stubber.add_response("get_function", {"Configuration": {"LastUpdateStatus": "Successful"}},
                         {"FunctionName": "fn"})


def test_update_in_progress_is_retried_with_backoff(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    other = f"{PREFIX}other:1"
    _read(stubber, [other], "r1")  # the up-front check
    _wait(stubber)
    _read(stubber, [other], "r1")
    expected = {"FunctionName": "fn", "Layers": [other, OURS.arn], "RevisionId": "r1"}
    for _ in range(2):
        stubber.add_client_error("update_function_configuration", "ResourceConflictException",
                                 "An update is in progress", 409, expected_params=expected)
    stubber.add_response("update_function_configuration", _config([other, OURS.arn], "r2"),
                         expected)
    _wait(stubber)
    sleeps: list[float] = []

    [result] = attach(client, ["fn"], OURS, sleep=sleeps.append)

    assert result.changed and result.after == (other, OURS.arn)
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.5 and all(s > 0 for s in sleeps)


def test_a_lost_race_is_re_read_and_re_planned_so_both_layers_survive(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    base, theirs = f"{PREFIX}base:1", f"{PREFIX}theirs:5"
    _read(stubber, [base], "r1")
    _wait(stubber)
    _read(stubber, [base], "r1")
    stubber.add_client_error(
        "update_function_configuration", "PreconditionFailedException",
        "The RevisionId provided does not match", 412,
        expected_params={"FunctionName": "fn", "Layers": [base, OURS.arn], "RevisionId": "r1"})
    # Meanwhile another attach added `theirs`.
    _wait(stubber)
    _read(stubber, [base, theirs], "r2")
    stubber.add_response(
        "update_function_configuration", _config([base, theirs, OURS.arn], "r3"),
        {"FunctionName": "fn", "Layers": [base, theirs, OURS.arn], "RevisionId": "r2"})
    _wait(stubber)

    [result] = attach(client, ["fn"], OURS, sleep=lambda _: None)

    assert result.before == (base, theirs)
    assert result.after == (base, theirs, OURS.arn)


def test_a_conflict_that_never_clears_is_an_aws_error(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    _read(stubber, [], "r1")
    _wait(stubber)
    _read(stubber, [], "r1")
    for _ in range(6):
        stubber.add_client_error("update_function_configuration", "ResourceConflictException",
                                 "An update is in progress", 409,
                                 expected_params={"FunctionName": "fn", "Layers": ANY,
                                                  "RevisionId": "r1"})

    with pytest.raises(AwsError, match="ResourceConflictException"):
        attach(client, ["fn"], OURS, sleep=lambda _: None)


def test_an_update_that_never_settles_is_our_message_not_a_waiter_s(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    _read(stubber, [], "r1")
    for _ in range(3):
        stubber.add_response("get_function",
                             {"Configuration": {"LastUpdateStatus": "InProgress"}},
                             {"FunctionName": "fn"})
    sleeps: list[float] = []

    with pytest.raises(AwsError, match=r"'fn' was still updating \(LastUpdateStatus "
                                       r"InProgress\) after 6 s"):
        attach(client, ["fn"], OURS, sleep=sleeps.append,
               waiter_config={"Delay": 2, "MaxAttempts": 3})
    assert sleeps == [2.0, 2.0]
