"""Classical baselines: Otsu threshold and two-cluster k-means on intensity, each in
both polarities (foreground dark or bright)."""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2

__all__ = ["otsu_segment", "kmeans_segment", "BASELINES"]


def otsu_segment(image: np.ndarray, *, dark_foreground: bool = True) -> np.ndarray:
    """Class 1 where the image is below (``dark_foreground``) or above Otsu's threshold."""
    from skimage.filters import threshold_otsu

    img = np.asarray(image, dtype=np.float32)
    t = threshold_otsu(img) if img.max() > img.min() else img.max()
    fg = img < t if dark_foreground else img > t
    return fg.astype(np.uint8)


def kmeans_segment(image: np.ndarray, *, dark_foreground: bool = True, rng=0) -> np.ndarray:
    """Two-cluster k-means on intensity; class 1 is the darker (or brighter) cluster."""
    rng = np.random.default_rng(rng)
    img = np.asarray(image, dtype=np.float64)
    sub = img.ravel()[:: max(1, img.size // 20000)]
    if sub.max() == sub.min():
        return np.zeros(img.shape, np.uint8)
    centres, _ = kmeans2(sub[:, None], np.array([[sub.min()], [sub.max()]]), iter=20, minit="matrix",
                         seed=rng)
    c = np.sort(centres.ravel())
    t = c.mean()
    fg = img < t if dark_foreground else img > t
    return fg.astype(np.uint8)


BASELINES = {
    "otsu_dark": lambda im: otsu_segment(im, dark_foreground=True),
    "otsu_bright": lambda im: otsu_segment(im, dark_foreground=False),
    "kmeans_dark": lambda im: kmeans_segment(im, dark_foreground=True),
    "kmeans_bright": lambda im: kmeans_segment(im, dark_foreground=False),
}
