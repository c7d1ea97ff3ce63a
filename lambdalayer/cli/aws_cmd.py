"""`publish`, `attach`, `versions`, `prune`: the commands that call AWS.

boto3 is imported only inside lambdalayer.aws functions, when a command runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from lambdalayer.cli import cli
from lambdalayer.cli.options import aws_options, json_option
from lambdalayer.cli.output import error_console, human_console, print_json
from lambdalayer.common.errors import UsageError
from lambdalayer.common.units import format_size

if TYPE_CHECKING:
    from lambdalayer.project.deploy import PublishPlan


def _lambda_client(region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
    from lambdalayer.aws.client import make_client

    return make_client("lambda", region=region, profile=profile, endpoint_url=endpoint_url)


# --------------------------------------------------------------------------- publish


@cli.command("publish")
@click.argument("zips", nargs=-1, type=click.Path(path_type=Path), metavar="[ZIP|MANIFEST|DIR]...")
@click.option("--layer-name", metavar="NAME",
              help="The name to publish one ZIP under in Lambda (default: the manifest's "
                   "name). Only with one ZIP. (--layer picks which layers to publish.)")
@click.option("--region", "regions", multiple=True, metavar="REGION",
              help="Publish in this region; repeat for several (run in parallel).")
@aws_options
@click.option("--s3-bucket", metavar="BUCKET",
              help="Upload zips over 50 MB through this bucket (in the layer's region; "
                   "'{region}' in the name is replaced by each region).")
@click.option("--force", is_flag=True, help="Publish even if the newest version has these bytes.")
@click.option("--public", is_flag=True, help="Let every AWS account use the new version.")
@click.option("--principal", "principals", multiple=True, metavar="ACCOUNT",
              help="Let this 12-digit AWS account use the new version; repeatable.")
@click.option("--org", "org_id", metavar="ORG_ID",
              help="Let every account of this AWS Organization use the new version.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), metavar="DIRECTORY",
              help="Where `build` put zips and manifests (default: the config's `out`, "
                   "else dist).")
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Which layer to publish: a configured layer, or without a config a layer "
                   "built into --out. Repeatable. (--layer-name renames one ZIP.)")
@click.option("--all", "all_built", is_flag=True,
              help="Without a config: publish every layer built into --out.")
@json_option
def publish_command(zips: tuple[Path, ...], layer_name: str | None, regions: tuple[str, ...],
                    profile: str | None, endpoint_url: str | None, s3_bucket: str | None,
                    force: bool, public: bool, principals: tuple[str, ...],
                    org_id: str | None, out_dir: Path | None, layers: tuple[str, ...],
                    all_built: bool, as_json: bool) -> None:
    """Publish built layers as Lambda layer versions; skip what is already published.

    Name zips, their manifests, or build folders (every layer in each: the dist/
    folders several CI jobs built, e.g. one per architecture). With no ZIP,
    publishes every configured layer (project config: its regions and
    permissions apply). Without a config, the layer built into --out; when
    several are, name them (--layer NAME or their zips) or pass --all.
    The description names
    the pinned packages; runtimes, architectures and license come from the
    manifest beside the zip, and the new ARN per region is recorded there. On
    GitHub Actions, `layer_arn` (and `layer_arn_<name>_<region>` for each
    layer and region) are written to $GITHUB_OUTPUT.

    Examples:

    \b
      lambdalayer publish                        # the configured layers, or the one in dist/
      lambdalayer publish dist/pg8000.zip --region eu-west-1 --region us-east-1
      lambdalayer publish dist/pg8000.zip --layer-name team-pg8000 --org o-abc123
      lambdalayer publish dist/layers-x86_64 dist/layers-arm64   # CI jobs' dist/ folders
    """
    from lambdalayer.project.deploy import PublishFlags, plan_publish

    plan = plan_publish(PublishFlags(
        zips=zips, layer_name=layer_name, regions=regions, s3_bucket=s3_bucket, force=force,
        public=public, principals=principals, org_id=org_id, out_dir=out_dir, layers=layers,
        all_built=all_built))
    results = _publish_plan(plan, profile=profile, endpoint_url=endpoint_url,
                            console=error_console())
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        from lambdalayer.aws.publish import append_github_output

        append_github_output(Path(github_output), results)
    changes = _superseded_diffs(results, profile=profile, endpoint_url=endpoint_url)
    if as_json:
        print_json({"layers": [
            {"name": r.name, "region": r.region, "arn": r.arn, "version": r.version,
             "skipped": r.skipped, "zip": str(r.zip_path), "via_s3": r.via_s3,
             "grants": list(r.grants), **_superseded_json(changes.get(i))}
            for i, r in enumerate(results)]})
        return
    console = human_console()
    for i, r in enumerate(results):
        verb = "[dim]unchanged[/]" if r.skipped else "[green]published[/]"
        console.print(f"{verb} {escape(r.arn)}"
                      + (f"  [dim](granted: {', '.join(r.grants)})[/]" if r.grants else ""))
        for line in _superseded_lines(changes.get(i)):
            console.print(f"  {escape(line)}")


def _publish_plan(plan: PublishPlan, *, profile: str | None, endpoint_url: str | None,
                  console: Any) -> list[Any]:
    """Publish each group of the plan with its regions and grants, showing progress on
    `console` (stderr)."""
    from lambdalayer.aws.client import AwsSettings
    from lambdalayer.aws.publish import prepare_layer, publish

    clients = AwsSettings(profile=profile, endpoint_url=endpoint_url).factory()
    results: list[Any] = []
    for group in plan.groups:
        results.extend(publish([prepare_layer(path, layer_name=plan.layer_name)
                                for path in group.manifests],
                               clients=clients, options=plan.options(group),
                               progress=_publish_progress(console)))
    return results


def _superseded_diffs(results: list[Any], *, profile: str | None,
                      endpoint_url: str | None) -> dict[int, Any]:
    """For each newly published version: what changed against the version before it."""
    from lambdalayer.reports.diff import AwsAccess, diff_superseded

    return {i: diff_superseded(r.zip_path, r.arn,
                               aws=AwsAccess(region=r.region, profile=profile,
                                             endpoint_url=endpoint_url))
            for i, r in enumerate(results) if not r.skipped}


def _superseded_json(change: Any) -> dict[str, Any]:
    if change is None or change.previous_arn is None:
        return {}
    from lambdalayer.cli.diff_cmd import diff_json

    return {"supersedes": change.previous_arn,
            "changes": None if change.diff is None else diff_json(change.diff),
            "changes_unavailable": change.reason}


def _superseded_lines(change: Any) -> list[str]:
    if change is None or change.previous_arn is None:
        return []
    if change.diff is None:
        return [f"no diff: {change.reason}"]
    from lambdalayer.cli.diff_cmd import diff_short

    return diff_short(change.diff)


def _publish_progress(console: Any) -> Callable[[Any], None]:
    """Upload progress in 10% steps, and one line as each layer starts publishing."""
    lock = threading.Lock()
    shown: dict[tuple[str, str], int] = {}

    def show(event: Any) -> None:
        with lock:
            key = (event.layer, event.region)
            if event.stage == "uploading" and event.total:
                step = event.done * 10 // event.total
                if shown.get(key, -1) < step:
                    shown[key] = step
                    console.print(f"[dim]{event.layer} ({event.region}): uploading to S3 "
                                  f"{format_size(event.done)} / {format_size(event.total)}[/]")
            elif event.stage == "publishing":
                console.print(f"[dim]{event.layer} ({event.region}): publishing…[/]")

    return show


# --------------------------------------------------------------------------- attach


@cli.command("attach")
@click.option("--function", "functions", multiple=True, metavar="NAME",
              help="Function name or ARN; repeat for several. Default: each configured "
                   "layer's `functions`.")
@click.option("--layer", "layer_spec", metavar="NAME[:VERSION]|ARN",
              help="Layer to attach (default: for each function, the layer published "
                   "from --out for its architecture and runtime). NAME alone means its "
                   "newest version. Without --function, the configured layer to attach "
                   "to its `functions`.")
@click.option("--region", metavar="REGION", help="The functions' region.")
@aws_options
@click.option("--dry-run", is_flag=True, help="Show the layer lists before/after; change nothing.")
@click.option("--force", is_flag=True,
              help="Attach even if the layer declares another runtime or architecture.")
@click.option("--out", "out_dirs", type=click.Path(path_type=Path), multiple=True,
              metavar="DIRECTORY",
              help="Where to look for what `publish` recorded (default: the config's `out`, "
                   "else dist). Repeatable: the dist/ folders of several CI jobs.")
@json_option
def attach_command(functions: tuple[str, ...], layer_spec: str | None, region: str | None,
                   profile: str | None, endpoint_url: str | None, dry_run: bool, force: bool,
                   out_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Attach a layer version to functions, keeping their other layers.

    An older version of the same layer is replaced in place; attaching what is
    already there changes nothing. Refuses a layer whose declared runtimes or
    architectures exclude the function (--force overrides) and a sixth layer.
    Prints the previous layer list and the command that restores it.

    Examples:

    \b
      lambdalayer attach                         # each configured layer onto its functions
      lambdalayer attach --function my-function --dry-run
      lambdalayer attach --function my-function --layer pg8000:4 --region eu-west-1
      lambdalayer attach --function api-x86 --function worker-arm \\
          --out dist/layers-x86_64 --out dist/layers-arm64   # each its own architecture
    """
    from lambdalayer.aws.attach import attach, resolve_layer
    from lambdalayer.project.config import load_config

    config = load_config()
    out = config.out_dir(out_dirs[0] if out_dirs else None)
    if not functions:
        # With a project config and no --function, --layer picks a configured layer.
        picked = (layer_spec,) if layer_spec else ()
        results = _attach_configured(config, picked, region, profile, endpoint_url,
                                     out, dry_run=dry_run, force=force)
        layer_arn = None
    else:
        regions = config.regions_for((region,) if region else ())
        client = _lambda_client(regions[0] if regions else None, profile, endpoint_url)
        if layer_spec is None:
            results = _attach_per_function(client, functions, (out, *out_dirs[1:]),
                                           dry_run=dry_run, force=force)
            layer_arn = None
        else:
            layer = resolve_layer(client, layer_spec, dist=out)
            layer_arn = layer.arn
            results = list(attach(client, functions, layer, dry_run=dry_run, force=force,
                                  dist=out))
    if as_json:
        print_json({"layer": layer_arn, "dry_run": dry_run, "functions": [
            {"name": r.name, "region": r.region, "before": list(r.before),
             "after": list(r.after), "changed": r.changed, "forced": list(r.forced),
             "rollback": r.rollback_command if r.changed else None,
             "same_bytes": list(r.same_bytes),
             "unzipped": _size_json(r.unzipped)}
            for r in results]})
        return
    _render_attach(results)


