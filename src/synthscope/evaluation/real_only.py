"""The real-only baseline of DESIGN.md's evaluation protocol: a network of the same size
as the synthetic one, trained only on the few labelled real images, scored by k-fold
cross-validation so that every image is scored by a network that never saw it; and the
same with the synthetic network fine-tuned on those images (``init``).

This answers the user's question "would labelling my few images have done as well?"
beside the synthetic-only network, in the same report. It trains ``folds`` networks, so
`synthscope evaluate` runs it only when asked (``--real-only-minutes``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["FINETUNE_LR_FACTOR", "fold_indices", "fold_pairs", "train_real_only"]

FINETUNE_LR_FACTOR = 0.1  # fine-tuning's learning rate, times the run's


def fold_indices(n: int, folds: int) -> list[int]:
    """The fold of each of ``n`` images: image ``i`` in fold ``i % k``, ``k = min(folds, n)``
    (leave-one-out for up to ``folds`` images). Needs ``n >= 2`` and ``folds >= 2``."""
    if n < 2:
        raise ValueError(f"cross-validation needs at least 2 labelled images, got {n}")
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    k = min(folds, n)
    return [i % k for i in range(n)]


def fold_pairs(images: list[np.ndarray], masks: list[np.ndarray], fold_of: list[int],
               fold: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Training pairs of one fold: every image not in ``fold``. A (K, H, W) stack of
    colour views (``grey="fuse"``) gives K grey training images with the same mask, the
    views the network is read with."""
    xs, ys = [], []
    for img, mask, f in zip(images, masks, fold_of, strict=True):
        if f == fold:
            continue
        views = img if img.ndim == 3 else img[None]
        for v in views:
            xs.append(np.asarray(v, np.float32))
            ys.append(mask)
    return xs, ys


def train_real_only(images: list[np.ndarray], masks: list[np.ndarray], config, *, minutes: float,
                    folds: int = 5, max_steps: int | None = None, init: str | Path | None = None,
                    lr: float | None = None, workdir: str | Path | None = None,
                    progress: Callable[[int, int, dict], None] | None = None) -> tuple[list[int], list]:
    """Train one network per fold on the other folds' images.

    Parameters
    ----------
    images, masks : the labelled real images (2-D, or (K, H, W) colour views) and class masks
    config : `TrainConfig` of the synthetic run: architecture, width, classes, stages and
        class weights are kept, the budget becomes ``minutes`` per fold
    minutes : training time per fold
    max_steps : or stop each fold at this many steps, whichever ends first
    init : start every fold from this run's weights (fine-tuning a synthetic network)
    lr : peak learning rate; default the run's (``config.lr``), a tenth of it when
        fine-tuning (``init``), so that the first steps keep what the run learnt
    folds : number of folds (at most the number of images)
    workdir : where the fold runs are written (a temporary folder, removed, by default)
    progress : callable(fold, folds, record) with the training progress records

    Returns
    -------
    (fold_of, models): the fold of each image and the trained network of each fold.
    """
    from synthscope.learning import load_model
    from synthscope.learning.train import train

    if minutes <= 0:
        raise ValueError(f"minutes per fold must be > 0, got {minutes}")
    top = max(int(m.max()) for m in masks)
    if top >= config.out_channels:
        raise ValueError(f"masks hold class {top}, the network has {config.out_channels} classes "
                         f"(0..{config.out_channels - 1})")
    fold_of = fold_indices(len(images), folds)
    k = max(fold_of) + 1
    if lr is None:
        lr = config.lr * (FINETUNE_LR_FACTOR if init is not None else 1.0)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr}")
    cfg = dataclasses.replace(config, max_minutes=minutes, max_steps=max_steps, lr=lr)
    models = []
    with tempfile.TemporaryDirectory(prefix="synthscope-real-only-", dir=workdir) as tmp:
        for f in range(k):
            xs, ys = fold_pairs(images, masks, fold_of, f)
            cb = (lambda rec, _f=f: progress(_f, k, rec)) if progress else None
            run = Path(tmp) / f"fold{f}"
            train(run, cfg, pairs=(xs, ys), init=init, progress=cb)
            models.append(load_model(run))
    return fold_of, models
