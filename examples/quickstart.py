"""Render a few grain-boundary samples, look at their statistics, and write a dataset.

    python examples/quickstart.py
"""

from pathlib import Path

from synthscope.engine import generate
from synthscope.recipes import get_recipe


def main():
    recipe = get_recipe("grain_boundaries")
    # narrow the default space: medium grains, dark grooves only
    space = recipe.space.with_overrides({
        "mean_grain_diameter_px": "uniform(30, 60)",
        "boundary_style": "groove",
    })

    for i in range(3):
        s = recipe.render_index(i, entropy=7, space=space, shape=(256, 256))
        print(f"sample {i}: {s.stats['grain_count']} grains, mean diameter "
              f"{s.stats['mean_grain_diameter_px']:.1f} px (target {s.scenario['mean_grain_diameter_px']:.1f}), "
              f"ASTM G = {s.stats['astm_grain_size_number']:.2f}")

    out = generate(recipe, 16, Path("data") / "quickstart", space=space, entropy=7, size=(256, 256), workers=2)
    print("dataset written to", out)


if __name__ == "__main__":  # worker processes re-import this file where fork is unavailable
    main()