def _render_attach(results: list[Any]) -> None:
    """Each function's before and after, the size, and the command that undoes it."""
    console = human_console()
    warn = error_console()
    for r in results:
        for problem in r.forced:
            done = "would attach" if r.dry_run else "attached"
            warn.print(f"[yellow]warning:[/] {escape(problem)} ({done} because of --force)")
        for part in r.unzipped.unknown if r.unzipped else ():
            warn.print(f"[yellow]warning:[/] {escape(r.name)}: could not measure the "
                          f"unzipped size of {escape(part.label)} ({escape(part.source)}); "
                          "the 250 MB check counted only the rest.")
        if not r.changed:
            console.print(f"[dim]{escape(r.name)}: already has that layer version; "
                          "unchanged[/]")
            continue
        head = "would change" if r.dry_run else "changed"
        console.print(f"[bold]{escape(r.name)}[/] ({r.region}) {head}:")
        for twin in r.same_bytes:
            console.print(f"  replaces {escape(twin)}: the same bytes (CodeSha256) under "
                          "another name, so the function keeps one copy")
        console.print("  before: " + (escape(" ".join(r.before)) or "(no layers)"))
        console.print("  after:  " + escape(" ".join(r.after)))
        if r.unzipped is not None:
            console.print(f"  unzipped: {_size_line(r.unzipped)}")
            if r.dry_run:
                console.print(escape(r.unzipped.breakdown()), highlight=False)
        if not r.dry_run:
            console.print(f"  [dim]undo: {escape(r.rollback_command)}[/]")


