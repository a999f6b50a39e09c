"""Acceptance figure: the mean grain diameter of generated samples against the target,
averaged over 100 samples per target, with every other structure parameter drawn from
the grain_boundaries recipe's default space (spread, relaxation, waviness, roughness,
merging, particles); the `cells` structure kind, whose size follows its own parameter,
is left out.

    python benchmarks/measure_grain_size.py [--n 100] [--size 512]
"""

import argparse

import numpy as np

from synthscope.params.space import stage_rng
from synthscope.recipes import get_recipe


def main(n=100, size=512):
    recipe = get_recipe("grain_boundaries")
    for target in (20, 40, 80, 120):
        space = recipe.space.with_overrides({"mean_grain_diameter_px": target, "structure_kind": "grains"})
        d = []
        for i in range(n):
            scenario = space.sample_one(1, i)
            specimen = recipe.structure((size, size), scenario, stage_rng(1, i, "structure"))
            d.append(specimen.stats["mean_grain_diameter_px"])
        m = float(np.mean(d))
        print(f"target {target:4d} px: mean over {n} samples {m:6.1f} px ({100 * (m / target - 1):+.1f} %), "
              f"sample std {np.std(d):.1f} px")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    main(a.n, a.size)
