"""Cells and membranes: the requested cell size is met over 100 samples, organelles
are drawn into the image but never into the membrane label, and they sit inside cells."""

import numpy as np

from synthscope.recipes import get_recipe
from synthscope.structures.membranes import add_organelles, generate_cells


def test_cell_membranes_recipe_meets_cell_size_over_100_samples():
    r = get_recipe("cell_membranes")
    space = r.space.with_overrides({"mean_cell_diameter_px": "loguniform(25, 60)"})
    ratios = []
    for i in range(100):
        s = space.sample_one(9, i)
        spec = r.structure((192, 192), s, np.random.default_rng(i))
        ratios.append(spec.stats["mean_grain_diameter_px"] / s["mean_cell_diameter_px"])
        assert spec.stats["cell_count"] == spec.instances.max()
    assert abs(np.mean(ratios) - 1) < 0.10, np.mean(ratios)


def test_organelles_change_the_image_not_the_labels():
    base = generate_cells((192, 192), mean_cell_diameter_px=80, mitochondria_per_cell=0, vesicles_per_cell=0,
                          granules_per_cell=0, rng=3)
    spec = add_organelles(base, mitochondria_per_cell=1.0, mito_length_px=24, mito_width_px=10,
                          vesicles_per_cell=3, granules_per_cell=2, rng=4)
    assert np.array_equal(spec.labels, base.labels)
    changed = spec.maps["tint"] != base.maps["tint"]
    assert changed.any()
    assert spec.stats["vesicles_count"] > 0 and spec.stats["granules_count"] > 0
    # organelles are placed inside cells: little of what they change lies on membranes
    assert (changed & (base.labels == 1)).sum() < 0.1 * changed.sum()
