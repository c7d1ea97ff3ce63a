"""examples/makenaide's committed lock files are for runtimes its project supports
(`requires-python`), so `lambdalayer build --locked` there builds what the example says."""

from __future__ import annotations

from pathlib import Path

from packaging.specifiers import SpecifierSet

from lambdalayer.common._toml import loads

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "makenaide"


def test_makenaide_locks_target_only_runtimes_its_project_supports() -> None:
    project = loads((EXAMPLE / "pyproject.toml").read_text("utf-8"))["project"]
    supported = SpecifierSet(project["requires-python"])
    locks = sorted((EXAMPLE / "locks").rglob("*.txt"))
    assert locks
    wrong = [str(p.relative_to(EXAMPLE)) for p in locks
             if p.stem.split("-")[0].removeprefix("python") not in supported]
    assert not wrong, f"lock files for runtimes below {supported}: {wrong}"
