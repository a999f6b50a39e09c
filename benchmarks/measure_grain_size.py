"""Acceptance figure: the mean grain diameter of generated samples against the target,
averaged over 100 samples per target, over the default ranges of the other structure
parameters.

    python benchmarks/measure_grain_size.py
"""

import numpy as np

from synthscope.structures import generate_grains


def main(n=100, size=512):
    rng = np.random.default_rng(1)
    for target in (20, 40, 80, 120):
        d = []
        for _ in range(n):
            s = generate_grains((size, size), mean_grain_diameter_px=target,
                                relaxation_steps=int(rng.choice([0, 1, 2, 3, 5])), size_spread=rng.uniform(0, 0.5),
                                waviness=rng.uniform(0, 0.3), merge_fraction=rng.uniform(0, 0.35), rng=rng)
            d.append(s.stats["mean_grain_diameter_px"])
        m = float(np.mean(d))
        print(f"target {target:4d} px: mean over {n} samples {m:6.1f} px ({100 * (m / target - 1):+.1f} %), "
              f"sample std {np.std(d):.1f} px")


if __name__ == "__main__":
    main()
