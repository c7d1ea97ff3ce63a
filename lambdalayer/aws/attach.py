"""Attach a layer version to functions without losing the layers they already have.

`update_function_configuration(Layers=…)` replaces the whole list
(docs/lambda-facts.md), so we read the current list, plan the new one with `plan_layers` (pure),
and write it with the RevisionId we read: a concurrent change makes Lambda
answer PreconditionFailedException, and we re-read and re-plan, so two attaches
of different layers both survive. An update in progress answers
ResourceConflictException: we wait for LastUpdateStatus and retry with backoff.

Every function is planned and checked before any is changed; then they change in
order, and any failure on the way is raised as AttachIncomplete, whose message lists
each function already changed with the exact command that undoes it. A function whose
last update Failed can be attached to: the new update is its repair.
"""

from __future__ import annotations

import dataclasses
import random
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalayer.archive.manifest import find_manifests, read_manifest
from lambdalayer.aws.arns import check_layer_name, layer_identity, parse_layer_arn
from lambdalayer.aws.client import aws_errors, error_code, region_of
from lambdalayer.aws.function_size import FunctionSize, function_size
from lambdalayer.common import interrupt
from lambdalayer.common.errors import AuditError, AwsError, LambdaLayerError, UsageError
from lambdalayer.common.limits import UNZIPPED_LIMIT

# Lambda quota: at most 5 layers per function.
MAX_LAYERS = 5
_CONFLICT_ATTEMPTS = 6
_REPLAN_ATTEMPTS = 5
# How long to wait for Lambda to apply an update (LastUpdateStatus InProgress):
# attempts x delay seconds, as boto's function_updated_v2 waiter does.
_WAIT_DELAY = 1.0
_WAIT_ATTEMPTS = 300


@dataclass(frozen=True, kw_only=True)
class LayerChoice:
    """The layer version to attach and what it declares it is compatible with.

    Empty `runtimes`/`architectures` mean the version declares nothing, and
    then there is nothing to check.
    """

    arn: str
    name: str
    version: int
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    code_sha256: str | None = None  # the version's CodeSha256: its bytes


@dataclass(frozen=True, kw_only=True)
class FunctionState:
    """What attach reads from get_function_configuration."""

    name: str
    runtime: str | None  # None for container images, which take no layers
    architecture: str
    layers: tuple[str, ...]
    revision_id: str | None


@dataclass(frozen=True, kw_only=True)
class AttachResult:
    """One function: its layer list before and after (equal when nothing changed)."""

    name: str
    region: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    changed: bool
    dry_run: bool = False
    forced: tuple[str, ...] = ()  # the compatibility problems --force overrode
    unzipped: FunctionSize | None = None  # code + layers after the change (aws/function_size.py)
    # Other layers the function had with the very bytes attached (the same CodeSha256
    # under another name), replaced in place rather than kept beside it.
    same_bytes: tuple[str, ...] = ()

    @property
    def rollback_command(self) -> str:
        """The one command that restores `before`."""
        layers = " ".join(shlex.quote(arn) for arn in self.before) if self.before else "'[]'"
        return (f"aws lambda update-function-configuration --region {self.region} "
                f"--function-name {shlex.quote(self.name)} --layers {layers}")


class AttachIncomplete(LambdaLayerError):
    """A failure after some functions were changed: the cause's message, then each change
    with the command that undoes it. Exits with the cause's code."""

    def __init__(self, cause: LambdaLayerError, changed: Sequence[AttachResult]) -> None:
        self.cause = cause
        self.changed = tuple(r for r in changed if r.changed and not r.dry_run)
        lines = [cause.message, "Already changed before this failure; to undo, run:"]
        for result in self.changed:
            lines.append(f"  {result.name} ({result.region}): before "
                         f"{' '.join(result.before) or '(no layers)'}; after "
                         f"{' '.join(result.after)}")
            lines.append(f"    {result.rollback_command}")
        super().__init__("\n".join(lines), hint=cause.hint)
        self.exit_code = cause.exit_code

    def after(self, earlier: Sequence[AttachResult]) -> AttachIncomplete:
        """The same failure, with the changes made before this call first."""
        return AttachIncomplete(self.cause, [*earlier, *self.changed])


@contextmanager
def undo_on_failure(done: Sequence[AttachResult]) -> Iterator[None]:
    """Raise a failure inside as AttachIncomplete naming what `done` (a list filled as
    the work goes) has changed; unchanged when nothing was."""
    try:
        yield
    except AttachIncomplete as exc:
        raise exc.after(done) from exc.cause
    except LambdaLayerError as exc:
        if any(r.changed and not r.dry_run for r in done):
            raise AttachIncomplete(exc, done) from exc
        raise


