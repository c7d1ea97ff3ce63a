"""Random mutants: mutation sites drawn at random, not chosen (chosen ones flatter).

Collects every site in the given functions of a module where a small, plausible
bug can be planted (a comparison flipped or moved across its boundary, `and`/`or`
swapped, a `not` dropped, a constant changed, an `if` made always/never true, a
statement deleted), draws `--count` of them with `--seed`, and runs `--tests`
against each in a scratch copy of the repository (as bench/mutation_run.py does).
A mutant is killed when the tests fail. Prints each mutant, the survivors' code
and the kill rate (aim: 9 in 10).

    python bench/random_mutants.py lambdalayer/common/interrupt.py \\
        --functions _handle,deferred,final_cleanup --count 20 \\
        --tests tests/unit/common/test_interrupt.py tests/unit/common/test_workdirs.py
"""

from __future__ import annotations

import argparse
import ast
import copy
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_run import ROOT, Mutation, _copy, _run

_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


def _sites(function: ast.AST) -> Iterator[tuple[ast.AST, str, ast.AST]]:
    """(node, description, replacement) for every mutation site under `function`."""
    for node in ast.walk(function):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIPS:
            new = copy.deepcopy(node)
            new.ops[0] = _FLIPS[type(node.ops[0])]()
            yield node, "comparison flipped", new
        elif isinstance(node, ast.BoolOp):
            new = copy.deepcopy(node)
            new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield node, "and/or swapped", new
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not dropped", copy.deepcopy(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, "bool flipped", ast.Constant(value=not node.value)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
              and not isinstance(node.value, bool)):
            yield node, "number changed", ast.Constant(value=node.value + 1)
        elif isinstance(node, ast.If):
            for value in (True, False):
                new = copy.deepcopy(node)
                new.test = ast.Constant(value=value)
                yield node, f"if always {value}", new
        elif isinstance(node, (ast.Expr, ast.Assign, ast.AugAssign, ast.Return, ast.Raise)):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # a docstring: deleting it changes nothing
            yield node, "statement deleted", ast.Pass()


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.old:
            return ast.copy_location(self.new, node)
        return super().visit(node)


def _all_sites(tree: ast.AST, functions: set[str]) -> Iterator[tuple[str, ast.AST, str,
                                                                       ast.AST]]:
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                not functions or function.name in functions):
            for node, what, new in _sites(function):
                yield function.name, node, what, new


def mutants(path: Path, functions: set[str]) -> list[tuple[str, str]]:
    """(label, mutated module source) for every site in `functions` of `path`."""
    source = path.read_text("utf-8")
    total = sum(1 for _ in _all_sites(ast.parse(source), functions))
    found = []
    for index in range(total):
        tree = ast.parse(source)  # a fresh tree per mutant: the transformer edits in place
        name, node, what, new = list(_all_sites(tree, functions))[index]
        mutated = _Replace(node, new).visit(tree)
        text = ast.unparse(ast.fix_missing_locations(mutated))
        found.append((f"{name}:{getattr(node, 'lineno', 0)} {what}", text))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--functions", default="", help="comma-separated; default: all")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--tests", nargs="+", required=True)
    args = parser.parse_args()
    path = ROOT / args.module
    every = mutants(path, {f for f in args.functions.split(",") if f})
    drawn = random.Random(args.seed).sample(every, min(args.count, len(every)))
    plain = ast.unparse(ast.parse(path.read_text("utf-8")))
    killed = 0
    with tempfile.TemporaryDirectory(prefix="lambdalayer-random-mutants-") as scratch:
        root = Path(scratch)
        _copy(root)
        # The mutated module is written as ast.unparse prints it; the unmutated copy is
        # too, so formatting alone never decides an outcome.
        (root / args.module).write_text(plain, "utf-8")
        for label, text in drawn:
            mutation = Mutation(label, args.module, plain, text, tuple(args.tests))
            outcome, seconds = _run(root, mutation, args.timeout)
            killed += outcome.startswith("killed")
            print(f"{label:<50} {outcome:<18} {seconds:6.1f} s", flush=True)
    print(f"random mutants of {args.module} ({len(every)} sites, {len(drawn)} drawn, "
          f"seed {args.seed}): {killed}/{len(drawn)} killed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
