"""Every ```sh runnable block of README.md and docs/ runs, as written, and succeeds.

Each block runs alone in an empty directory with the installed `lambdalayer` on PATH (see
tests/docs_examples.py), against the real package index and, for publish/attach, a
moto server on loopback in which the function the examples name exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.aws_fixtures import Aws
from tests.docs_examples import RUNNABLE, Block, blocks, run_block

pytestmark = [pytest.mark.network, pytest.mark.slow]

# What the README's AWS examples assume exists in the account.
FUNCTION = "my-function"
REGION = "eu-west-1"

RUNNABLE_BLOCKS = blocks(RUNNABLE)


def test_the_readme_has_runnable_journeys() -> None:
    readme = [block for block in RUNNABLE_BLOCKS if block.page.name == "README.md"]
    text = "\n".join(block.source for block in readme)
    for command in ("lambdalayer build ", "lambdalayer check ", "lambdalayer publish",
                    "lambdalayer attach", "lambdalayer lock"):
        assert command in text, f"no runnable README block runs `{command.strip()}`"


@pytest.mark.parametrize("block", RUNNABLE_BLOCKS, ids=lambda block: block.id)
def test_runnable_block(block: Block, aws: Aws, tmp_path: Path) -> None:
    aws.create_function(FUNCTION, runtime="python3.12", arch="x86_64", region=REGION)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = run_block(block, cwd, aws.env)
    assert done.returncode == 0, (
        f"{block.id} failed (exit {done.returncode}):\n{block.source}\n"
        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    assert "Traceback" not in done.stderr


def test_a_block_that_fails_part_way_fails(aws: Aws, tmp_path: Path) -> None:
    # bash -e: a failing command in the middle of a block is not hidden by a later one.
    block = Block(tmp_path / "x.md", 1, RUNNABLE,
                  "lambdalayer build pg8000 --runtimes python3.12\nlambdalayer runtimes\n")
    done = run_block(block, tmp_path, aws.env)
    assert done.returncode == 2, done.stderr
    assert "--runtimes" in done.stderr
