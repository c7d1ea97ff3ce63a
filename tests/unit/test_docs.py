"""The documentation lives in the repository: docs/ explains the layout the architecture
test enforces, and code cites docs/ pages, never a document outside the repository or an
issue number a reader of a clone cannot look up."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_architecture import ALLOWED

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Everything under these folders is read: source, tests, data files, CI scripts.
SCANNED = ("lambdalayer", "tests", "bench", ".ci")
# Written so that this file does not match them itself.
OUTSIDE_DOC = re.compile("DESIGN" + r"\.md")
ISSUE_NUMBER = re.compile(r"\b[Ii]ssues? ?#?\d+\b")
DOCS_PAGE = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)")


def _files(*folders: str) -> list[Path]:
    """Every file below `folders`, except the bytecode Python writes beside the sources."""
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def test_the_patterns_find_what_they_are_for() -> None:
    # Guard the guards: built from pieces so that this file stays clean.
    issue = "iss" + "ue"
    for text in (f"({issue} 16)", f"{issue.title()} #3", f"--- {issue} 15 (x)", f"{issue}s 11"):
        assert ISSUE_NUMBER.search(text), text
    for text in (f"{issue}s with uv", "tissue 3", f"the {issue}'s layer"):
        assert not ISSUE_NUMBER.search(text), text
    assert OUTSIDE_DOC.search("see " + "DESIGN" + ".md §2")
    assert DOCS_PAGE.findall("(docs/lambda-facts.md), docs/zip-format.md.") == [
        "lambda-facts.md", "zip-format.md"]


def test_the_architecture_page_names_every_folder() -> None:
    page = DOCS / "architecture.md"
    assert page.is_file(), "docs/architecture.md explains the folders and their directions"
    text = page.read_text("utf-8")
    missing = [folder for folder in ALLOWED if f"`{folder}/`" not in text]
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_the_architecture_page_has_the_direction_table() -> None:
    rows = {}
    for line in (DOCS / "architecture.md").read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].strip("`") in ALLOWED and "/" not in cells[0]:
            rows[cells[0].strip("`")] = cells[1]
    assert set(rows) == set(ALLOWED)
    stages = {"targets", "interpreters", "resolve", "shrink", "audit", "proof", "archive",
              "aws", "supply", "reports"}
    for folder, allowed in ALLOWED.items():
        named = set(re.findall(r"`([a-z_]+)`", rows[folder]))
        if "every stage" in rows[folder]:
            named |= stages
        assert named == allowed, f"{folder}: the page says {sorted(named)}, " \
                                 f"ALLOWED says {sorted(allowed)}"


def test_nothing_cites_a_document_outside_the_repository_or_an_issue_number() -> None:
    found = []
    for path in _files(*SCANNED):
        for number, line in enumerate(_text(path).splitlines(), start=1):
            if OUTSIDE_DOC.search(line) or ISSUE_NUMBER.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "cite a docs/ page or say what it checks instead:\n" + "\n".join(found)


def test_every_cited_docs_page_exists() -> None:
    # Not tests/: their fixtures use docs/ paths as data (gitignore patterns, slimming).
    missing = []
    for path in _files("lambdalayer", "bench", ".ci"):
        for page in DOCS_PAGE.findall(_text(path)):
            if not (DOCS / page).is_file():
                missing.append(f"{path.relative_to(ROOT)} cites docs/{page}")
    assert not missing, "\n".join(missing)


def test_links_between_pages_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in MARKDOWN_LINK.findall(page.read_text("utf-8")):
            if not (page.parent / target).is_file():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_guide_whose_commands_ci_runs() -> None:
    # The reference lives in docs/; the README stays a guide a newcomer reads through.
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 350
    # .ci/run ends with the README's test command, verbatim.
    ci_command = (ROOT / ".ci" / "run").read_text("utf-8").strip().splitlines()[-1]
    assert ci_command == "pip install -e '.[test]' && python -m pytest"
    assert f"\n{ci_command}\n" in readme
    assert "\npip install . && lambdalayer build pg8000\n" in readme
    assert "Python ≥ 3.10" in readme
    # On PyPI the distribution is lambdalayer-cli ("lambdalayer" is too close to lambda-layer).
    assert not re.search(r"install lambdalayer(?!-cli)\b", readme), "PyPI: lambdalayer-cli"
