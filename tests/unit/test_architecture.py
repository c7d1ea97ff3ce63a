"""The package's shape: folders import one way, in the pipeline's order; only cli/ prints.

Read with `ast`, so it sees every import, including the lazy ones inside
functions and those under TYPE_CHECKING: a cycle there is still a cycle for a
reader. docs/architecture.md explains the layout this table enforces.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambdalayer"
# Scripts run *inside* the target interpreter: printing is their protocol.
SCRIPTS = {"lambdalayer.proof.in_target", "lambdalayer.proof.box"}

# Which folders each folder may import, top of the house first (docs/architecture.md).
# The CLI on top; then the project (config, recipes, locks, deploy plans) and the
# orchestration; then the stages in the pipeline's order, each importing only
# earlier ones; at the bottom the plumbing. `lambdalayer` itself (its version) is
# open to all.
_PLUMBING = {"common"}
_STAGES = ("targets", "interpreters", "resolve", "shrink", "audit", "proof", "archive", "aws",
           "supply", "reports")
# Your own files and projects: inputs to the resolver (its RequirementInputs), not a
# stage of their own; only the orchestration above uses them.
_OWN_CODE = {"owncode"}
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "targets": _PLUMBING,
    "interpreters": _PLUMBING | {"targets"},
    "resolve": _PLUMBING | {"targets", "interpreters"},
    "owncode": _PLUMBING | {"targets", "resolve"},
    "shrink": _PLUMBING | {"targets"},
    "audit": _PLUMBING | {"targets"},
    "proof": _PLUMBING | {"targets", "interpreters", "audit"},
    "archive": _PLUMBING | {"targets", "audit"},
    "aws": _PLUMBING | {"targets", "audit", "archive"},
    "supply": _PLUMBING | {"targets", "audit", "archive"},
    "reports": _PLUMBING | {"targets", "shrink", "audit", "archive", "aws", "supply"},
    "pipeline": _PLUMBING | set(_STAGES) | _OWN_CODE,
    "project": _PLUMBING | set(_STAGES) | _OWN_CODE | {"pipeline"},
    "cli": _PLUMBING | set(_STAGES) | _OWN_CODE | {"pipeline", "project"},
}
FOLDERS = tuple(ALLOWED)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `name` imports (a package counts as its __init__)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from pkg import mod` uses the module pkg.mod; `from mod import name`, mod.
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known
            found.update(submodules or {module})
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    # Guard the guard: a finder that always says "none" would pass the real test.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_import_each_other() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "modules that import each other: " + "; ".join(" <-> ".join(c)
                                                                       for c in cycles)


def test_request_types_import_nothing_of_the_pipeline() -> None:
    graph = _graph()
    reachable: set[str] = set()
    todo = ["lambdalayer.pipeline.request"]
    while todo:
        for nxt in graph[todo.pop()] - reachable:
            reachable.add(nxt)
            todo.append(nxt)
    pipeline = {"lambdalayer.pipeline.stages", "lambdalayer.pipeline.layer",
                "lambdalayer.resolve.resolver", "lambdalayer.shrink.apply", "lambdalayer.audit"}
    assert not reachable & pipeline


def _folder(module: str) -> str | None:
    """The package folder a module lives in; None for `lambdalayer` and its top modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) \
        else None


def _wrong_directions(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in sorted(graph.items()):
        source = _folder(module)
        for target in sorted(imported):
            dest = _folder(target)
            if dest is None or dest == source:
                continue
            if module == "lambdalayer.__main__":  # `python -m lambdalayer` runs the CLI
                continue
            if source is None or dest not in ALLOWED.get(source, set()):
                allowed = ", ".join(sorted(ALLOWED.get(source or "", ()))) or "nothing"
                rule = (f"{source}/ may import only {allowed}" if source in ALLOWED
                        else "top-level modules import no folder")
                wrong.append(f"{module} imports {target} ({rule})")
    return wrong


def test_every_folder_is_in_the_table() -> None:
    folders = {p.name for p in PACKAGE.iterdir()
               if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ALLOWED), "add the new folder to ALLOWED and docs/architecture.md"


def test_no_top_level_module_but_the_package_face() -> None:
    # Plumbing lives in common/; a loose module at the top has no place in the table.
    loose = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert not loose


def test_the_direction_finder_finds_a_wrong_import() -> None:
    graph = {"lambdalayer.audit.check": {"lambdalayer.aws.client"},
             "lambdalayer.aws.client": {"lambdalayer.common.errors"}}
    assert _wrong_directions(graph) == [
        "lambdalayer.audit.check imports lambdalayer.aws.client "
        "(audit/ may import only common, targets)"]


def test_folders_import_in_the_pipelines_order() -> None:
    wrong = _wrong_directions(_graph())
    assert not wrong, "imports against the house's direction:\n" + "\n".join(wrong)


def test_the_table_has_no_cycle() -> None:
    assert _cycles({folder: set(allowed) for folder, allowed in ALLOWED.items()}) == []


@pytest.mark.parametrize("stage", FOLDERS)
def test_each_stage_says_what_it_takes_and_gives(stage: str) -> None:
    init = PACKAGE / stage / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text("utf-8")))
    assert doc and len(doc.split()) >= 12, f"{init}: say what the stage takes and gives"


def _writes_to_terminal(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    if isinstance(owner, ast.Name):  # click.echo(...)
        return owner.id == "click" and func.attr in ("echo", "secho")
    # sys.stdout.write(...), sys.stderr.write(...)
    return isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) \
        and owner.value.id == "sys" and owner.attr in ("stdout", "stderr")


def _prints(path: Path) -> list[int]:
    """Lines that write to the user's terminal: print(), click.echo, rich, sys.std*.write."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Call) and _writes_to_terminal(node.func):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names]
            if any(n == "rich" or n.startswith("rich.") for n in names):
                lines.append(node.lineno)
    return sorted(lines)


def test_the_print_finder_sees_prints(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import sys\nprint(1)\nsys.stderr.write('x')\n"
                      "from rich.console import Console\nclick.echo('y')\n")
    assert _prints(sample) == [2, 3, 4, 5]


def test_only_the_cli_prints() -> None:
    offenders = {
        name: lines for name, path in _modules().items()
        if not name.startswith("lambdalayer.cli") and name not in SCRIPTS
        and (lines := _prints(path))
    }
    assert not offenders, f"core modules must return data, not print: {offenders}"


def _function_lengths() -> list[tuple[int, str]]:
    """(lines, "module:function") for every function of the package."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((node.end_lineno - node.lineno + 1 if node.end_lineno else 0,
                              f"{name}:{node.name}"))
    return sorted(found, reverse=True)


def test_functions_fit_a_screen() -> None:
    # At most two functions over 80 lines in the package (today: the bounded ELF reader
    # and the stage loop); every CLI command function within 60 (options, one call, render).
    long = [f"{where} ({lines} lines)" for lines, where in _function_lengths() if lines > 80]
    assert len(long) <= 2, long
    commands = [f"{where} ({lines} lines)" for lines, where in _function_lengths()
                if where.startswith("lambdalayer.cli.") and where.endswith("_command")
                and lines > 60]
    assert not commands, commands