def plan_layers(before: Sequence[str], new_arn: str,
                same_bytes: Sequence[str] = ()) -> tuple[str, ...]:
    """The layer list after attaching `new_arn` to a function that has `before`.

    Another version of the same layer is replaced in place (Lambda refuses two
    versions of one layer), and so is a layer in `same_bytes` (the same zip under
    another name: two copies of one layer would only shadow each other); other
    layers keep their order; a layer not there yet goes last. The result equals
    `before` when `new_arn` is already attached. The 5-layer limit is checked by the
    caller, not here.
    """
    identity = layer_identity(new_arn)
    after: list[str] = []
    placed = False
    for arn in before:
        if layer_identity(arn) != identity and arn not in same_bytes:
            after.append(arn)
        elif not placed:
            after.append(new_arn)
            placed = True
    if not placed:
        after.append(new_arn)
    return tuple(after)


def same_bytes_as(client: Any, attached: Sequence[str], layer: LayerChoice,
                  known: dict[str, str | None]) -> tuple[str, ...]:
    """The layers of `attached` (other than `layer`'s own) whose zip is `layer`'s, by
    CodeSha256; `known` remembers each version's digest across functions."""
    if not layer.code_sha256:
        return ()
    found = []
    for arn in attached:
        parsed = parse_layer_arn(arn)
        if parsed is None or parsed.version is None or \
                layer_identity(arn) == layer_identity(layer.arn):
            continue
        if arn not in known:
            try:
                detail = client.get_layer_version(LayerName=parsed.layer_arn,
                                                  VersionNumber=parsed.version)
                known[arn] = detail.get("Content", {}).get("CodeSha256")
            except Exception:  # another account's layer we may not read: not the same
                known[arn] = None
        if known[arn] == layer.code_sha256:
            found.append(arn)
    return tuple(found)


def compatibility_problems(function: FunctionState, layer: LayerChoice) -> list[str]:
    """Why `layer` would not work on `function` according to what the version declares."""
    problems = []
    if layer.runtimes and function.runtime not in layer.runtimes:
        problems.append(f"function {function.name!r} runs {function.runtime} but "
                        f"{layer.arn} is for {', '.join(layer.runtimes)}")
    if layer.architectures and function.architecture not in layer.architectures:
        problems.append(f"function {function.name!r} is {function.architecture} but "
                        f"{layer.arn} is for {', '.join(layer.architectures)}")
    return problems


def read_function(client: Any, name: str) -> FunctionState:
    """The function's runtime, architecture, layers and RevisionId."""
    with aws_errors(region=region_of(client), resource=f"function {name!r}"):
        config = client.get_function_configuration(FunctionName=name)
    architectures = config.get("Architectures") or ["x86_64"]  # Lambda's default
    return FunctionState(
        name=config.get("FunctionName", name),
        runtime=config.get("Runtime"),
        architecture=architectures[0],
        layers=tuple(layer["Arn"] for layer in config.get("Layers", [])),
        revision_id=config.get("RevisionId"),
    )


def resolve_layer(client: Any, spec: str | None, *, dist: Path) -> LayerChoice:
    """The layer version `--layer` names, in the client's region.

    `spec`: a layer version ARN; a layer ARN or NAME (newest version);
    NAME:VERSION; or None: the one layer `publish` recorded in `dist`'s
    manifests for this region (UsageError when none or several).
    """
    region = region_of(client)
    if spec is None:
        return _describe(client, *_from_dist(dist, region))
    parsed = parse_layer_arn(spec)
    if parsed is not None:
        if parsed.region != region:
            raise UsageError(f"{spec} is in {parsed.region}, but the function is looked up in "
                             f"{region}: a function can only use layers from its own region.",
                             hint=f"Pass --region {parsed.region}, or the layer's ARN in {region}.")
        name = parsed.layer_arn
        version = parsed.version
    else:
        name, _, raw_version = spec.partition(":")
        check_layer_name(name)
        if raw_version and not raw_version.isdigit():
            raise UsageError(f"--layer {spec!r}: expected NAME, NAME:VERSION or a layer ARN.")
        version = int(raw_version) if raw_version else None
    if version is None:
        version = _newest(client, name)
    return _describe(client, name, version)


def _from_dist(dist: Path, region: str) -> tuple[str, int]:
    found: dict[str, tuple[str, int]] = {}
    for path in find_manifests(dist):
        entry = read_manifest(path).published_in(region)
        if entry is not None:
            found[layer_identity(entry.arn)] = (layer_identity(entry.arn), entry.version)
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise UsageError(f"Nothing in {dist} has been published to {region}.",
                         hint="Run `lambdalayer publish` first, or pass --layer NAME[:VERSION].")
    names = ", ".join(sorted(arn.rsplit(":", 1)[-1] for arn in found))
    raise UsageError(f"{dist} holds several layers published to {region} ({names}).",
                     hint="Choose one with --layer NAME[:VERSION].")


