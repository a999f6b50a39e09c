"""Inference on images of any size: MONAI sliding-window inference over the normalised
image, with optional flip test-time augmentation."""

from __future__ import annotations

import numpy as np
import torch

from synthscope.learning.models import normalize_image

__all__ = ["predict", "predict_mask"]


@torch.no_grad()
def predict(model, image: np.ndarray, *, roi_size: int = 256, overlap: float = 0.25,
            tta: bool = True, device: str | None = None, batch: int = 4) -> np.ndarray:
    """Class probabilities of a 2D image.

    Parameters
    ----------
    model : torch module mapping (N, 1, H, W) to (N, C, H, W) logits
    image : (H, W) float array
    roi_size : window side, px
    overlap : window overlap in [0, 1)
    tta : average over the four flips
    device : default the model's device
    batch : windows per forward pass

    Returns
    -------
    (C, H, W) float32 probabilities.
    """
    from monai.inferers import sliding_window_inference

    if image.ndim != 2:
        raise ValueError(f"image must be 2D, got shape {image.shape}")
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


def predict_mask(model, image: np.ndarray, **kwargs) -> np.ndarray:
    """Class map (uint8) of the argmax of `predict`."""
    return predict(model, image, **kwargs).argmax(0).astype(np.uint8)
