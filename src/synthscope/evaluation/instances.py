"""Instances: splitting a class mask into objects (distance transform + marker
watershed, so touching particles come apart), and instance metrics: matching by IoU,
average precision at an IoU threshold, counting error, and the distance between size
distributions."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi

from synthscope.evaluation.metrics import grain_size_distance

__all__ = ["instances_from_mask", "match_instances", "InstanceScores", "instance_scores"]


def instances_from_mask(mask: np.ndarray, *, min_distance_px: float = 3.0, min_area_px: int = 4,
                        h_px: float = 1.0) -> np.ndarray:
    """Instance map (int32, 0 = none) of a boolean mask: markers at maxima of the
    distance transform that stand ``h_px`` above their surroundings and lie at least
    ``min_distance_px`` apart, flooded by a watershed of the inverted distance within
    the mask; objects smaller than ``min_area_px`` dropped."""
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    m = np.asarray(mask).astype(bool)
    if not m.any():
        return np.zeros(m.shape, np.int32)
    dist = ndi.distance_transform_edt(m)
    smooth = ndi.gaussian_filter(dist, 0.7)
    peaks = h_maxima(smooth, h_px) & m
    if min_distance_px > 1:
        # merge maxima closer than min_distance_px into one marker
        peaks = ndi.binary_dilation(peaks, iterations=max(1, int(min_distance_px // 2))) & m
    markers, _ = ndi.label(peaks)
    # every connected component gets at least one marker
    comp, n = ndi.label(m)
    missing = np.setdiff1d(np.arange(1, n + 1), np.unique(comp[markers > 0]))
    if len(missing):
        idx = ndi.maximum_position(dist, comp, missing)
        top = markers.max()
        for k, (y, x) in enumerate(idx, 1):
            markers[y, x] = top + k
    lab = watershed(-smooth, markers, mask=m).astype(np.int32)
    if min_area_px > 1:
        areas = np.bincount(lab.ravel())
        small = np.flatnonzero(areas < min_area_px)
        lab[np.isin(lab, small[small > 0])] = 0
    # consecutive ids
    ids = np.unique(lab)
    lut = np.zeros(int(ids.max()) + 1, np.int32)
    lut[ids[ids > 0]] = np.arange(1, int((ids > 0).sum()) + 1)
    return lut[lab]


def match_instances(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IoU matrix (n_truth, n_pred) between the instances of two maps (ids 1..n)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"instance maps differ in shape: {pred.shape} vs {truth.shape}")
    nt, npred = int(truth.max()), int(pred.max())
    if nt == 0 or npred == 0:
        return np.zeros((nt, npred))
    inter = np.zeros((nt + 1, npred + 1), np.int64)
    np.add.at(inter, (truth.ravel(), pred.ravel()), 1)
    at = inter.sum(1)
    ap = inter.sum(0)
    union = at[:, None] + ap[None, :] - inter
    iou = inter / np.maximum(union, 1)
    return iou[1:, 1:]


@dataclass(frozen=True)
class InstanceScores:
    """Matching at one IoU threshold (one-to-one, greedy by IoU; above 0.5 a match is
    unique anyway): true/false positives, false negatives, average precision in the
    sense of the object-detection challenges for a single threshold (TP / (TP + FP +
    FN), the "AP" of the cell-segmentation benchmarks), precision, recall, the relative
    counting error and the Kolmogorov-Smirnov distance between the equivalent-diameter
    distributions."""

    threshold: float
    tp: int
    fp: int
    fn: int
    ap: float
    precision: float
    recall: float
    count_error: float
    size_distance: float

    def to_dict(self) -> dict:
        return asdict(self)


def instance_scores(pred: np.ndarray, truth: np.ndarray, *, threshold: float = 0.5) -> InstanceScores:
    iou = match_instances(pred, truth)
    nt, npred = iou.shape if iou.size else (int(np.max(truth)), int(np.max(pred)))
    tp = 0
    if iou.size:
        pairs = np.argwhere(iou >= threshold)
        order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")
        used_t, used_p = set(), set()
        for i, j in pairs[order]:
            if i in used_t or j in used_p:
                continue
            used_t.add(i)
            used_p.add(j)
            tp += 1
    fp, fn = npred - tp, nt - tp
    denom = tp + fp + fn

    def diam(m):
        a = np.bincount(np.asarray(m).ravel())[1:]
        return np.sqrt(4 * a[a > 0] / np.pi)

    return InstanceScores(
        threshold=threshold, tp=tp, fp=fp, fn=fn, ap=tp / denom if denom else 1.0,
        precision=tp / npred if npred else float(nt == 0), recall=tp / nt if nt else 1.0,
        count_error=(npred - nt) / nt if nt else float("nan"),
        size_distance=grain_size_distance(diam(pred), diam(truth)),
    )
