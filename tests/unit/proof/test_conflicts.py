"""The conflict analysis reads the provider's source: a name it defines is no conflict,
whatever an error message says (proof/conflicts.py)."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.proof.conflicts import defines, find_conflict

OWNERS = {"ll_ion": "ll-ion", "ll_liar": "ll-liar"}
VERSIONS = {"ll-ion": "0.15.0", "ll-liar": "1.0"}


def _module(root: Path, source: str) -> Path:
    package = root / "ll_ion"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "simple_types.py").write_text(source)
    (package / "sub").mkdir()
    return root


def test_names_bound_at_top_level_or_as_submodules_are_defined(tmp_path: Path) -> None:
    root = _module(tmp_path, "import os as o\nfrom x import y\nif True:\n    class A: pass\n"
                             "try:\n    B = 1\nexcept Exception:\n    pass\n"
                             "def f():\n    hidden = 1\n")
    for name in ("o", "y", "A", "B", "f"):
        assert defines([root], "ll_ion.simple_types", name) is True, name
    assert defines([root], "ll_ion.simple_types", "hidden") is False
    assert defines([root], "ll_ion", "sub") is True
    assert defines([root], "ll_ion.absent", "x") is None


def test_names_made_at_run_time_cannot_be_judged(tmp_path: Path) -> None:
    root = _module(tmp_path, "from os.path import *\n")
    assert defines([root], "ll_ion.simple_types", "join") is None
    (root / "ll_ion" / "simple_types.py").write_text("def __getattr__(n):\n    return n\n")
    assert defines([root], "ll_ion.simple_types", "anything") is None


def test_an_error_text_the_source_contradicts_is_no_conflict(tmp_path: Path) -> None:
    root = _module(tmp_path, "class Other: pass\n")
    lie = "ImportError: cannot import name 'Other' from 'll_ion.simple_types' (x)"
    assert find_conflict("ll-liar", lie, OWNERS, VERSIONS, [root]) is None
    true = lie.replace("'Other'", "'_Nature'")
    conflict = find_conflict("ll-liar", true, OWNERS, VERSIONS, [root])
    assert conflict is not None and conflict.provider == "ll-ion"
