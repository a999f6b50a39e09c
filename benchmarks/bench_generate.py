"""Throughput of one 512x512 grain_boundaries sample (image + labels + stats), single
core, against porespy.generators.voronoi_edges at 512x512 (boundaries only) timed in the
same run. Prints medians and the ratio.

    python benchmarks/bench_generate.py [--n 50] [--size 512] [--recipe grain_boundaries]

Any recipe can be timed with ``--recipe`` (the anchor stays porespy's Voronoi edges).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the figure is per core

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402  (benchmarks/ is on the path when run as a script)

from synthscope.recipes import get_recipe  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--recipe", default="grain_boundaries")
    a = ap.parse_args()
    r = get_recipe(a.recipe)
    shape = (a.size, a.size)
    ours = median_ms(lambda i: r.render_index(i, entropy=1, shape=shape), a.n)
    print(f"{a.recipe} {a.size}x{a.size} (image + labels + stats): median {ours:.1f} ms/sample/core "
          f"({1e3 / ours:.1f} samples/s/core)")
    # where the time goes: structure (grains + distractors) and imaging (detector), each
    # timed alone on the same scenarios
    from synthscope.params.space import stage_rng

    scen = [r.space.sample_one(1, i) for i in range(a.n + 1)]
    specs = {}

    def structure(i):
        specs[i] = r.structure(shape, scen[i], stage_rng(1, i, "structure"))

    t_struct = median_ms(structure, a.n)
    t_img = median_ms(lambda i: r.imaging(specs[i], scen[i], stage_rng(1, i, "imaging")), a.n)
    print(f"  of which structure {t_struct:.1f} ms, imaging {t_img:.1f} ms (medians of each)")
    try:
        import porespy
    except ImportError:
        print("porespy not installed (pip install porespy): anchor skipped")
        return
    # about as many cells as our default mean grain diameter (~50 px) gives at this size
    ncells = int(a.size * a.size / (np.pi / 4 * 50**2))
    anchor = median_ms(lambda i: porespy.generators.voronoi_edges(shape=list(shape), ncells=ncells, r=1, seed=i),
                        max(5, a.n // 5))
    print(f"porespy {porespy.__version__} voronoi_edges {a.size}x{a.size}, {ncells} cells (boundaries only): "
          f"median {anchor:.1f} ms")
    print(f"ratio porespy / synthscope = {anchor / ours:.2f} (higher is better for synthscope)")


if __name__ == "__main__":
    main()
