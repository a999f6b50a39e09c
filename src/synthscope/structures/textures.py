"""Procedural textures: fractional Brownian motion (fBm) noise by spectral synthesis.

Power spectrum ``P(f) ~ (f^2 + f0^2)^(-beta/2)`` with ``f0 = 1 / wavelength_px``: a
fractal texture whose largest features are about one wavelength across (the paper uses
Perlin noise with wavelengths of 1/5 to 2/3 of a grain diameter).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from synthscope.structures._kernels import (
    add_standardized,
    gaussian_blur,
    normals_f32,
    standardize_inplace,
    uniforms_f32,
    upsample_bilinear,
)

__all__ = ["fbm_noise", "smooth_field", "smooth_grid", "grid_at"]


def fbm_noise(
    shape: tuple[int, int],
    *,
    wavelength_px: float = 32.0,
    beta: float = 3.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Zero-mean, unit-std fBm noise.

    Parameters
    ----------
    shape : (H, W)
    wavelength_px : float > 0
        Size of the largest features, px.
    beta : float in [0, 6]
        Spectral slope: 0 is white noise, 2 Brownian, larger is smoother.
    rng : Generator, int or None

    Returns
    -------
    (H, W) float32 array, mean 0, std 1.
    """
    if wavelength_px <= 0:
        raise ValueError(f"wavelength_px must be > 0, got {wavelength_px}")
    if not 0 <= beta <= 6:
        raise ValueError(f"beta must be in [0, 6], got {beta}")
    rng = np.random.default_rng(rng)
    h, w = shape
    fy = sfft.fftfreq(h).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(w).astype(np.float32)[None, :]
    f0 = np.float32(1.0 / wavelength_px)
    amp = (fy * fy + fx * fx + f0 * f0) ** np.float32(-beta / 4.0)
    amp[0, 0] = 0.0
    # one draw of interleaved (real, imaginary) parts, read as complex64: uniforms, not
    # normals, as the field sums thousands of modes and is Gaussian all the same (on
    # 512 x 512 at wavelengths 8-500 px its kurtosis, skewness, extremes and
    # autocorrelation match those of normal spectra within their spread), at a
    # fifteenth of the cost to draw
    spec = uniforms_f32(rng, (h, 2 * (w // 2 + 1))).view(np.complex64)
    spec *= amp
    out = np.ascontiguousarray(sfft.irfft2(spec, s=(h, w), workers=1), dtype=np.float32)
    return standardize_inplace(out)


def smooth_field(
    shape: tuple[int, int],
    *,
    wavelength_px: float,
    rng: np.random.Generator | int | None = None,
    add_to: np.ndarray | None = None,
    amplitude: float = 1.0,
) -> np.ndarray:
    """A smooth, zero-mean, unit-std random field with features of about ``wavelength_px``.

    Made at low resolution and zoomed up, so it costs little at any size. With
    ``add_to`` (float32, ``shape``), ``amplitude`` times the field is added to it in
    place and it is returned (no full-size temporaries).
    """
    rng = np.random.default_rng(rng)
    h, w = shape
    step = wavelength_px / 4.0
    sums = []
    if step < 1.0:
        # the finest fields: smooth white noise at full resolution
        out = normals_f32(rng, (h, w))
        out = gaussian_blur(out, max(step, 0.5), mode="wrap", out=out)
    else:
        out = upsample_bilinear(smooth_grid(shape, wavelength_px=wavelength_px, rng=rng), (h, w), sums=sums)
    if add_to is not None:
        return add_standardized(add_to, out, amplitude, sums=sums or None)
    out = standardize_inplace(out)
    if amplitude != 1.0:
        out *= np.float32(amplitude)
    return out


def smooth_grid(
    shape: tuple[int, int], *, wavelength_px: float, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """The coarse grid (``wavelength_px / 4`` spacing, at least 1 px) behind a smooth
    field over ``shape``; zoom it with ``upsample_bilinear`` or read it at points with
    ``grid_at``. Zero mean and unit std over the grid."""
    rng = np.random.default_rng(rng)
    h, w = shape
    step = max(1.0, wavelength_px / 4.0)
    sh, sw = max(4, int(np.ceil(h / step)) + 1), max(4, int(np.ceil(w / step)) + 1)
    small = normals_f32(rng, (sh, sw))
    return standardize_inplace(gaussian_blur(small, 1.0, mode="wrap", out=small))


def grid_at(small: np.ndarray, shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Bilinear value at (y, x) ``points`` of the field that ``small`` zooms to over
    ``shape`` (the same pixel-centre alignment as ``upsample_bilinear``)."""
    sh, sw = small.shape
    py = np.clip((points[:, 0] + 0.5) * (sh / shape[0]) - 0.5, 0, sh - 1)
    px = np.clip((points[:, 1] + 0.5) * (sw / shape[1]) - 0.5, 0, sw - 1)
    y0 = np.minimum(py.astype(np.intp), sh - 2) if sh > 1 else np.zeros(len(py), np.intp)
    x0 = np.minimum(px.astype(np.intp), sw - 2) if sw > 1 else np.zeros(len(px), np.intp)
    ty, tx = py - y0, px - x0
    a = small[y0, x0] * (1 - tx) + small[y0, x0 + 1] * tx
    b = small[y0 + 1, x0] * (1 - tx) + small[y0 + 1, x0 + 1] * tx
    return a * (1 - ty) + b * ty
