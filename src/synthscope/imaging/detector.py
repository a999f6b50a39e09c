"""Phenomenological detector model: from material maps to a noisy micrograph.

Signal = material tint + topographic shading + edge effect (the SEM signal rises with
the local surface slope), then a Gaussian probe/optics blur, scan-line jitter, an
illumination gradient, brightness/contrast/gamma, Poisson shot noise for a given dose
(electrons or photons per pixel) and Gaussian read noise.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage as ndi

from synthscope._fastrng import new_key
from synthscope.imaging import _kernels as _k
from synthscope.structures._kernels import add_scaled, gaussian_blur, normals_f32
from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import fbm_noise, smooth_field

__all__ = ["image_detector", "add_shot_noise"]

# From this dose on, the Poisson law is replaced by its normal limit (mean and variance
# equal to the count): five times faster, and only the darkest pixels of a dim image
# would tell the difference.
_POISSON_NORMAL_LIMIT = 50.0


def add_shot_noise(signal: np.ndarray, dose_e_per_px: float, *, rng) -> np.ndarray:
    """Counting noise: ``Poisson(dose * signal) / dose`` for a signal in [0, 1]."""
    rng = np.random.default_rng(rng)
    if not dose_e_per_px > 0:
        raise ValueError(f"dose_e_per_px must be > 0, got {dose_e_per_px}")
    lam = np.clip(signal, 0.0, None) * np.float32(dose_e_per_px)
    if dose_e_per_px >= _POISSON_NORMAL_LIMIT:
        noisy = lam + np.sqrt(lam) * normals_f32(rng, lam.shape)
    else:
        noisy = np.empty(lam.shape, np.float32)
        _k.poisson_fill(new_key(rng), np.ascontiguousarray(lam), _poisson_cdf(), noisy)
    return noisy / np.float32(dose_e_per_px)


@functools.cache
def _poisson_cdf() -> tuple[np.ndarray, np.ndarray]:
    return _k.poisson_tables()


def image_detector(
    specimen: Specimen,
    *,
    topography_contrast: float = 0.4,
    edge_contrast: float = 0.0,
    background_amplitude: float = 0.0,
    background_wavelength_px: float = 64.0,
    blur_sigma_px: float = 1.0,
    scan_jitter_px: float = 0.0,
    illumination_gradient: float = 0.0,
    brightness: float = 0.5,
    contrast: float = 1.0,
    gamma: float = 1.0,
    dose_e_per_px: float = 200.0,
    read_noise: float = 0.01,
    invert: bool = False,
    detector_blur_px: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Render a specimen's ``tint`` and ``height`` maps to an image.

    Parameters
    ----------
    specimen : Specimen with maps ``tint`` (brightness, ~[0, 1]) and ``height``
    topography_contrast : float
        Signal per unit height; positive makes grooves (negative height) dark.
    edge_contrast : float >= 0
        Signal at the steepest slopes of the height map (SEM edge effect; bright rims and
        edges), in tint units.
    background_amplitude : float >= 0
        Amplitude of fBm background texture, in units of the structure's signal std.
    background_wavelength_px : float > 0
    blur_sigma_px : float >= 0
        Gaussian PSF sigma, px.
    scan_jitter_px : float >= 0
        Std of the horizontal offset of scan lines, px.
    illumination_gradient : float >= 0
        Peak-to-peak illumination change over the field, in structure-std units.
    brightness : float in [0, 1]
        Mean signal level.
    contrast : float > 0
        Gain around the mean.
    gamma : float > 0
        Output is ``signal ** gamma``.
    dose_e_per_px : float > 0
        Mean detected counts per pixel at full signal (shot noise).
    read_noise : float >= 0
        Std of additive Gaussian noise, in units of full signal.
    invert : bool
        Flip the contrast (negative image).
    detector_blur_px : float >= 0
        Gaussian sigma, px, of a blur after the noise: the spread of a camera's
        scintillator or sensor, demosaicing, compression. It correlates the noise of
        neighbouring pixels (lag-1 correlation exp(-1 / (4 sigma^2)): 0.60 at 0.7 px, 0.78
        at 1 px; 0.26 at 0.5 px, where the sampled kernel is coarse), as in camera-recorded
        TEM and optical micrographs; 0: white noise.
    rng : Generator, int or None

    Returns
    -------
    (H, W) float32 image in [0, 1].
    """
    if (blur_sigma_px < 0 or scan_jitter_px < 0 or read_noise < 0 or not detector_blur_px >= 0 or contrast <= 0
            or gamma <= 0):
        raise ValueError(
            "blur_sigma_px, scan_jitter_px, read_noise, detector_blur_px must be >= 0 and contrast, gamma > 0"
        )
    rng = np.random.default_rng(rng)
    tint = specimen.maps["tint"]
    height = specimen.maps.get("height")
    shape = tint.shape
    # particles may be far brighter than the rest (as in SEM); the signal scale is set
    # from the uncovered specimen so that they saturate instead of hiding the boundaries
    cover = specimen.maps.get("cover")
    free = None if cover is None else cover < 0.5
    if free is not None and free.mean() < 0.2:
        free = None
    free_arg = np.zeros((0, 0), np.bool_) if free is None else np.ascontiguousarray(free)
    edge_gain, cap = 0.0, 0.0
    if height is not None and edge_contrast:
        # slope in units of the steepest flanks present, so the edge effect has the
        # same strength for narrow grooves and large particles alike (a percentile of
        # a smooth map: every 2nd pixel each way will do)
        ref = _k.slope_sample(height, free_arg, 2)
        steep = float(np.percentile(ref, 98)) if ref.size else 1.0
        edge_gain, cap = edge_contrast / max(steep, 1e-3), 1.5 * steep
    # signal = tint + topographic shading + edge effect, in one pass with its statistics
    sig = np.empty(shape, np.float32)
    h_arg = _k.empty_f32() if height is None else np.ascontiguousarray(height, dtype=np.float32)
    n, mu, var = _k.signal_map(np.ascontiguousarray(tint, dtype=np.float32), h_arg, float(topography_contrast or 0.0),
                              float(edge_gain), float(cap), free_arg, sig)
    # Work in units of the structure's own contrast, so that background, illumination
    # and noise settings mean the same whatever the specimen's tint range (the tone
    # pass standardises; blur and background are linear, so they may come first).
    sd = math.sqrt(var) or 1.0
    if background_amplitude > 0:
        bg = fbm_noise(shape, wavelength_px=background_wavelength_px, beta=2.5, rng=rng)
        add_scaled(sig, bg, np.float32(0.0), np.float32(background_amplitude * sd))
    if blur_sigma_px > 0:
        sig = gaussian_blur(sig, blur_sigma_px, out=sig)
    off = np.zeros(0, np.float32)
    if scan_jitter_px > 0:
        # rows shift together over a few lines (mains hum, stage vibration)
        off = (ndi.gaussian_filter1d(rng.standard_normal(shape[0]), 1.5) * scan_jitter_px * 2.0).astype(np.float32)
    field, field_gain = _k.empty_f32(), 0.0
    if illumination_gradient > 0:
        field = smooth_field(shape, wavelength_px=2.0 * max(shape), rng=rng)
        field_gain = illumination_gradient / (float(field.max() - field.min()) or 1.0)
    # shift, illumination and tone curve in one compiled pass
    out = np.empty(shape, np.float32)
    _k.tone(sig, np.float32(mu), np.float32(1.0 / sd), off, field, np.float32(field_gain),
            np.float32(brightness), np.float32(contrast * 0.18), _k.gamma_lut(gamma), bool(invert), out)
    if not dose_e_per_px > 0:
        raise ValueError(f"dose_e_per_px must be > 0, got {dose_e_per_px}")
    if dose_e_per_px >= _POISSON_NORMAL_LIMIT:
        # shot and read noise are both normal here: one draw with the summed variance
        _k.gaussian_counts(out, np.float32(dose_e_per_px), np.float32(read_noise), new_key(rng), out)
    else:
        _k.poisson_counts(out, float(dose_e_per_px), float(read_noise), new_key(rng), _poisson_cdf(), out)
    if detector_blur_px > 0:
        out = gaussian_blur(out, detector_blur_px, out=out)
        np.clip(out, 0.0, 1.0, out=out)
    return out
