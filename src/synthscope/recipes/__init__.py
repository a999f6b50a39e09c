"""Named recipes (structure model + imaging model + default parameter space)."""

from synthscope.recipes.base import (
    Recipe,
    get_recipe,
    list_recipes,
    load_scenario_file,
    register_recipe,
)

__all__ = ["Recipe", "get_recipe", "list_recipes", "load_scenario_file", "register_recipe"]
