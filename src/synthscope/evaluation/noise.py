"""Apparent pixel noise of an image, to compare renders with real micrographs.

`noise_level` estimates the standard deviation of the pixel noise from the flattest part
of the image (the residual of a 3x3 mean, whose variance is 8/9 of white noise's, read by
the median absolute deviation), relative to the image's signal span (1st to 99th
percentile). Noise blurred by the microscope's PSF is read lower than its per-pixel
variance would say: the figure is what a network sees, and renders and real images are
measured the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

__all__ = ["noise_level", "compare_noise"]


def noise_level(image: np.ndarray, *, flat_fraction: float = 0.3) -> float:
    """Noise std / signal span (1st-99th percentile) of a 2D image, from the
    ``flat_fraction`` of its pixels with the smallest smoothed gradient."""
    a = np.asarray(image, np.float32)
    if a.ndim != 2 or min(a.shape) < 8:
        raise ValueError(f"image must be 2D and at least 8x8, got shape {a.shape}")
    if not 0 < flat_fraction <= 1:
        raise ValueError(f"flat_fraction must be in (0, 1], got {flat_fraction}")
    lo, hi = np.percentile(a, (1, 99))
    span = float(hi - lo)
    if span <= 0:
        return 0.0
    resid = (a - ndi.uniform_filter(a, 3, mode="reflect")) * np.float32(np.sqrt(9 / 8))
    grad = ndi.gaussian_gradient_magnitude(a, 2.0)
    inner = (slice(2, -2), slice(2, -2))  # away from the border's reflected pixels
    r, g = resid[inner].ravel(), grad[inner].ravel()
    flat = r[g <= np.quantile(g, flat_fraction)]
    sigma = 1.4826 * float(np.median(np.abs(flat - np.median(flat))))
    return sigma / span


def compare_noise(real: Sequence[np.ndarray], renders: Sequence[np.ndarray]) -> dict:
    """Noise levels of real images and renders: medians and ranges; the share of renders
    within the real range (``renders_within_real``) and the share at most as noisy as the
    noisiest real image (``renders_cleaner_than_real_max``)."""
    r = np.array([noise_level(im) for im in real])
    s = np.array([noise_level(im) for im in renders])
    if not len(r) or not len(s):
        raise ValueError("compare_noise needs at least one real image and one render")
    return {
        "real_median": float(np.median(r)), "real_min": float(r.min()), "real_max": float(r.max()),
        "renders_median": float(np.median(s)), "renders_min": float(s.min()), "renders_max": float(s.max()),
        "renders_within_real": float(np.mean((s >= r.min()) & (s <= r.max()))),
        "renders_cleaner_than_real_max": float(np.mean(s <= r.max())),
    }
