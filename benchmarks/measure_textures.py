"""How close quilted textures are to real crack-free surface, against plain fBm
(Perlin-like) noise: distances of intensity histograms and power spectra between
128x128 synthetic tiles and crack-free tiles of the dictionary's own images, and of
*held-out* images (with the distance between the two real sets as the floor).

The dictionary is cut from the first half of the images (sorted), the held-out tiles
from the second half. fBm is scored at a grid of wavelengths and slopes and its best
setting (against the dictionary images) reported, so it is not beaten by a poor
choice. Writes a sheet of real, quilted and fBm tiles.

    python benchmarks/measure_textures.py [--real ../shared/data/real/crackforest] [--sheet docs/figures/textures.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from synthscope.datasets import RealFolder
from synthscope.datasets.io import atomic_write_bytes
from synthscope.evaluation.cracks import tile_image
from synthscope.evaluation.report import contact_sheet
from synthscope.evaluation.texture import histogram_distance, spectrum_distance
from synthscope.structures.exemplar import TextureDictionary, quilt_texture
from synthscope.structures.textures import fbm_noise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", default="../shared/data/real/crackforest")
    ap.add_argument("--crack-class", type=int, default=1)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--sheet", default=None)
    a = ap.parse_args()
    if not Path(a.real).is_dir():
        print(f"skipped: {a.real} not found")
        return
    f = RealFolder(a.real, require_masks=True)
    k = len(f) // 2
    pairs = [f.pair(i) for i in range(len(f))]
    flat = lambda im: im - ndi.gaussian_filter(im, 24.0)  # noqa: E731  (as the dictionary is built)
    d = TextureDictionary.from_images([p[0] for p in pairs[:k]], [p[1] == a.crack_class for p in pairs[:k]], rng=0)
    def tiles(ps):
        out = []
        for im, m in ps:
            t, lab, _ = tile_image(flat(im), m, tile_px=128, stride_px=64, crack_class=a.crack_class)
            out += list(t[lab == 0])
        return out[: a.n]

    own, real = tiles(pairs[:k]), tiles(pairs[k:])
    quilted = [quilt_texture((128, 128), d, rng=i) for i in range(a.n)]
    best = None
    for wl in (2.0, 4.0, 8.0, 16.0, 32.0):
        for beta in (1.0, 2.0, 3.0):
            fb = [fbm_noise((128, 128), wavelength_px=wl, beta=beta, rng=i) for i in range(a.n)]
            score = histogram_distance(fb, own) + spectrum_distance(fb, own)
            if best is None or score < best[0]:
                best = (score, wl, beta, fb)
    _, wl, beta, fb = best
    print(f"dictionary: {len(d)} patches from {k} images; {len(own)} crack-free tiles of those images, "
          f"{len(real)} of the other {len(f) - k}")
    print("distance (histogram W1, spectrum mean |dlog10 P|)   to dictionary images   to held-out images")
    for name, tiles_ in (("quilted", quilted), (f"fBm, best of 15 (wl {wl:g}, beta {beta:g})", fb),
                         ("real dictionary-image tiles", own)):
        print(f"{name:44s} {histogram_distance(tiles_, own):.3f}, {spectrum_distance(tiles_, own):.3f}"
              f"            {histogram_distance(tiles_, real):.3f}, {spectrum_distance(tiles_, real):.3f}")
    if a.sheet:
        z = lambda t: np.clip(0.5 + 0.15 * (t - t.mean()) / (t.std() or 1), 0, 1)  # noqa: E731
        rows = [("real (held out)", [z(t) for t in real[:6]]), ("quilted", [z(t) for t in quilted[:6]]),
                (f"fBm (wl {wl:g}, beta {beta:g})", [z(t) for t in fb[:6]])]
        Path(a.sheet).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(a.sheet), contact_sheet(rows, tile=160))
        print(f"wrote {a.sheet}")


if __name__ == "__main__":
    main()