def _attach_per_function(client: Any, functions: tuple[str, ...], outs: tuple[Path, ...], *,
                         dry_run: bool, force: bool) -> list[Any]:
    """Each function gets the layer built for its own architecture and runtime, whatever
    the order of the manifests; all are checked before any is changed."""
    from lambdalayer.aws.attach import attach, read_function, resolve_layer
    from lambdalayer.aws.client import region_of
    from lambdalayer.project.deploy import manifests_in, pick_for_function

    manifests = manifests_in(outs)
    region = region_of(client)
    by_arn: dict[str, list[str]] = {}
    for name in functions:
        arn = pick_for_function(manifests, region, read_function(client, name))
        by_arn.setdefault(arn, []).append(name)
    work = [(resolve_layer(client, arn, dist=outs[0]), names) for arn, names in by_arn.items()]
    planned = [r for layer, names in work
               for r in attach(client, names, layer, dry_run=True, force=force, dist=outs[0])]
    if dry_run:
        return planned
    return [r for layer, names in work
            for r in attach(client, names, layer, force=force, dist=outs[0])]


def _size_json(size: Any) -> dict[str, Any] | None:
    if size is None:
        return None
    from lambdalayer.common.limits import UNZIPPED_LIMIT

    return {"known": size.known, "limit": UNZIPPED_LIMIT, "complete": not size.unknown,
            "parts": [{"name": p.label, "size": p.size, "source": p.source}
                      for p in size.parts]}


