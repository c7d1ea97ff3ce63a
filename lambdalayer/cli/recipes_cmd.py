"""`lambdalayer recipes`: the built-in and user recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lambdalayer.cli import cli
from lambdalayer.cli.options import json_option
from lambdalayer.cli.output import human_console, print_json
from lambdalayer.project.recipes import Recipe


def recipe_json(recipe: Recipe) -> dict[str, Any]:
    return {
        "name": recipe.name, "description": recipe.description,
        "requirements": list(recipe.requirements), "runtimes": list(recipe.runtimes),
        "architectures": list(recipe.architectures), "license": recipe.license,
        "proof_imports": list(recipe.proof_imports), "alternatives": list(recipe.alternatives),
        "notes": recipe.notes, "source": recipe.source, "builtin": recipe.builtin,
        "shadows": recipe.shadows,
    }


def _recipe_dirs(recipes_dir: Path | None) -> tuple[Path, ...]:
    from lambdalayer.project.config import load_config

    return load_config().recipe_dirs(recipes_dir)


@cli.group("recipes", invoke_without_command=True)
@click.option("--recipes", "recipes_dir", type=click.Path(path_type=Path, file_okay=False),
              metavar="DIRECTORY",
              help="A directory of your own recipes (overrides the config's `recipes`).")
@json_option
@click.pass_context
def recipes_group(ctx: click.Context, recipes_dir: Path | None, as_json: bool) -> None:
    """List the built-in recipes and yours (from the config's `recipes` or --recipes).

    A recipe is a reviewed TOML file: requirements, targets, license, the imports
    its proof tries, and alternatives. `lambdalayer build NAME` builds one.
    """
    ctx.obj = recipes_dir
    if ctx.invoked_subcommand is not None:
        return
    from lambdalayer.project.recipes import load_recipes

    recipes = load_recipes(_recipe_dirs(recipes_dir))
    if as_json:
        print_json({"recipes": [recipe_json(r) for r in recipes.values()]})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Recipes")
    for column in ("name", "description", "source"):
        table.add_column(column, overflow="fold")
    for recipe in recipes.values():
        origin = "built-in" if recipe.builtin else escape(recipe.source)
        if recipe.shadows:
            origin += " [yellow](replaces the built-in)[/]"
        table.add_row(recipe.name, escape(recipe.description), origin)
    human_console().print(table)


@recipes_group.command("show")
@click.argument("name")
@click.option("--recipes", "recipes_dir", type=click.Path(path_type=Path, file_okay=False),
              metavar="DIRECTORY",
              help="A directory of your own recipes (overrides the config's `recipes`).")
@json_option
@click.pass_context
def recipes_show(ctx: click.Context, name: str, recipes_dir: Path | None,
                 as_json: bool) -> None:
    """Show one recipe: what it installs, for which targets, and why."""
    from lambdalayer.project.recipes import get_recipe

    recipe = get_recipe(name, _recipe_dirs(recipes_dir or ctx.obj))
    if as_json:
        print_json({"recipe": recipe_json(recipe)})
        return
    from rich.markup import escape

    console = human_console()
    console.print(f"[bold]{escape(recipe.name)}[/] — {escape(recipe.description)}")
    console.print(f"  source: {escape(recipe.source)}"
                  + (f" (replaces the built-in {escape(recipe.shadows)})" if recipe.shadows
                     else ""))
    console.print(f"  requirements: {escape(', '.join(recipe.requirements))}")
    console.print(f"  runtimes: {', '.join(recipe.runtimes) or 'every current runtime'}; "
                  f"architectures: {', '.join(recipe.architectures) or 'both'}")
    if recipe.license:
        console.print(f"  license: {escape(recipe.license)}")
    if recipe.proof_imports:
        console.print(f"  proof imports: {', '.join(recipe.proof_imports)}")
    for alternative in recipe.alternatives:
        console.print(f"  alternative: {escape(alternative)}")
    if recipe.notes:
        console.print(f"  {escape(recipe.notes)}")
