"""`--slim`: what it removes from an installed tree, and what it must leave alone."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.shrink.slim import plan_slim, slim_tree


def make(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


TREE = {
    "pkg/__init__.py": b"from . import core\n",
    "pkg/core.py": b"x = 1\n",
    "pkg/data/table.csv": b"a,b\n1,2\n",  # loaded at import: stays
    "pkg/templates/page.tpl": b"<html/>",
    "pkg/tests/__init__.py": b"",
    "pkg/tests/test_core.py": b"def test(): pass\n" * 10,
    "pkg/sub/test/data.bin": b"\0" * 100,
    "pkg/_ext.c": b"int x;\n",
    "pkg/include/pkg/api.h": b"#define X 1\n",
    "pkg/src/impl.cpp": b"int y;\n",
    "pkg/_speed.pyx": b"cdef int z\n",
    "pkg/_speed.pxd": b"cdef int z\n",
    "pkg/core.pyi": b"x: int\n",
    "pkg/docs/index.rst": b"Docs\n",
    "pkg/examples/demo.ipynb": b"{}",
    "pkg/examples/more/readme.txt": b"x",
    "pkg/benchmarks/bench_core.py": b"pass\n",
    # botocore imports botocore.docs to build its clients: an importable "docs" stays.
    "sdk/__init__.py": b"",
    "sdk/docs/__init__.py": b"",
    "sdk/docs/docstring.py": b"class D: pass\n",
    # Metadata is never touched, whatever its content looks like.
    "pkg-1.0.dist-info/METADATA": b"Name: pkg\n",
    "pkg-1.0.dist-info/tests/x.h": b"",
}


def relative(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_slim_removes_tests_sources_stubs_and_docs_but_nothing_an_import_needs(
    tmp_path: Path,
) -> None:
    root = make(tmp_path / "site", TREE)
    removed = slim_tree(root)
    assert relative(root) == {
        "pkg/__init__.py", "pkg/core.py", "pkg/data/table.csv", "pkg/templates/page.tpl",
        "pkg/benchmarks/bench_core.py",
        "sdk/__init__.py", "sdk/docs/__init__.py", "sdk/docs/docstring.py",
        "pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/tests/x.h",
    }
    assert removed.files == 12
    assert removed.size == sum(len(v) for k, v in TREE.items()
                               if k not in relative(root))


def test_plan_counts_bytes_per_reason_and_changes_nothing(tmp_path: Path) -> None:
    root = make(tmp_path / "site", TREE)
    before = relative(root)
    plan = plan_slim(root)
    assert relative(root) == before
    assert plan.by_reason["test directories"] == len(b"def test(): pass\n" * 10) + 100
    assert plan.by_reason["docs and examples"] == len(b"Docs\n") + 2 + 1
    assert sum(plan.by_reason.values()) == plan.size


def test_extra_patterns_from_recipes_and_config(tmp_path: Path) -> None:
    root = make(tmp_path / "site", TREE)
    slim_tree(root, ("pkg/benchmarks", "*.tpl", "*.dist-info/*"))
    left = relative(root)
    assert "pkg/benchmarks/bench_core.py" not in left
    assert "pkg/templates/page.tpl" not in left
    assert "pkg-1.0.dist-info/METADATA" in left  # never, even when a pattern matches


def test_unlinking_leaves_hard_linked_cache_copies_intact(tmp_path: Path) -> None:
    root = make(tmp_path / "site", {"pkg/tests/test_a.py": b"cached bytes"})
    cache_copy = tmp_path / "uv-cache-file"
    cache_copy.hardlink_to(root / "pkg/tests/test_a.py")
    slim_tree(root)
    assert cache_copy.read_bytes() == b"cached bytes"