def _size_line(size: Any) -> str:
    from lambdalayer.common.limits import UNZIPPED_LIMIT

    unknown = f", {len(size.unknown)} part(s) unknown" if size.unknown else ""
    share = size.known / UNZIPPED_LIMIT
    return (f"{size.known:,} of {UNZIPPED_LIMIT:,} bytes ({share:.0%} of Lambda's "
            f"limit for code + layers){unknown}")


def _attach_configured(config: Any, names: tuple[str, ...], region: str | None,
                       profile: str | None, endpoint_url: str | None, out: Path, *,
                       dry_run: bool, force: bool) -> list[Any]:
    """Attach every configured layer (or those named) to its configured functions."""
    from lambdalayer.project.deploy import attach_configured, built_manifests

    if not config.layers:
        raise UsageError("Name the functions with --function, or configure layers with "
                         "`functions = [...]` in pyproject.toml ([tool.lambdalayer]).")
    work: list[tuple[Any, Any]] = []
    for layer in config.selected(names):
        if not layer.functions:
            continue
        regions = config.regions_for((region,) if region else (), layer)
        client = _lambda_client(regions[0] if regions else None, profile, endpoint_url)
        work.append((client, built_manifests(layer, out)))
    # Every function of every layer is checked (a dry run) before any is changed:
    # a refusal for the last one must not leave the first one half-deployed.
    planned: list[Any] = []
    for client, outputs in work:
        planned.extend(attach_configured(client, outputs, dry_run=True, force=force))
    if not planned:
        raise UsageError("No configured layer names any `functions`; pass --function.")
    if dry_run:
        return planned
    from lambdalayer.aws.attach import undo_on_failure

    results: list[Any] = []
    # A failure's message then lists what changed before it, with each undo command.
    with undo_on_failure(results):
        for client, outputs in work:
            results.extend(attach_configured(client, outputs, dry_run=False, force=force))
    return results


# --------------------------------------------------------------------------- versions / prune


def _version_row(v: Any) -> dict[str, Any]:
    return {"version": v.version, "arn": v.arn, "created": v.created,
            "runtimes": list(v.runtimes), "architectures": list(v.architectures),
            "size": v.size, "description": v.description, "functions": list(v.functions)}