def _newest(client: Any, name: str) -> int:
    region = region_of(client)
    newest = 0
    with aws_errors(region=region, resource=f"layer {name!r}"):
        for page in client.get_paginator("list_layer_versions").paginate(LayerName=name):
            for item in page.get("LayerVersions", []):
                newest = max(newest, int(item["Version"]))
    if not newest:
        raise AwsError(f"Layer {name!r} has no versions in {region}.",
                       hint="Check the name and --region, or publish it first.")
    return newest


def _describe(client: Any, name: str, version: int) -> LayerChoice:
    with aws_errors(region=region_of(client), resource=f"layer version {name}:{version}"):
        detail = client.get_layer_version(LayerName=name, VersionNumber=version)
    return LayerChoice(
        arn=detail["LayerVersionArn"],
        name=detail["LayerVersionArn"].split(":")[-2],
        version=int(detail["Version"]),
        runtimes=tuple(detail.get("CompatibleRuntimes", [])),
        architectures=tuple(detail.get("CompatibleArchitectures", [])),
        code_sha256=detail.get("Content", {}).get("CodeSha256"),
    )


def check_attachable(function: FunctionState, layer: LayerChoice, *, force: bool,
                     same_bytes: Sequence[str] = ()) -> list[str]:
    """Refuse (AuditError) what cannot work; return the problems `force` overrides."""
    if function.runtime is None:
        raise UsageError(f"Function {function.name!r} is a container image; "
                         "Lambda layers do not apply to it.")
    problems = compatibility_problems(function, layer)
    if problems and not force:
        raise AuditError("Refusing to attach: " + "; ".join(problems) + ".",
                         hint="Build the layer for that target, or pass --force to attach anyway.")
    after = plan_layers(function.layers, layer.arn, same_bytes)
    if len(after) > MAX_LAYERS:
        raise AuditError(
            f"Function {function.name!r} already has {len(function.layers)} layers; Lambda "
            f"allows at most {MAX_LAYERS}: {', '.join(function.layers)}.",
            hint="Detach one first, or merge layers into one build.")
    return problems


def attach(
    client: Any,
    functions: Sequence[str],
    layer: LayerChoice,
    *,
    dry_run: bool = False,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    waiter_config: dict[str, int] | None = None,
    dist: Path | None = None,
) -> tuple[AttachResult, ...]:
    """Attach `layer` to every function, in order.

    Every function is checked (compatibility, 5-layer limit, 250 MB unzipped
    with the sizes `dist`'s manifests know) before any is changed. `dry_run`
    reads, plans and measures only. `sleep` and `waiter_config` are
    for tests.
    """
    states = [read_function(client, name) for name in functions]
    digests: dict[str, str | None] = {}
    twins = {state.name: same_bytes_as(client, state.layers, layer, digests)
             for state in states}
    forced = {state.name: tuple(check_attachable(state, layer, force=force,
                                                 same_bytes=twins[state.name]))
              for state in states}
    sizes = check_sizes(client, states, layer, dist=dist, twins=twins)
    results: list[AttachResult] = []
    if dry_run:
        for state in states:
            after = plan_layers(state.layers, layer.arn, twins[state.name])
            results.append(AttachResult(name=state.name, region=region_of(client),
                                        before=state.layers, after=after,
                                        changed=after != state.layers, dry_run=True,
                                        forced=forced[state.name],
                                        unzipped=sizes.get(state.name),
                                        same_bytes=twins[state.name]))
        return tuple(results)
    with undo_on_failure(results):
        for state in states:
            result = _attach_one(client, state.name, layer, force=force, sleep=sleep,
                                 waiter_config=waiter_config or {}, digests=digests)
            results.append(dataclasses.replace(result, unzipped=sizes.get(state.name)))
    return tuple(results)


def check_sizes(client: Any, states: Sequence[FunctionState], layer: LayerChoice, *,
                dist: Path | None,
                twins: dict[str, tuple[str, ...]] | None = None) -> dict[str, FunctionSize]:
    """Measure each function that would change; AuditError when one would exceed Lambda's
    262,144,000 unzipped bytes (code + layers), before anything is changed."""
    sizes = {}
    for state in states:
        after = plan_layers(state.layers, layer.arn, (twins or {}).get(state.name, ()))
        if after != state.layers:
            sizes[state.name] = function_size(client, state.name, after, dist=dist)
    over = [size for size in sizes.values() if size.over]
    if over:
        details = "\n".join(
            f"Function {size.function!r} would hold {size.known:,} bytes unzipped "
            f"(code and {_layers(len(size.parts) - 1)}):\n{size.breakdown()}" for size in over)
        raise AuditError(
            f"Refusing to attach {layer.arn}: Lambda allows {UNZIPPED_LIMIT:,} bytes unzipped "
            f"for a function's code and all its layers together, and nothing was changed.\n"
            f"{details}",
            hint="Make a layer smaller (`lambdalayer build --slim --strip`, --exclude), "
                 "detach a layer the function no longer needs, or split the function.")
    return sizes


