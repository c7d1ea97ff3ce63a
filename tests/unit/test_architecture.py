"""The package's shape: stages import each other in one direction, only cli/ prints.

Read with `ast`, so it sees every import, including the lazy ones inside
functions and those under TYPE_CHECKING: a cycle there is still a cycle for a
reader, and it is what made `build` -> `pipeline` -> `build` hard to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambdalayer"
STAGES = ("targets", "build", "shrink", "audit", "proof", "project", "aws", "cli")
# Scripts run *inside* the target interpreter: printing is their protocol.
SCRIPTS = {"lambdalayer.proof.smoke_runner"}


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
    todo = ["lambdalayer.build.request"]
    while todo:
        for nxt in graph[todo.pop()] - reachable:
            reachable.add(nxt)
            todo.append(nxt)
    pipeline = {"lambdalayer.build.pipeline", "lambdalayer.build.layer",
                "lambdalayer.build.resolve", "lambdalayer.shrink.apply", "lambdalayer.audit"}
    assert not reachable & pipeline


@pytest.mark.parametrize("stage", STAGES)
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
