"""The shell examples of README.md and docs/, found with Sybil's Markdown lexer.

A fence's info string says what a block is (docs/development.md):

- ```sh runnable    run by tests/integration/test_docs_examples.py, each block alone in
                    an empty directory;
- ```sh (bash, shell, console, make)   shown only; tests/unit/test_docs_commands.py parses every
                    `lambdalayer ...` command in them with the real CLI.

Sybil does the Markdown (fences inside lists, nested fences, line numbers); what runs a
block is `run_block` below.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE = "sh runnable"
SHOWN = ("sh", "bash", "shell", "console", "make")
# Seconds one runnable block may take: builds resolve against the real index.
BLOCK_TIMEOUT = 600


def pages() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One shell block: where it is, its info string and its text."""

    page: Path
    line: int
    language: str
    source: str

    @property
    def id(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"


def _examples(page: Path) -> Iterator[Example]:
    parsers = [CodeBlockParser(language=name, evaluator=_not_evaluated)
               for name in (RUNNABLE, *SHOWN)]
    yield from Document.parse(str(page), *parsers)


def _not_evaluated(example: Example) -> str:
    return "evaluated through run_block, with the test's environment"


def blocks(*languages: str) -> list[Block]:
    """The blocks of every page whose info string is one of `languages`."""
    found = []
    for page in pages():
        for example in _examples(page):
            language = str(example.region.lexemes["arguments"])
            if language in languages:
                found.append(Block(page, example.line, language, str(example.parsed)))
    return found


def run_block(block: Block, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a block as a reader pasting it into bash would, stopping at the first failure;
    `lambdalayer` is the one installed beside this interpreter."""
    path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", block.source],
        cwd=cwd, env={**env, "PATH": path}, capture_output=True, text=True,
        timeout=BLOCK_TIMEOUT, check=False)


# Where one shell command ends and the next begins, for splitting a block into commands.
_SEPARATORS = {"&&", "||", "|", ";", "&", "(", ")"}
_REDIRECTS = re.compile(r"^[0-9]*[<>]")


def commands(source: str) -> Iterator[list[str]]:
    """Each `lambdalayer ...` command of a shell text, as argv without the program name:
    continuation lines joined, `$ ` prompts and comments dropped, split at `&&`, `|`,
    `;`, and cut at a redirection."""
    joined = re.sub(r"\\\n", " ", source)
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in _SEPARATORS or _REDIRECTS.match(token):
                if words and words[0] == "lambdalayer":
                    yield words[1:]
                words = [] if token in _SEPARATORS else ["<redirected>"]
            elif not words or words[0] != "<redirected>":
                words.append(token)
