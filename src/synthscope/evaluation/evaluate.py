"""Scoring a model and the baselines on real, labelled images."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from synthscope.evaluation.baselines import BASELINES
from synthscope.evaluation.metrics import (
    boundary_f1,
    dice,
    grain_size_distance,
    grains_from_boundaries,
    iou,
    mean_iou,
    pixel_error,
)
from synthscope.structures.grains import grain_statistics

__all__ = ["score_pair", "evaluate_folder", "FolderScores", "aggregate"]


def score_pair(pred: np.ndarray, gt: np.ndarray, *, boundary_class: int | None = 1,
               tolerance_px: float = 2.0, grain_stats: bool = True, instance_class: int | None = None) -> dict:
    """All metrics of one prediction against its truth. Boundary F1 twice: on thinned
    lines (``boundary_f1``, the headline figure: where the lines run, not how wide they
    are drawn) and on the lines as drawn (``boundary_f1_unthinned``: every boundary pixel
    counts, so a prediction as wide as the annotators' lines scores higher). ``instance_class``: also split
    that class of the prediction into instances (`instances_from_mask`) and score them
    against the connected components of the truth (AP at IoU 0.5, counting error,
    size-distribution distance)."""
    out = {
        "pixel_error": pixel_error(pred, gt),
        "iou": {int(c): iou(pred, gt, int(c)) for c in np.union1d(np.unique(gt), np.unique(pred))},
        "mean_iou": mean_iou(pred, gt),
        "dice": dice(pred, gt, boundary_class or 1),
    }
    if boundary_class is not None:
        bf = boundary_f1(pred, gt, tolerance_px=tolerance_px, cls=boundary_class)
        out.update(boundary_precision=bf.precision, boundary_recall=bf.recall, boundary_f1=bf.f1)
        # the same on the lines as drawn (not thinned): every pixel of a wide line counts
        bw = boundary_f1(pred, gt, tolerance_px=tolerance_px, cls=boundary_class, thin=False)
        out.update(boundary_precision_unthinned=bw.precision, boundary_recall_unthinned=bw.recall,
                   boundary_f1_unthinned=bw.f1)
        if grain_stats:
            gp = grains_from_boundaries(pred == boundary_class)
            gg = grains_from_boundaries(gt == boundary_class)
            sp, sg = grain_statistics(gp), grain_statistics(gg)
            out.update(
                grain_count_pred=sp["grain_count"], grain_count_true=sg["grain_count"],
                mean_grain_area_pred=sp["mean_grain_area_px"], mean_grain_area_true=sg["mean_grain_area_px"],
                astm_pred=sp["astm_grain_size_number"], astm_true=sg["astm_grain_size_number"],
                grain_size_ks=grain_size_distance(np.bincount(gp.ravel())[1:], np.bincount(gg.ravel())[1:]),
            )
    if instance_class is not None:
        from synthscope.evaluation.instances import instance_scores, instances_from_mask

        truth_inst, _ = ndi.label(gt == instance_class)
        sc = instance_scores(instances_from_mask(pred == instance_class), truth_inst, threshold=0.5)
        out.update(instance_ap50=sc.ap, instance_precision=sc.precision, instance_recall=sc.recall,
                   instance_count_error=sc.count_error, instance_size_ks=sc.size_distance)
    return out


def _mean(vals):
    v = [x for x in vals if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else float("nan")


def aggregate(per_image: list[dict]) -> dict:
    """Mean of each scalar metric over images (NaNs skipped)."""
    keys = [k for k, v in per_image[0].items() if isinstance(v, (int, float))]
    out = {k: _mean([p[k] for p in per_image]) for k in keys}
    classes = sorted({c for p in per_image for c in p["iou"]})
    out["iou"] = {c: _mean([p["iou"].get(c, float("nan")) for p in per_image]) for c in classes}
    return out


@dataclass
class FolderScores:
    name: str
    model: dict
    baselines: dict
    best_baseline: str
    per_image: list = field(default_factory=list)
    references: dict = field(default_factory=dict)


def evaluate_folder(folder, predictor: Callable[[np.ndarray], np.ndarray], *, name: str | None = None,
                    boundary_class: int | None = 1, tolerance_px: float = 2.0,
                    on_image: Callable | None = None, key: str = "boundary_f1",
                    grain_stats: bool = True, baselines: bool = True,
                    instance_class: int | None = None,
                    references: dict[str, Callable[[int, np.ndarray], np.ndarray]] | None = None) -> FolderScores:
    """Score ``predictor`` (image -> class map) and every baseline on a `RealFolder`.

    ``on_image(stem, image, truth, prediction)`` is called per image (for figures).
    The predictor gets the folder's image as read: (K, H, W) views for ``grey="fuse"``
    colour images, of which the baselines and ``on_image`` get the first.
    ``grain_stats``: also compare grains enclosed by the boundaries (grain recipes).
    ``baselines``: also score the baselines (False: the model alone, ``best_baseline`` None).
    The best baseline is the one (polarity included) with the best mean ``key``.
    ``references``: other predictors, ``fn(index, image) -> class map``, scored like the
    model (e.g. the cross-validated real-only networks, `train_real_only`) and reported
    beside it; they do not take part in choosing the best baseline.
    """
    model_scores, base_scores = [], {b: [] for b in (BASELINES if baselines else {})}
    ref_scores = {r: [] for r in (references or {})}
    per_image = []
    for i in range(len(folder)):
        img, gt = folder.pair(i)
        if gt is None:
            raise ValueError(f"{folder.images[i]}: no mask to score against")
        pred = predictor(img)
        for r, fn in (references or {}).items():
            ref_scores[r].append(score_pair(fn(i, img), gt, boundary_class=boundary_class, tolerance_px=tolerance_px,
                                            grain_stats=grain_stats, instance_class=instance_class))
        if img.ndim == 3:  # views of a colour image (grey="fuse"): baselines and figures take the first
            img = img[0]
        s = score_pair(pred, gt, boundary_class=boundary_class, tolerance_px=tolerance_px, grain_stats=grain_stats,
                       instance_class=instance_class)
        model_scores.append(s)
        per_image.append({"stem": folder.stem(i), **{k: v for k, v in s.items() if k != "iou"},
                          **{f"{r}_{key}": v[-1].get(key, v[-1]["mean_iou"]) for r, v in ref_scores.items()}})
        for b in base_scores:
            fn = BASELINES[b]
            base_scores[b].append(score_pair(fn(img), gt, boundary_class=boundary_class,
                                             tolerance_px=tolerance_px, grain_stats=False, instance_class=instance_class))
        if on_image:
            on_image(folder.stem(i), img, gt, pred)
    model_agg = aggregate(model_scores)
    base_agg = {b: aggregate(v) for b, v in base_scores.items()}
    metric = key if key in model_agg else "mean_iou"
    best = max(base_agg, key=lambda b: base_agg[b][metric]) if base_agg else None
    return FolderScores(name=name or folder.path.name, model=model_agg, baselines=base_agg,
                        best_baseline=best, per_image=per_image,
                        references={r: aggregate(v) for r, v in ref_scores.items()})
