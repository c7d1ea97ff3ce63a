"""Read a function's target (runtime, architecture) for `build --for-function`."""

from __future__ import annotations

from lambdalayer.aws.attach import read_function
from lambdalayer.aws.client import make_client
from lambdalayer.common.errors import UsageError
from lambdalayer.targets.runtimes import load_runtime_table


def function_target(
    name: str,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> tuple[str, str]:
    """(runtime, architecture) of function `name`, in Lambda's spelling, e.g.
    ("python3.12", "arm64").

    AwsError when the function cannot be read; UsageError when it is a container
    image or runs a runtime lambdalayer does not build for.
    """
    client = make_client("lambda", region=region, profile=profile, endpoint_url=endpoint_url)
    state = read_function(client, name)
    if state.runtime is None:
        raise UsageError(f"Function {name!r} is a container image; Lambda layers do not "
                         "apply to it.")
    table = load_runtime_table()
    if state.runtime not in table.runtimes:
        raise UsageError(f"Function {name!r} runs {state.runtime}; lambdalayer builds layers "
                         f"for {', '.join(table.runtimes)}.")
    return state.runtime, table.architecture(state.architecture)
