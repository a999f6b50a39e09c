"""How close quilted textures are to real crack-free surface, against plain fBm
(Perlin-like) noise: distances of intensity histograms and power spectra between
128x128 synthetic tiles and crack-free tiles of *held-out* real images.

The dictionary is cut from the first half of the images (sorted), the reference tiles
from the second half. fBm is scored at a grid of wavelengths and slopes and its best
setting reported, so it is not beaten by a poor choice. Writes a sheet of real,
quilted and fBm tiles.

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
    real = []
    for im, m in pairs[k:]:
        t, lab, _ = tile_image(flat(im), m, tile_px=128, stride_px=64, crack_class=a.crack_class)
        real += list(t[lab == 0])
    real = real[: a.n]
    quilted = [quilt_texture((128, 128), d, rng=i) for i in range(a.n)]
    hq, sq = histogram_distance(quilted, real), spectrum_distance(quilted, real)
    best = None
    for wl in (2.0, 4.0, 8.0, 16.0, 32.0):
        for beta in (1.0, 2.0, 3.0):
            fb = [fbm_noise((128, 128), wavelength_px=wl, beta=beta, rng=i) for i in range(a.n)]
            hf, sf = histogram_distance(fb, real), spectrum_distance(fb, real)
            if best is None or sf + hf < best[0]:
                best = (sf + hf, wl, beta, hf, sf, fb)
    _, wl, beta, hf, sf, fb = best
    print(f"dictionary: {len(d)} patches from {k} images; reference: {len(real)} crack-free tiles of the other {len(f) - k}")
    print(f"quilted:                          histogram W1 {hq:.3f}  spectrum |dlog10 P| {sq:.3f}")
    print(f"fBm, best of 15 (wl {wl:g}, beta {beta:g}): histogram W1 {hf:.3f}  spectrum |dlog10 P| {sf:.3f}")
    if a.sheet:
        z = lambda t: np.clip(0.5 + 0.15 * (t - t.mean()) / (t.std() or 1), 0, 1)  # noqa: E731
        rows = [("real (held out)", [z(t) for t in real[:6]]), ("quilted", [z(t) for t in quilted[:6]]),
                (f"fBm (wl {wl:g}, beta {beta:g})", [z(t) for t in fb[:6]])]
        Path(a.sheet).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(a.sheet), contact_sheet(rows, tile=160))
        print(f"wrote {a.sheet}")


if __name__ == "__main__":
    main()
