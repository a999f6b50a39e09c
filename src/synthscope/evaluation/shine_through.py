"""Does shine-through defeat threshold segmentation of FIB-SEM stacks?

Renders test stacks of `fibsem_porous` twice from the same structures: with the
material behind the pores showing through them, and without (nothing behind the face's
pores: the control), and scores each slice's solid/pore
segmentation by Otsu's threshold, two-cluster k-means and any other segmenters given
(e.g. a network trained on other synthetic stacks): IoU of the pores, of the solid, and
their mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from synthscope.evaluation.baselines import kmeans_segment, otsu_segment
from synthscope.evaluation.metrics import iou

__all__ = ["network_segmenter", "shine_through_report", "shine_through_markdown"]


def _otsu(image):
    return 1 - otsu_segment(image, dark_foreground=True)  # dark = pore (0), bright = solid (1)


def _kmeans(image):
    return 1 - kmeans_segment(image, dark_foreground=True)


def network_segmenter(run, *, tta: bool = True, roi_size: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """Class map (0 pore, 1 solid) of the network trained in ``run``."""
    from synthscope.learning.infer import predict_mask
    from synthscope.learning.train import load_model

    model = load_model(run)
    return lambda image: predict_mask(model, image, tta=tta, roi_size=roi_size)


def shine_through_report(
    segmenters: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    *,
    n_stacks: int = 6,
    shape: tuple[int, int, int] = (8, 256, 256),
    entropy: int = 20261123,
    space=None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Mean IoUs per segmenter and condition ("shine_through", "no_shine_through").

    Parameters
    ----------
    segmenters : name -> callable(image) -> class map (0 pore, 1 solid); Otsu and
        k-means are always included
    n_stacks : test stacks per condition
    shape : (slices, H, W) of each stack
    entropy : the test set's seed (keep it apart from any training entropy)
    space : ParameterSpace of `fibsem_porous` (its default when None)

    Returns
    -------
    dict: {"conditions": {cond: {name: {"pore_iou", "solid_iou", "mean_iou"}}},
    "n_slices", "shape", "entropy"}
    """
    from synthscope.recipes import get_recipe

    recipe = get_recipe("fibsem_porous")
    space = space or recipe.space
    segs = {"otsu": _otsu, "kmeans": _kmeans, **(segmenters or {})}
    scores = {c: {n: {"pore_iou": [], "solid_iou": []} for n in segs} for c in ("shine_through", "no_shine_through")}
    for i in range(n_stacks):
        scen = space.sample_one(entropy, i)
        for cond, flag in (("shine_through", True), ("no_shine_through", False)):
            s = recipe.render({**scen, "shine_through": flag}, shape=shape, entropy=entropy, index=i)
            for img, gt in zip(s.image, s.mask, strict=True):
                for name, seg in segs.items():
                    pred = np.asarray(seg(img), np.uint8)
                    scores[cond][name]["pore_iou"].append(iou(pred, gt, cls=0))
                    scores[cond][name]["solid_iou"].append(iou(pred, gt, cls=1))
        if progress:
            progress(i + 1, n_stacks)
    out = {}
    for cond, per in scores.items():
        out[cond] = {}
        for name, d in per.items():
            p, so = float(np.nanmean(d["pore_iou"])), float(np.nanmean(d["solid_iou"]))
            out[cond][name] = {"pore_iou": p, "solid_iou": so, "mean_iou": (p + so) / 2}
    return {"conditions": out, "n_slices": n_stacks * shape[0], "shape": list(shape), "entropy": entropy}


def shine_through_markdown(report: dict) -> str:
    """The report as a Markdown table."""
    conds = list(report["conditions"])
    names = list(report["conditions"][conds[0]])
    lines = [f"{report['n_slices']} slices per condition ({report['shape'][1]}x{report['shape'][2]} px), "
             f"test entropy {report['entropy']}", "",
             "| segmenter | " + " | ".join(f"{c}: pore IoU | {c}: mean IoU" for c in conds) + " |",
             "|---|" + "---|---|" * len(conds)]
    for n in names:
        cells = []
        for c in conds:
            r = report["conditions"][c][n]
            cells += [f"{r['pore_iou']:.3f}", f"{r['mean_iou']:.3f}"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