@cli.command("versions")
@click.argument("layer")
@click.option("--region", metavar="REGION", help="The layer's region.")
@aws_options
@json_option
def versions_command(layer: str, region: str | None, profile: str | None,
                     endpoint_url: str | None, as_json: bool) -> None:
    """List a layer's versions, newest first, with the functions in the region using each.

    Examples:

    \b
      lambdalayer versions pg8000 --region eu-west-1
      lambdalayer versions arn:aws:lambda:eu-west-1:123456789012:layer:pg8000 --json
    """
    from lambdalayer.aws.versions import list_versions

    listing = list_versions(_lambda_client(region, profile, endpoint_url), layer)
    if as_json:
        print_json({"layer": listing.layer, "region": listing.region,
                    "versions": [_version_row(v) for v in listing.versions]})
        return
    rows = [(str(v.version), v.created[:16].replace("T", " "), ", ".join(v.runtimes),
             ", ".join(v.architectures), format_size(v.size), ", ".join(v.functions))
            for v in listing.versions]
    console = human_console()
    console.print(_versions_table(f"{listing.layer} ({listing.region})", rows, console.width))


def _versions_table(title: str, rows: Sequence[tuple[str, ...]], width: int) -> Table:
    """The versions as a table that never splits a word it can keep whole: every column
    but "used by" is at least as wide as its longest word (on a narrow terminal, at most
    that: one runtime per line), and only a function name too long for what is left folds
    (a name cut with "…" would be useless)."""
    table = Table(title=title, show_edge=False)
    narrow = width < 120
    for i, column in enumerate(("version", "created", "runtimes", "arch", "size", "used by")):
        whole = column in ("version", "size")  # never wrapped: "1.2 MB" is one thing
        longest = max([len(column)] + [len(cell) if whole else max(map(len, cell.split()),
                                                                      default=0)
                                        for cell in (row[i] for row in rows)])
        table.add_column(column, justify="right" if whole else "left", overflow="fold",
                         no_wrap=whole, min_width=None if column == "used by" else longest,
                         max_width=longest if narrow and column != "used by" else None)
    for row in rows:
        table.add_row(*row[:5], escape(row[5]) or "[dim]-[/]")
    return table


@cli.command("prune")
@click.argument("layer")
@click.option("--keep", type=click.IntRange(min=0), required=True, metavar="N",
              help="How many of the newest versions to keep.")
@click.option("--region", metavar="REGION", help="The layer's region.")
@aws_options
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--force", is_flag=True, help="Also delete old versions functions still use.")
@json_option
def prune_command(layer: str, keep: int, region: str | None, profile: str | None,
                  endpoint_url: str | None, dry_run: bool, force: bool, as_json: bool) -> None:
    """Delete all but the newest N versions of a layer.

    A version that a function in the region still uses is kept (and reported)
    unless --force. A layer with a version per architecture keeps N of each.

    Examples:

    \b
      lambdalayer prune pg8000 --keep 3 --dry-run --region eu-west-1
      lambdalayer prune pg8000 --keep 3 --region eu-west-1
    """
    from lambdalayer.aws.versions import prune

    result = prune(_lambda_client(region, profile, endpoint_url), layer, keep=keep,
                   force=force, dry_run=dry_run)
    plan = result.plan
    if as_json:
        print_json({"layer": result.layer, "region": result.region, "dry_run": result.dry_run,
                    "deleted": [_version_row(v) for v in plan.delete],
                    "kept": [_version_row(v) for v in plan.keep],
                    "in_use": [_version_row(v) for v in plan.in_use]})
        return
    console = human_console()
    verb = "would delete" if dry_run else "deleted"
    deleted = ", ".join(str(v.version) for v in plan.delete) or "nothing"
    kept = ", ".join(str(v.version) for v in plan.keep) or "none"
    console.print(f"{escape(result.layer)} ({result.region}): {verb} {deleted}; "
                  f"newest kept: {kept}.")
    for v in plan.in_use:
        console.print(f"[yellow]kept version {v.version}[/]: used by "
                      f"{escape(', '.join(v.functions))} (--force deletes it anyway)")
