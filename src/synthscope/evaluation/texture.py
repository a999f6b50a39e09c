"""How close synthetic textures are to real ones: the intensity distribution
(Wasserstein-1 distance of standardised intensities) and the radially averaged power
spectrum (mean absolute difference of log10 power over frequency rings)."""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

__all__ = ["radial_power_spectrum", "histogram_distance", "spectrum_distance"]


def _standardise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return (a - a.mean()) / (a.std() or 1.0)


def radial_power_spectrum(image: np.ndarray, *, bins: int = 24) -> np.ndarray:
    """Mean power of the standardised ``image`` in ``bins`` rings of spatial frequency
    from 1/side to 0.5 cycles/px (log-spaced), (bins,) float64. A Hann window keeps the
    image's edges out of the spectrum."""
    a = _standardise(image)
    h, w = a.shape
    a = a * np.outer(np.hanning(h), np.hanning(w))
    p = np.abs(np.fft.fft2(a)) ** 2 / (h * w)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    edges = np.geomspace(1.0 / min(h, w), 0.5, bins + 1)
    idx = np.digitize(f.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < bins)
    s = np.bincount(idx[ok], weights=p.ravel()[ok], minlength=bins)
    n = np.bincount(idx[ok], minlength=bins)
    return s / np.maximum(n, 1)


def histogram_distance(a_images, b_images) -> float:
    """Wasserstein-1 distance between the pooled standardised intensities of two sets
    of images (each image standardised alone), in std units."""
    a = np.concatenate([_standardise(x).ravel() for x in a_images])
    b = np.concatenate([_standardise(x).ravel() for x in b_images])
    return float(_st.wasserstein_distance(a, b))


def spectrum_distance(a_images, b_images, *, bins: int = 24) -> float:
    """Mean |log10 P_a - log10 P_b| over frequency rings, P the mean radial power
    spectrum of each set; all images of both sets must have one shape."""
    pa = np.mean([radial_power_spectrum(x, bins=bins) for x in a_images], axis=0)
    pb = np.mean([radial_power_spectrum(x, bins=bins) for x in b_images], axis=0)
    ok = (pa > 0) & (pb > 0)
    return float(np.mean(np.abs(np.log10(pa[ok]) - np.log10(pb[ok]))))
