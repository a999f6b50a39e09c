"""Throughput of 128x128 surface_cracks tiles (image + crack mask + tile class), single
core: with quilted textures from a dictionary of real patches, and with procedural
textures. Anchor, timed in the same run: the same quilting with the overlap SSD
computed patch by patch (a plain loop over the dictionary), as a direct port of the
method would do it.

    python benchmarks/bench_cracks.py [--n 200] [--real ../shared/data/real/crackforest]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the figure is per core

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402  (benchmarks/ is on the path when run as a script)

from synthscope.datasets import RealFolder  # noqa: E402
from synthscope.recipes import get_recipe  # noqa: E402
from synthscope.recipes.surface_cracks import make_surface_cracks  # noqa: E402
from synthscope.structures import exemplar  # noqa: E402
from synthscope.structures.exemplar import TextureDictionary, quilt_texture  # noqa: E402


class _LoopMatcher(exemplar._Matcher):
    """Overlap SSD patch by patch: the unvectorised reference."""

    def ssd(self, target, left, top):
        idx = self.index[(left, top)]
        t = target.ravel()[idx]
        flat = self.sub[(left, top)]
        return np.array([float(((flat[k] - t) ** 2).sum()) for k in range(len(flat))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--real", default="../shared/data/real/crackforest")
    a = ap.parse_args()
    shape = (128, 128)
    if Path(a.real).is_dir():
        f = RealFolder(a.real, require_masks=True)
        k = len(f) // 2
        d = TextureDictionary.from_images([f.image(i) for i in range(k)], [f.mask(i) for i in range(k)], rng=0)
        src = f"{k} images of {a.real}"
    else:
        from synthscope.structures.textures import fbm_noise

        d = TextureDictionary.from_images([fbm_noise((320, 480), wavelength_px=6, rng=i) for i in range(10)], rng=0)
        src = "fBm stand-ins (real folder not found)"
    print(f"texture dictionary: {len(d)} patches of {d.patch_px} px from {src}")
    r_ex = make_surface_cracks(d)
    r_pr = get_recipe("surface_cracks")
    ex = median_ms(lambda i: r_ex.render_index(i, entropy=1, shape=shape), a.n)
    pr = median_ms(lambda i: r_pr.render_index(i, entropy=1, shape=shape), a.n)
    q = median_ms(lambda i: quilt_texture(shape, d, rng=i), a.n)
    print(f"surface_cracks 128x128, quilted texture:    median {ex:.1f} ms/tile/core ({1e3 / ex:.0f} tiles/s/core)")
    print(f"surface_cracks 128x128, procedural texture: median {pr:.1f} ms/tile/core ({1e3 / pr:.0f} tiles/s/core)")
    print(f"quilting alone:                             median {q:.1f} ms/tile/core")
    orig = exemplar._Matcher
    exemplar._Matcher = _LoopMatcher
    try:
        anchor = median_ms(lambda i: quilt_texture(shape, d, rng=i), max(3, a.n // 40))
    finally:
        exemplar._Matcher = orig
    print(f"anchor, quilting with a per-patch SSD loop: median {anchor:.1f} ms/tile/core")
    print(f"ratio anchor / ours (quilting): {anchor / q:.1f}")
    print(f"10,000 quilted crack tiles on one core: {ex * 1e4 / 6e4:.1f} min")


if __name__ == "__main__":
    main()