def _layers(count: int) -> str:
    return f"{count} layer" + ("" if count == 1 else "s")


def _attach_one(client: Any, name: str, layer: LayerChoice, *, force: bool,
                sleep: Callable[[float], None], waiter_config: dict[str, int],
                digests: dict[str, str | None] | None = None) -> AttachResult:
    region = region_of(client)
    resource = f"function {name!r}"
    for _ in range(_REPLAN_ATTEMPTS):
        _wait_updated(client, name, waiter_config, sleep)  # a Failed one is repaired below
        state = read_function(client, name)
        twins = same_bytes_as(client, state.layers, layer, {} if digests is None else digests)
        problems = check_attachable(state, layer, force=force, same_bytes=twins)
        after = plan_layers(state.layers, layer.arn, twins)
        if after == state.layers:
            return AttachResult(name=state.name, region=region, before=state.layers,
                                after=after, changed=False, forced=tuple(problems))
        arguments: dict[str, Any] = {"FunctionName": name, "Layers": list(after)}
        if state.revision_id:
            arguments["RevisionId"] = state.revision_id
        try:
            with aws_errors(region=region, resource=resource):
                _update_with_backoff(client, arguments, sleep)
        except AwsError as err:
            if error_code(err.__cause__) == "PreconditionFailedException":
                continue  # someone changed the function since we read it: re-read, re-plan
            raise
        # `before` is the list our write replaced (after any re-plan), so the
        # rollback command undoes this change and keeps a concurrent one.
        result = AttachResult(name=state.name, region=region, before=state.layers,
                              after=after, changed=True, forced=tuple(problems),
                              same_bytes=twins)
        with undo_on_failure([result]):
            config = _wait_updated(client, name, waiter_config, sleep)
            if config.get("LastUpdateStatus") == "Failed":
                raise AwsError(
                    f"Lambda accepted the new layer list for {name!r} but could not apply "
                    f"it: LastUpdateStatus is Failed ({_reason(config)}).",
                    hint="Fix the cause Lambda names (or undo below), then run attach "
                         "again: attaching to a Failed function repairs it.")
        return result
    raise AwsError(f"Function {name!r} kept changing while attaching {layer.arn} "
                   f"({_REPLAN_ATTEMPTS} attempts).", hint="Run the command again.")


def _update_with_backoff(client: Any, arguments: dict[str, Any],
                         sleep: Callable[[float], None]) -> None:
    """update_function_configuration, retrying ResourceConflictException (update in progress)."""
    delay = 1.0
    for attempt in range(_CONFLICT_ATTEMPTS):
        try:
            # A signal waits for the answer, so we know whether the function changed.
            with interrupt.deferred():
                client.update_function_configuration(**arguments)
            return
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or attempt + 1 == _CONFLICT_ATTEMPTS:
                raise
        # Full jitter, so concurrent attaches do not retry in lockstep.
        sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, 16.0)


def _wait_updated(client: Any, name: str, waiter_config: dict[str, int],
                  sleep: Callable[[float], None]) -> dict[str, Any]:
    """The function's configuration once no update is in progress (Successful or Failed:
    the caller judges; boto's waiter would raise a bare message on Failed)."""
    delay = float(waiter_config.get("Delay", _WAIT_DELAY))
    attempts = int(waiter_config.get("MaxAttempts", _WAIT_ATTEMPTS))
    for attempt in range(attempts):
        with aws_errors(region=region_of(client), resource=f"function {name!r}"):
            config: dict[str, Any] = client.get_function(FunctionName=name).get(
                "Configuration", {})
        if config.get("LastUpdateStatus") != "InProgress" and config.get("State") != "Pending":
            return config
        if attempt + 1 < attempts:
            sleep(delay)
    raise AwsError(f"Function {name!r} was still updating (LastUpdateStatus InProgress) "
                   f"after {attempts * delay:g} s.",
                   hint="Look at the function in the Lambda console, then run attach again.")


def _reason(config: dict[str, Any]) -> str:
    code = config.get("LastUpdateStatusReasonCode")
    reason = config.get("LastUpdateStatusReason")
    return ": ".join(str(part) for part in (code, reason) if part) or "Lambda gave no reason"
