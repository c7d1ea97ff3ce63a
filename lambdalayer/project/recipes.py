"""Recipes: named, reviewed requirement sets shipped as TOML files.

Built-in recipes live in the repository's `recipes/` directory and ride inside
the wheel as `lambdalayer/recipes/` (see pyproject.toml), so a non-editable
install finds them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from lambdalayer.common import _toml
from lambdalayer.common.errors import ConfigError, UsageError
from lambdalayer.pipeline.recipe import Recipe
from lambdalayer.resolve.requirements import parse_spec
from lambdalayer.targets.runtimes import load_runtime_table

__all__ = ["Recipe", "builtin_recipe_dir", "get_recipe", "load_recipes"]

_FIELDS: dict[str, type] = {
    "name": str, "description": str, "requirements": list, "runtimes": list,
    "architectures": list, "license": str, "proof_imports": list, "notes": str,
    "alternatives": list, "slim_patterns": list,
}
_REQUIRED = ("name", "requirements")


def builtin_recipe_dir() -> Path:
    """`lambdalayer/recipes` in an installed wheel; the repository's `recipes/` otherwise."""
    # A plain path, not importlib.resources: this runs on every build (start-up time).
    package = Path(__file__).resolve().parent.parent
    packaged = package / "recipes"
    if packaged.is_dir():
        return packaged
    return package.parent / "recipes"


def parse_recipe(text: str, source: str, *, builtin: bool) -> Recipe:
    """Parse and validate one recipe; ConfigError naming the file and the field otherwise."""
    try:
        data: dict[str, Any] = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(f"Recipe {source} is not valid TOML: {exc}.") from None
    for key, value in data.items():
        if key not in _FIELDS:
            import difflib

            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            nearest = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"Recipe {source}: unknown field {key!r}{nearest}.")
        if not isinstance(value, _FIELDS[key]):
            raise ConfigError(
                f"Recipe {source}: field {key!r} must be a {_FIELDS[key].__name__}."
            )
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"Recipe {source}: field {key!r} must be a list of strings.")
    for key in _REQUIRED:
        if not data.get(key):
            raise ConfigError(f"Recipe {source}: field {key!r} is required.")
    table = load_runtime_table()
    try:
        for spec in data["requirements"]:
            parse_spec(spec, origin="field 'requirements'")
        runtimes = tuple(table.runtime(r).name for r in data.get("runtimes", []))
        archs = tuple(table.architecture(a) for a in data.get("architectures", []))
    except UsageError as exc:
        raise ConfigError(f"Recipe {source}: {exc}") from None
    return Recipe(
        name=data["name"],
        requirements=tuple(data["requirements"]),
        description=data.get("description", ""),
        runtimes=runtimes,
        architectures=archs,
        license=data.get("license"),
        proof_imports=tuple(data.get("proof_imports", [])),
        notes=data.get("notes", ""),
        alternatives=tuple(data.get("alternatives", [])),
        slim_patterns=tuple(data.get("slim_patterns", [])),
        source=source,
        text=text,
        builtin=builtin,
    )


def load_recipes(extra_dirs: tuple[Path, ...] = ()) -> dict[str, Recipe]:
    """Built-in recipes, then those in `extra_dirs`; a user recipe with a built-in's name
    replaces it and records which one in `shadows`."""
    recipes: dict[str, Recipe] = {}
    dirs = [(builtin_recipe_dir(), True), *((d, False) for d in extra_dirs)]
    for directory, builtin in dirs:
        if not directory.is_dir():
            if not builtin:
                raise ConfigError(f"Recipe directory {directory} does not exist.")
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"Cannot read recipe {path}: {exc}.") from None
            recipe = parse_recipe(text, str(path), builtin=builtin)
            previous = recipes.get(recipe.name)
            if previous is not None and previous.builtin and not builtin:
                recipe = replace(recipe, shadows=previous.source)
            recipes[recipe.name] = recipe
    return recipes


def _declared_name(path: Path) -> str | None:
    try:
        value = _toml.loads(path.read_text("utf-8")).get("name")
    except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError):
        return None  # load_recipes reports it properly
    return value if isinstance(value, str) else None


def get_recipe(name: str, extra_dirs: tuple[Path, ...] = ()) -> Recipe:
    """The recipe called `name` (user directories shadow built-ins); UsageError otherwise.

    Only the matching file is fully validated: validating every requirement of
    every recipe would load packaging's parser on the up-to-date build path.
    """
    builtin_files = sorted(builtin_recipe_dir().glob("*.toml"))
    builtin = next((p for p in builtin_files if _declared_name(p) == name), None)
    for directory in reversed(extra_dirs):
        if not directory.is_dir():
            raise ConfigError(f"Recipe directory {directory} does not exist.")
        for path in sorted(directory.glob("*.toml")):
            if _declared_name(path) == name:
                recipe = parse_recipe(path.read_text("utf-8"), str(path), builtin=False)
                return replace(recipe, shadows=str(builtin) if builtin else None)
    if builtin is not None:
        return parse_recipe(builtin.read_text("utf-8"), str(builtin), builtin=True)
    recipes = load_recipes(extra_dirs)
    import difflib

    close = difflib.get_close_matches(name, list(recipes), n=1)
    nearest = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"No recipe called {name!r}.{nearest} Built-in recipes: {', '.join(sorted(recipes))}. "
        f"To build your own packages, name the layer and list them: "
        f"`lambdalayer build {name} -p PACKAGE` or `-r requirements.txt`."
    )
