"""Options shared by several commands (click only: importing this costs nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def target_options(purpose: str, runtime_default: str = "", arch_default: str = "", *,
                   arch_needs_runtime: bool = False, arch_dest: str = "archs",
                   required: bool = False) -> Callable[[F], F]:
    """--runtime and --arch: the one declaration of the targets a command works for.

    `purpose` says what the runtime is for ("Runtime to test"); the defaults say what an
    absent option means to this command. Repeatable (`runtimes`, `arch_dest`: tuples),
    unless `required`: then each is given once (`runtime`, `arch`: strings). Values are
    checked where they are used (`Target.parse`), with the same message everywhere.
    """
    runtime_help, arch_help = f"{purpose}, e.g. python3.12.", "x86_64 or arm64"
    arch_help += ", with --runtime." if arch_needs_runtime else "."
    if not required:
        runtime_help += f" Repeatable. Default: {runtime_default}."
        arch_help += f" Repeatable. Default: {arch_default}."

    def decorate(func: F) -> F:
        func = click.option("--arch", "arch" if required else arch_dest, metavar="ARCH",
                            multiple=not required, required=required, help=arch_help)(func)
        return click.option("--runtime", "runtime" if required else "runtimes",
                            metavar="RUNTIME", multiple=not required, required=required,
                            help=runtime_help)(func)
    return decorate


def proof_sandbox_option(func: F) -> F:
    """--proof-sandbox auto|required (`build` and `test`; docs/sandbox-and-limits.md)."""
    return click.option(
        "--proof-sandbox", "proof_sandbox", type=click.Choice(["auto", "required"]),
        default=None,
        help="required: exit 8 rather than run the layer's code without a sandbox "
             "(bubblewrap or the fallback box) when this host cannot make one. auto "
             "(default): run it with a scrubbed environment then, and warn. Also "
             "LAMBDALAYER_PROOF_SANDBOX, or proof_sandbox in the config.")(func)


class _ProofChoice(click.Choice[str]):
    """required|best-effort; also "on", the value of a bare `--proof` (the default)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        return value if value == "on" else super().convert(value, param, ctx)


def proof_option(func: F) -> F:
    """--proof [required|best-effort] and --no-proof (`build`; docs/commands/build.md)."""
    func = click.option(
        "--no-proof", "no_proof", is_flag=True,
        help="Skip the import proof (config: proof = false in a layer's table).")(func)
    return click.option(
        "--proof", "proof", type=_ProofChoice(["required", "best-effort"]), is_flag=False,
        flag_value="on", default=None,
        help="On by default: every build imports the layer, beside its audit, on a CPython of "
             "each target (native, or emulated: `lambdalayer interpreters`) and writes no "
             "zip if an import fails (exit 6). A target this host cannot run is skipped "
             "with the reason (best-effort, the default); required: exit 7 instead, naming "
             "why and the fix. Also LAMBDALAYER_PROOF, or proof in the config.")(func)


def index_options(func: F) -> F:
    """--index-url, --extra-index-url, --find-links: passed to uv (which ignores pip.conf)."""
    func = click.option("--find-links", "find_links", multiple=True, metavar="URL|DIR",
                        help="Also look for wheels here (a folder or an HTML page of "
                             "links). Repeatable.")(func)
    func = click.option("--extra-index-url", "extra_index_urls", multiple=True, metavar="URL",
                        help="Another index, asked before --index-url (uv's order). "
                             "Repeatable.")(func)
    func = click.option("--index-url", "index_url", metavar="URL",
                        help="The package index (default PyPI, or UV_INDEX_URL). Credentials "
                             "in it (https://USER:TOKEN@host/...) are never printed.")(func)
    return func


class SectionedCommand(click.Command):
    """A command whose --help lists its options in sections by purpose.

    `sections` is (title, parameter names) in order; an option in none of them is
    listed last under "Other options" (tests/unit/cli/test_help_sections.py keeps
    build's list complete), so a new option is never hidden.
    """

    def __init__(self, *args: Any, sections: Sequence[tuple[str, Sequence[str]]] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections = tuple((title, tuple(names)) for title, names in sections)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        help_option = self.get_help_option(ctx)
        records = {param.name: record for param in self.get_params(ctx)
                   if isinstance(param, click.Option) and param is not help_option
                   and (record := param.get_help_record(ctx)) is not None}
        # One width for the option column of every section, so the sections line up.
        width = min(max((len(term) for term, _ in records.values()), default=0), 30)
        placed: set[str | None] = set()
        sections = [(title, [records[n] for n in names if n in records])
                    for title, names in self.sections]
        for _title, names in self.sections:
            placed.update(names)
        sections.append(("Other options",
                         [record for name, record in records.items() if name not in placed]))
        if help_option is not None and (record := help_option.get_help_record(ctx)):
            sections[-1][1].append(record)
        for title, rows in sections:
            if rows:
                with formatter.section(title):
                    formatter.write_dl([(term.ljust(width), text) for term, text in rows])
