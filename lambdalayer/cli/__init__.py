"""The command line: parse options, call one core function, render its result.

Each command lives in a module of this package and registers itself on `cli`.
Core modules never print; everything a user sees is rendered here, and every
LambdaLayerError becomes its documented exit code in `main()`, the one catch point.
"""

from __future__ import annotations

import sys

import click

from lambdalayer import __version__
from lambdalayer.cli.output import emit_error
from lambdalayer.errors import EXIT_INTERNAL, EXIT_USAGE, LambdaLayerError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="lambdalayer")
def cli() -> None:
    """Build AWS Lambda layers for any Python runtime and architecture, from any host,
    without Docker; prove they load; publish them and attach them to functions.

    \b
      lambdalayer build pg8000                          # -> dist/pg8000.zip + dist/pg8000.json
      lambdalayer check dist/pg8000.zip --runtime python3.12 --arch x86_64
      lambdalayer publish                               # what was built in dist/
      lambdalayer attach --function makenaide-scanner   # what was published

    Exit codes: 0 ok, 2 usage/config, 3 unresolvable requirements, 4 audit
    failure, 5 AWS error, 6 smoke test failed, 7 smoke test could not run.
    """


def _register() -> None:
    # Imported for their side effect of adding commands to `cli`. Each module
    # imports only what its commands need, so `--help` stays fast (no boto3).
    from lambdalayer.cli import build_cmd, runtimes_cmd  # noqa: F401
    for optional in ("check_cmd", "aws_cmd", "test_cmd", "recipes_cmd", "cache_cmd"):
        try:
            __import__(f"lambdalayer.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"lambdalayer.cli.{optional}":
                raise


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run `cli` and map failures to exit codes."""
    args = sys.argv[1:] if argv is None else argv
    want_json = "--json" in args
    try:
        cli.main(args=args, prog_name="lambdalayer", standalone_mode=False)
    except LambdaLayerError as err:
        emit_error(err, want_json=want_json)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_USAGE if err.exit_code == 2 else err.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
