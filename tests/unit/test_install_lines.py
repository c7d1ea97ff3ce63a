"""Every install line in the README, docs/, examples/ and action.yml names a ref this
repository has (docs/development.md#releasing): `pip install "git+https://…/lambdalayer@REF"`
and `uses: OWNER/lambdalayer@REF` must work as written, today, not after a release."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = {".md", ".yml", ".yaml", ".toml", ".txt", ".py", ".sh", ""}
# This repository, as the docs spell it (OWNER is the placeholder a reader replaces).
OURS = re.compile(r"(?:git\+https://github\.com/)?OWNER/lambdalayer(?:\.git)?@([\w./+-]+)")
INSTALL = re.compile(r"^\s*(?:-\s+)?uses:|pip3? install|pipx install|uv tool install|uvx|"
                     r"uv pip install|uv add")


def install_refs(text: str) -> list[tuple[int, str]]:
    """(line number, REF) for each ref of this repository on an install line."""
    return [(number, match.group(1).rstrip(".\"'`)"))
            for number, line in enumerate(text.splitlines(), 1) if INSTALL.search(line)
            for match in OURS.finditer(line)]


def _documents() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "action.yml"]
    for folder in ("docs", "examples"):
        found += [p for p in sorted((ROOT / folder).rglob("*"))
                  if p.is_file() and p.suffix in TEXT and "node_modules" not in p.parts]
    return found


def _git(*args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.split() if done.returncode == 0 else []


def known_refs() -> set[str]:
    refs = set(_git("tag", "--list"))
    refs |= set(_git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads"))
    refs |= {r.split("/", 1)[1] for r in
             _git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/remotes") if "/" in r}
    if not refs - set(_git("tag", "--list")):
        # A CI checkout of one commit has no branch refs: the default branch is the one the
        # project's URLs name (pyproject.toml, [project.urls]).
        refs |= set(re.findall(r"github\.com/OWNER/lambdalayer/(?:blob|tree)/([\w.-]+)/",
                               (ROOT / "pyproject.toml").read_text("utf-8")))
    return refs


def test_the_parser_finds_refs_on_install_lines_only() -> None:
    text = ('pip install "git+https://github.com/OWNER/lambdalayer@v1"\n'
            "      - uses: OWNER/lambdalayer@main   # comment\n"
            "pip install git+https://github.com/OWNER/lambdalayer\n"
            "Prose naming `uses: OWNER/lambdalayer@v1` for later.\n")
    assert install_refs(text) == [(1, "v1"), (2, "main")]


def test_every_install_line_names_a_ref_that_exists() -> None:
    refs = known_refs()
    missing = [f"{path.relative_to(ROOT)}:{number}: @{ref}"
               for path in _documents()
               for number, ref in install_refs(path.read_text("utf-8", errors="replace"))
               if ref not in refs and not (re.fullmatch(r"[0-9a-f]{7,40}", ref)
                                           and _git("cat-file", "-t", ref) == ["commit"])]
    assert not missing, ("install lines naming a tag or branch this repository does not have "
                         "(use no ref, or one that exists):\n" + "\n".join(missing))
