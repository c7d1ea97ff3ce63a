"""Options shared by several commands (click only: importing this costs nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def aws_options(func: F) -> F:
    """--profile and --endpoint-url (each command declares its own --region)."""
    func = click.option("--endpoint-url", metavar="URL",
                        help="Send AWS calls here (e.g. a moto or LocalStack server). "
                             "boto3 also reads AWS_ENDPOINT_URL.")(func)
    func = click.option("--profile", metavar="NAME",
                        help="AWS profile from ~/.aws/config (default: boto3's chain).")(func)
    return func


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document on stdout.")(func)
