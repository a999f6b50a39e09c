"""Grain counts from boundary lines with gaps, with and without closing them.

Renders: grains of 20, 40 and 80 px with lines 1.5, 3 and 5 px wide; one gap of 4-13 px
cut per 60 px of line; the count from the lines (connected regions, and gaps closed at
neck ratios 0.5 and 0.7) over the true count, and the same on the closed lines.
With a training run (``--run``): grains per image of its predictions on each development
set found, against the truth's, and the mean absolute difference of the ASTM number.

    python benchmarks/measure_gap_closing.py [--n 8] [--run runs/gb]
"""

import argparse
import os
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from synthscope.evaluation.metrics import grains_from_boundaries
from synthscope.structures.grains import generate_grains, grain_statistics

RATIOS = (0, 0.5, 0.7)


def renders(n):
    rng = np.random.default_rng(1)
    for d in (20, 40, 80):
        for w in (1.5, 3, 5):
            res = {r: [] for r in RATIOS}
            closed = []
            for _ in range(n):
                s = generate_grains((384, 384), mean_grain_diameter_px=d, label_width_px=w, waviness=0.2,
                                    rng=int(rng.integers(1e9)))
                b = s.labels == 1
                n_true = grains_from_boundaries(b, close_gaps=0).max()
                closed.append(grains_from_boundaries(b).max() / n_true)
                sk = np.argwhere(skeletonize(b))
                cut = np.zeros_like(b)
                for y, x in sk[rng.choice(len(sk), len(sk) // 60, replace=False)]:
                    cut[y, x] = True
                gapped = b & ~(ndi.distance_transform_edt(~cut) <= rng.uniform(1.5, 4.0) + w / 2)
                for r in RATIOS:
                    res[r].append(grains_from_boundaries(gapped, close_gaps=r).max() / n_true)
            print(f"grains {d} px, lines {w} px: closed lines {np.mean(closed):.3f} of the true count; with gaps: "
                  + ", ".join(f"close_gaps {r}: {np.mean(v):.2f}" for r, v in res.items()))


def dev_sets(run):
    from synthscope.cli.main import _resolve_scale
    from synthscope.datasets import RealFolder
    from synthscope.learning import load_model, predict_mask

    real = Path(os.environ.get("SYNTHSCOPE_REAL", "../shared/data/real"))
    model = load_model(run)
    scale = _resolve_scale("auto", "grain_boundaries")
    for name in ("isbi2012-em-membrane", "mpunet-grain-boundary-mini", "tbm-grain-boundaries"):
        if not (real / name).is_dir():
            print(f"{name}: skipped ({real / name} not found)")
            continue
        folder = RealFolder(real / name, grey="fuse")
        rows = {r: [] for r in (0, 0.7)}
        for i in range(len(folder)):
            img, gt = folder.pair(i)
            m = predict_mask(model, img, roi_size=256, tta=True, scale=scale)
            for r in rows:
                sp = grain_statistics(grains_from_boundaries(m == 1, close_gaps=r))
                sg = grain_statistics(grains_from_boundaries(gt == 1, close_gaps=r))
                rows[r].append((sp["grain_count"], sg["grain_count"],
                                abs(sp["astm_grain_size_number"] - sg["astm_grain_size_number"])))
        for r, v in rows.items():
            a = np.array(v, float)
            print(f"{name:28s} close_gaps {r}: grains per image {a[:, 0].mean():.1f} (truth {a[:, 1].mean():.1f}, "
                  f"ratio {np.mean(a[:, 0] / a[:, 1]):.2f}), ASTM number off by {a[:, 2].mean():.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8, help="renders per grain size and line width")
    ap.add_argument("--run", type=Path, help="training run to score on the development sets")
    a = ap.parse_args()
    renders(a.n)
    if a.run:
        dev_sets(a.run)
