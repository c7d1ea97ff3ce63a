"""The recipe a build request may carry (project/recipes.py reads them from TOML).

Its own module, importing nothing, so that `lambdalayer recipes` does not pay for the
request types' imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A named, reviewed requirement set (a recipe file under recipes/, or a user's)."""

    name: str
    requirements: tuple[str, ...]
    description: str = ""
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    license: str | None = None
    proof_imports: tuple[str, ...] = ()
    notes: str = ""
    alternatives: tuple[str, ...] = ()
    slim_patterns: tuple[str, ...] = ()  # extra globs `--slim` drops for this recipe
    source: str = ""  # the file it came from
    text: str = field(default="", repr=False)
    builtin: bool = True
    shadows: str | None = None  # the built-in recipe file this user recipe replaces
