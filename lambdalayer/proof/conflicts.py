"""A failed import whose cause lies in another distribution of the layer.

`from amazon.ion.simple_types import _IonNature` in ionhash fails once amazon-ion
drops `_IonNature`: ionhash's own files are fine, the pair no longer fits. The
interpreter says so in two shapes, which name the module that lacks something:

    ImportError: cannot import name '_IonNature' from 'amazon.ion.simple_types' (...)
    AttributeError: module 'amazon.ion' has no attribute 'x'

When that module belongs to another distribution of the layer, and that module as the
layer holds it does not define the name (`defines`: its source read, not run), the
failure is a `Conflict` naming both distributions and their versions. The message alone
is never enough: any code can raise an ImportError with that text, and a pin made on its
word would downgrade a distribution that is not the cause.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '([\w.]+)'")
_NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '([^']+)'")


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """`dist` (at `version`) needs `name` from `module`, which `provider` at
    `provider_version` in the layer does not have."""

    dist: str
    version: str
    provider: str
    provider_version: str
    name: str
    module: str

    def describe(self) -> str:
        return (f"{self.dist} {self.version} needs `{self.name}` from {self.provider} "
                f"({self.module}), which {self.provider} {self.provider_version} in the layer "
                f"does not have: the two releases do not fit together")


def find_conflict(dist: str, error: str | None, owners: Mapping[str, str],
                  versions: Mapping[str, str],
                  roots: Sequence[Path] = ()) -> Conflict | None:
    """The Conflict behind `dist`'s import error, or None when the error is not about a
    module of another distribution in the layer, or when that module (looked up in
    `roots`, the import roots) defines the name after all. `owners` maps top-level module
    names to distributions, `versions` distributions to their versions."""
    if not error:
        return None
    match = _CANNOT_IMPORT.search(error)
    if match:
        name, module = match.group(1), match.group(2)
    else:
        match = _NO_ATTRIBUTE.search(error)
        if not match:
            return None
        module, name = match.group(1), match.group(2)
    provider = owners.get(module.split(".", 1)[0])
    if provider is None or provider == dist:
        return None
    if roots and defines(roots, module, name) is True:
        return None  # the text says something the provider's own source contradicts
    return Conflict(dist=dist, version=versions.get(dist, "?"), provider=provider,
                    provider_version=versions.get(provider, "?"), name=name, module=module)


_SOURCE_LIMIT = 4 << 20  # bytes of one module's source read to judge it


def defines(roots: Sequence[Path], module: str, name: str) -> bool | None:
    """Whether `module` (found below one of `roots`) binds `name` at its top level or has
    a submodule of that name: True, False, or None when its source cannot tell (not
    found, compiled, too large, or names made at run time: `import *`, `__getattr__`)."""
    for root in roots:
        base = root.joinpath(*module.split("."))
        if base.is_dir():
            if ((base / name).is_dir() or (base / f"{name}.py").is_file()
                    or any(base.glob(f"{name}.*.so"))):
                return True
            source = base / "__init__.py"
        else:
            source = base.with_name(base.name + ".py")
        if source.is_file():
            return _binds(source, name)
    return None


def _binds(source: Path, name: str) -> bool | None:
    try:
        if source.stat().st_size > _SOURCE_LIMIT:
            return None
        tree = ast.parse(source.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    bound: set[str] = set()
    dynamic = False
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    dynamic = True
                bound.add(alias.asname or alias.name.split(".", 1)[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    if name in bound:
        return True
    return None if dynamic or "__getattr__" in bound or "globals" in _called(tree) else False


def _top_level(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The module's statements and the names they store, into if/try/with/for blocks but
    not into functions or classes (their bodies bind nothing at module level)."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                yield from _top_level([child])
            else:
                yield from (n for n in ast.walk(child) if isinstance(n, ast.Name))


def _called(tree: ast.Module) -> set[str]:
    return {n.func.id for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
