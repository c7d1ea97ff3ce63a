"""The documentation lives in the repository: docs/ explains the layout the architecture
test enforces, and code cites docs/ pages, never a document outside the repository or an
issue number a reader of a clone cannot look up."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from tests.unit.test_architecture import ALLOWED

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Everything under these folders is read: source, tests, data files, CI scripts and workflows.
SCANNED = ("lambdalayer", "tests", "bench", ".ci", ".github", "action")
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


# --- docs/architecture.md against the package -------------------------------------------
# The page names modules as `folder/module.py` (or `module.py` in its folder's row of the
# folders table) and code as `module.Name`, `folder/module.Name`, `folder.module.Name`,
# "`Name` (`folder/module.py`)" and "`folder/module.py` (`Name`, `Other`)". Each of those must
# exist where the page says, so that a move shows up here instead of in a reader's search.

PACKAGE = ROOT / "lambdalayer"
ARCHITECTURE = DOCS / "architecture.md"
BACKTICKED = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:[./][A-Za-z_]\w*)*")
# Libraries the page mentions by their own dotted names.
EXTERNAL = {"packaging"}
# File names, not Python names: `lambdalayer.toml`, `NAME.json`, `runtimes.toml`.
FILE_SUFFIXES = {"py", "toml", "json", "md", "yml", "yaml", "sh", "txt"}
# A row of the folders table: | `folder/` | what lives there |
FOLDER_ROW = re.compile(r"^\|\s*`([a-z_]+)/`\s*\|(.*)\|\s*$")


def _modules_on_disk() -> list[str]:
    """Every module of the package as a path below lambdalayer/ (`audit/elf.py`)."""
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                  if p.name != "__init__.py" and "__pycache__" not in p.parts)


def _folder_rows(lines: list[str]) -> dict[str, tuple[int, str]]:
    """The folders table's rows: folder -> (line number, the row's text)."""
    rows = {}
    for number, line in enumerate(lines, start=1):
        match = FOLDER_ROW.match(line)
        if match and (PACKAGE / match[1]).is_dir():
            rows[match[1]] = (number, match[2])
    return rows


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"))


def _defined(tree: ast.AST, *, imports: bool) -> dict[str, ast.AST]:
    """The names a module or class body binds (descending into if/try, not into defs)."""
    names: dict[str, ast.AST] = {}
    body = list(getattr(tree, "body", []))
    while body:
        node = body.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and imports:
            names.update(((a.asname or a.name).split(".")[0], node) for a in node.names)
        elif isinstance(node, (ast.If, ast.Try)):
            body[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "handlers", []),
                        *getattr(node, "finalbody", [])]
        elif isinstance(node, ast.ExceptHandler):
            body[:0] = node.body
    return names


def _has(module: Path, names: list[str]) -> str | None:
    """None when `names` (a name and its attributes) exist in `module`, else what is missing.

    A module binds its top-level names (a package's `__init__.py` also what it imports);
    a class its methods and fields. A single name may also be a member of one of the
    module's classes (`supported_tags` in "`target.py` (`Target.platforms`, `supported_tags`)").
    """
    rel = module.relative_to(ROOT).as_posix()
    scope = _defined(_parsed(module), imports=module.name == "__init__.py")
    if names[0] not in scope:
        if len(names) == 1 and any(names[0] in _defined(c, imports=False)
                                   for c in scope.values() if isinstance(c, ast.ClassDef)):
            return None
        return f"{rel} defines no `{names[0]}`"
    node = scope[names[0]]
    for depth, name in enumerate(names[1:], start=1):
        owner = ".".join(names[:depth])
        if not isinstance(node, ast.ClassDef):
            return f"`{owner}` in {rel} is not a class, so it has no `{name}`"
        members = _defined(node, imports=False)
        if name not in members:
            return f"class `{owner}` in {rel} has no `{name}`"
        node = members[name]
    return None


def _module_for(parts: list[str]) -> tuple[Path | None, list[str], str | None]:
    """Split a reference into (module file, the names inside it, the problem if any).

    `pipeline/stages.run_pipeline`, `pipeline.request.BuildRequest` and `lambdalayer.x`
    start from the package; `stages._audit` names a module by its unique file name;
    `Manifest.to_json` a class by its unique defining module. (None, [], None): not ours.
    """
    if parts[0] == "lambdalayer":
        parts = parts[1:]
    elif not (PACKAGE / parts[0]).is_dir():
        head = parts[0]
        if head in EXTERNAL:
            return None, [], None
        by_stem = sorted(PACKAGE.rglob(f"{head}.py"))
        by_class = [p for p in sorted(PACKAGE.rglob("*.py"))
                    if head[:1].isupper() and head in _defined(
                        _parsed(p), imports=False)]
        found = by_stem or by_class
        if len(found) != 1:
            where = ", ".join(p.relative_to(ROOT).as_posix() for p in found)
            why = f"is ambiguous ({where})" if found else "is no module or class of lambdalayer"
            return None, [], f"`{head}` {why}"
        return found[0], parts[1:] if by_stem else parts, None
    path = PACKAGE
    while parts and (path / parts[0]).is_dir():
        path, parts = path / parts[0], parts[1:]
    if parts and (path / f"{parts[0]}.py").is_file():
        return path / f"{parts[0]}.py", parts[1:], None
    return path / "__init__.py", parts, None   # a package: what its __init__.py binds


def _check_reference(span: str) -> str | None:
    """What is wrong with a backticked `span` that names our code; None if fine or not ours."""
    text = span.split("(", 1)[0]   # `write_zip(iter_tree(root), ...)`: the name before the call
    if not DOTTED.fullmatch(text) or "NAME" in text:
        return None   # flags, commands, globs, `NAME_cmd.py` placeholders, TOML keys
    if text.rsplit(".", 1)[-1] in FILE_SUFFIXES and "." in text:
        if "/" not in text:
            return None   # a file by its name alone (`lambdalayer.toml`); rows are checked apart
        head = text.split("/", 1)[0]
        if (PACKAGE / head).is_dir():
            return None if (PACKAGE / text).is_file() else f"no file lambdalayer/{text}"
        return None if (ROOT / text).is_file() or not (ROOT / head).is_dir() \
            else f"no file {text}"
    if "." not in text and "/" not in text:
        return None   # a bare name: checked only beside the module it belongs to
    parts = re.split(r"[./]", text)
    if "/" in text:
        if not (PACKAGE / parts[0]).is_dir():
            return None   # a path outside the package (`python/lib`, `tests/unit`)
        path = text.split(".", 1)[0]   # `resolve/install.lay_out`: the module is a path
        if not (PACKAGE / f"{path}.py").is_file() and not (PACKAGE / path).is_dir():
            return f"no module lambdalayer/{path}.py"
    module, names, problem = _module_for(parts)
    if problem or module is None:
        return problem
    if not module.is_file():
        return f"no module {module.relative_to(ROOT).as_posix()}"
    return _has(module, names) if names else None


def _parenthesised(text: str, start: int) -> str:
    """The text of the parenthesis opening at `start`, without the nested ones inside it."""
    depth, kept = 0, []
    for char in text[start:]:
        depth += (char == "(") - (char == ")")
        if depth == 0:
            break
        if depth == 1 and char not in "()":
            kept.append(char)
    return "".join(kept)


def _listed_names(inside: str) -> list[str]:
    """The backticked names that are items of a list: `(`a`, `b.c`: what they do)`."""
    items = []
    for match in BACKTICKED.finditer(inside):
        before, after = inside[:match.start()].rstrip(), inside[match.end():].lstrip()
        name = match[1].split("(", 1)[0]
        if (not before or before[-1] in ",;") and (not after or after[0] in ",;:") \
                and DOTTED.fullmatch(name) and "/" not in name \
                and name.rsplit(".", 1)[-1] not in FILE_SUFFIXES:
            items.append(name)
    return items


def _module_path(span: str, folder: str | None) -> Path | None:
    """The module a `folder/module.py` span names (or `module.py` in `folder`'s row)."""
    if not re.fullmatch(r"(?:[a-z_]+/)*\w+\.py", span) or "NAME" in span:
        return None
    if span.startswith("lambdalayer/"):   # `lambdalayer/__main__.py`
        return PACKAGE / span.split("/", 1)[1]
    if "/" in span:
        return PACKAGE / span if (PACKAGE / span.split("/")[0]).is_dir() else None
    return PACKAGE / folder / span if folder else None


@functools.cache
def _architecture_problems(page: str) -> tuple[list[str], list[str]]:
    """(modules the page does not name, mentions that do not resolve), each a line to print."""
    lines = page.splitlines()
    rows = _folder_rows(lines)
    row_of_line = {number: folder for folder, (number, _) in rows.items()}
    named: set[str] = set()
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        folder = row_of_line.get(number)
        for match in BACKTICKED.finditer(line):
            span = match[1]
            where = f"line {number}: `{span}`"
            module = _module_path(span, folder)
            if module is not None:
                rel = module.relative_to(PACKAGE).as_posix()
                named.add(rel)
                if not module.is_file():
                    problems.append(f"{where}: no module lambdalayer/{rel}")
                    continue
                after = line[match.end():]
                if after.lstrip().startswith("("):
                    start = match.end() + len(after) - len(after.lstrip())
                    for name in _listed_names(_parenthesised(line, start)):
                        problem = _has(module, name.split("."))
                        if problem:
                            problems.append(f"{where} (`{name}`): {problem}")
                continue
            ref = re.fullmatch(r"([a-z_]+)/(\w+)(?:\..*)?", span.split("(", 1)[0])
            if ref:
                named.add(f"{ref[1]}/{ref[2]}.py")
            problem = _check_reference(span)
            if problem:
                problems.append(f"{where}: {problem}")
        # "`Name` (`folder/module.py`": the name lives in that module.
        for name, path in re.findall(r"`([\w.]+)`\s*\(`([a-z_]+/\w+\.py)`", line):
            module = PACKAGE / path
            parts = name.split(".")
            while len(parts) > 1 and (parts[0] in rows or parts[0] == module.stem):
                parts = parts[1:]   # `audit.audit_layer` (`audit/check.py`): audit_layer there
            problem = _has(module, parts) if module.is_file() else None
            if problem:
                problems.append(f"line {number}: `{name}` (`{path}`): {problem}")
    unnamed = [f"lambdalayer/{m}" for m in _modules_on_disk() if m not in named]
    return unnamed, problems


def test_the_architecture_page_names_every_module() -> None:
    unnamed, _ = _architecture_problems(ARCHITECTURE.read_text("utf-8"))
    assert not unnamed, (
        "docs/architecture.md does not name these modules; add each as `folder/module.py` "
        "or as `module.py` in its folder's row of the folders table:\n  " + "\n  ".join(unnamed))


def test_what_the_architecture_page_names_exists_where_it_says() -> None:
    _, problems = _architecture_problems(ARCHITECTURE.read_text("utf-8"))
    assert not problems, (
        "docs/architecture.md names code that is not where it says (fix the page, or the "
        "code if the page is right):\n  " + "\n  ".join(problems))


def test_the_architecture_checks_find_what_they_are_for() -> None:
    # Guard the guards: a page with one of each kind of mention, right and wrong.
    page = "\n".join([
        "| `audit/` | `elf.py`, `zipgone.py` (x), `check.py` (`audit_layer`, `gone_fn`: y) |",
        "`stages.run_pipeline` then `stages._gone`; `resolve/still_current`, `resolve/gone`",
        "`pipeline.request.BuildRequest`, `pipeline/request.Gone`, `pipeline/gone.py`",
        '`Target.parse("python3.12", "arm64")`, `Target.gone`, `Nowhere.x`, `packaging.tags`',
        "`audit.audit_layer` (`audit/check.py`), `audit_layer` (`audit/elf.py`)",
        "`cli/NAME_cmd.py`, `--arch`, `lambdalayer.toml`, `python/lib/`, `lambdalayer.__version__`",
        "`targets/target.py` (`Target.platforms`, `supported_tags`, into `BuildRequest`s)",
    ])
    unnamed, problems = _architecture_problems(page)
    for named in ("audit/elf.py", "audit/check.py", "resolve/still_current.py",
                  "pipeline/request.py", "targets/target.py"):
        assert f"lambdalayer/{named}" not in unnamed
    assert "lambdalayer/pipeline/stages.py" in unnamed   # by its file name alone: not named
    assert problems == [
        "line 1: `zipgone.py`: no module lambdalayer/audit/zipgone.py",
        "line 1: `check.py` (`gone_fn`): lambdalayer/audit/check.py defines no `gone_fn`",
        "line 2: `stages._gone`: lambdalayer/pipeline/stages.py defines no `_gone`",
        "line 2: `resolve/gone`: no module lambdalayer/resolve/gone.py",
        "line 3: `pipeline/request.Gone`: lambdalayer/pipeline/request.py defines no `Gone`",
        "line 3: `pipeline/gone.py`: no module lambdalayer/pipeline/gone.py",
        "line 4: `Target.gone`: class `Target` in lambdalayer/targets/target.py has no `gone`",
        "line 4: `Nowhere.x`: `Nowhere` is no module or class of lambdalayer",
        "line 5: `audit_layer` (`audit/elf.py`): lambdalayer/audit/elf.py defines no "
        "`audit_layer`",
    ]
