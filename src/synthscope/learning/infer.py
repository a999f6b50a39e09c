"""Inference on images of any size: MONAI sliding-window inference over the normalised
image, with optional flip test-time augmentation and resampling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage as ndi

from synthscope.learning.models import normalize_image
from synthscope.recipes.base import CLASS_DECISIONS, recipe_choice

__all__ = ["predict", "predict_mask", "decide_classes", "decision_weights", "fuse_probabilities", "pyramid_scales",
           "DECISIONS"]

DECISIONS = ("auto",) + CLASS_DECISIONS  # auto: the recipe's `Recipe.class_decision`


def pyramid_scales(shape: Sequence[int], roi_size: int) -> tuple[float, ...]:
    """Factors 1, 1/2, 1/4, ... down to the first at which the whole image fits in one
    window of ``roi_size`` (its shorter side at most the window), at least 0.05: a
    network trained on crops then also sees each image whole, for classes that only
    their surroundings tell apart (a layer by where it lies between others)."""
    scales = [1.0]
    while min(shape) * scales[-1] > roi_size and scales[-1] / 2 >= 0.05:
        scales.append(scales[-1] / 2)
    return tuple(scales)


@torch.no_grad()
def predict(model, image: np.ndarray, *, roi_size: int = 256, overlap: float = 0.25,
            tta: bool = True, device: str | None = None, batch: int = 4,
            scale: float | Sequence[float] | str = 1.0) -> np.ndarray:
    """Class probabilities of a 2D image.

    Parameters
    ----------
    model : torch module mapping (N, 1, H, W) to (N, C, H, W) logits
    image : (H, W) float array, or (K, H, W): K views of one image (e.g. the colour
        axes of `synthscope.datasets.io.colour_views`), each predicted alone and the
        results merged by `fuse_probabilities`
    roi_size : window side, px
    overlap : window overlap in [0, 1)
    tta : average over the four flips
    device : default the model's device
    batch : windows per forward pass
    scale : resample the image by this factor before the network (0.5: half the pixels
        per side, so structures look half as large and the network sees twice the area
        around each pixel); the probabilities are resampled back to the image's shape.
        Use it to bring micrographs taken at a higher magnification than the training
        renders into the network's range. Several factors (e.g. ``(1, 0.7, 0.5)``):
        the probabilities at each are averaged (multi-scale inference, for micrographs
        whose magnification relative to the renders is not known). ``"pyramid"``:
        the factors of `pyramid_scales` for this image and window.

    Returns
    -------
    (C, H, W) float32 probabilities.
    """
    from monai.inferers import sliding_window_inference

    if image.ndim == 3:
        kw = dict(roi_size=roi_size, overlap=overlap, tta=tta, device=device, batch=batch, scale=scale)
        return fuse_probabilities([predict(model, v, **kw) for v in image])
    if image.ndim != 2:
        raise ValueError(f"image must be (H, W) or (K, H, W) views, got shape {image.shape}")
    if isinstance(scale, str):
        if scale != "pyramid":
            raise ValueError(f"scale must be a factor, factors or 'pyramid', got {scale!r}")
        scale = pyramid_scales(image.shape, roi_size)
        if len(scale) == 1:
            scale = scale[0]
    if not np.isscalar(scale):
        scales = [float(s) for s in scale]
        if not scales:
            raise ValueError("scale: give at least one factor")
        kw = dict(roi_size=roi_size, overlap=overlap, tta=tta, device=device, batch=batch)
        acc = predict(model, image, scale=scales[0], **kw)
        for s in scales[1:]:
            acc += predict(model, image, scale=s, **kw)
        return acc / np.float32(len(scales))
    if not 0.05 <= scale <= 4:
        raise ValueError(f"scale must be in [0.05, 4], got {scale}")
    if scale != 1.0:
        shape = image.shape
        img = np.asarray(image, np.float32)
        if scale < 1:  # anti-alias before decimating
            img = ndi.gaussian_filter(img, (1 / scale - 1) / 2)  # as skimage.transform.rescale
        small = ndi.zoom(img, scale, order=1, grid_mode=True, mode="nearest")
        p = predict(model, small, roi_size=roi_size, overlap=overlap, tta=tta, device=device, batch=batch)
        # linear interpolation: the same weights for every class, so they still sum to 1
        return np.stack([ndi.zoom(c, (shape[0] / c.shape[0], shape[1] / c.shape[1]), order=1, grid_mode=True,
                                  mode="nearest") for c in p]).astype(np.float32)
    dev = torch.device(device) if device else next(model.parameters()).device
    x = torch.from_numpy(normalize_image(image))[None, None].to(dev)
    model.eval()
    flips = [(), (2,), (3,), (2, 3)] if tta else [()]
    acc = None
    for f in flips:
        xi = torch.flip(x, f) if f else x
        logits = sliding_window_inference(xi, roi_size=(roi_size, roi_size), sw_batch_size=batch,
                                          predictor=model, overlap=overlap, mode="gaussian")
        p = torch.softmax(logits.float(), dim=1)
        p = torch.flip(p, f) if f else p
        acc = p if acc is None else acc + p
    return (acc / len(flips))[0].cpu().numpy().astype(np.float32)


def fuse_probabilities(probs: Sequence[np.ndarray]) -> np.ndarray:
    """Merge class probabilities (C, H, W) of several views of one image: each
    foreground class (1..C-1) takes its greatest probability over the views and the
    background (class 0) its least, renormalised to sum 1. Structure that shows in any
    view is kept: a boundary between grains of equal brightness but different hue is
    seen in one colour axis and not the other. For two classes this is simply the
    greatest foreground probability."""
    if not len(probs):
        raise ValueError("fuse_probabilities needs at least one view")
    p = np.stack([np.asarray(q, np.float32) for q in probs])
    if p.ndim != 4:
        raise ValueError(f"each view's probabilities must be (C, H, W), got {p.shape[1:]}")
    out = p.max(axis=0)
    out[0] = p[:, 0].min(axis=0)
    out /= np.maximum(out.sum(axis=0, keepdims=True), np.float32(1e-12))
    return out


def decide_classes(probs: np.ndarray, class_weights=None) -> np.ndarray:
    """Class map (uint8) from (C, H, W) probabilities.

    A network trained with class weights w_c (cross-entropy) learns posteriors inflated
    in proportion to w_c; dividing by w_c before the argmax undoes that, so a thin class
    weighted up for training is not drawn too wide at inference. For two classes with
    weights (1, w) this is the threshold p_1 > w / (1 + w).
    """
    p = np.asarray(probs, dtype=np.float32)
    if class_weights is not None:
        w = np.asarray(class_weights, dtype=np.float32)
        if w.shape != (p.shape[0],) or not (w > 0).all():
            raise ValueError(f"class_weights must be {p.shape[0]} positive numbers, got {class_weights}")
        p = p / w[:, None, None]
    return p.argmax(0).astype(np.uint8)


def decision_weights(model, decision: str = "auto"):
    """The class weights that `decide_classes` should divide by for ``model``'s output.

    'calibrated': the weights the model was trained with (``model.synthscope_meta``), so
    the decision is the most probable class; 'raw': None, the network's own argmax, which
    keeps the weights' lean towards the weighted classes (a class of weight 2 against 1
    is drawn where its probability exceeds 1/3 rather than 1/2: for a region scored by
    IoU or Dice that recall is usually worth more than the pixels it costs, as the
    F1-optimal threshold of calibrated probabilities is half the attainable F1; Lipton
    et al. 2014); 'auto': the ``class_decision`` of the model's recipe (calibrated for
    runs of unknown recipes).
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    meta = getattr(model, "synthscope_meta", {}) or {}
    if decision == "auto":
        decision = recipe_choice(meta.get("recipe"), "class_decision", "calibrated")
    return meta.get("class_weights") if decision == "calibrated" else None


def predict_mask(model, image: np.ndarray, *, class_weights="auto", decision: str = "auto", **kwargs) -> np.ndarray:
    """Class map (uint8) of `predict`, by `decide_classes`. ``class_weights="auto"`` takes
    the weights of `decision_weights` (``decision``: auto, calibrated or raw); None:
    plain argmax."""
    if isinstance(class_weights, str) and class_weights == "auto":
        class_weights = decision_weights(model, decision)
    return decide_classes(predict(model, image, **kwargs), class_weights)
