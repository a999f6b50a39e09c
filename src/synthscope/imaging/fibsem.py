"""FIB-SEM serial sectioning: slice by slice, image the freshly cut face of a 3-D specimen.

At every slice the pores are empty, so where the face is cut through a pore the beam
flies on and meets the material behind it: that signal, dimmed by the pore walls, is the
shine-through that defeats threshold segmentation. Signals come from the Monte Carlo-
calibrated fast model (`imaging.fast_signal`); on top: probe blur, curtaining stripes
along the milling direction, slice-thickness variation, stage drift between slices,
shot noise for the dose, brightness and contrast. The truth of each slice is the phase
of the cut face (0 pore, >= 1 solid phases), moved with the drift as the image is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from synthscope.imaging import materials as _materials
from synthscope.imaging.detector import add_shot_noise
from synthscope.imaging.fast_signal import image_fast, signal_kernel
from synthscope.imaging.materials import Material, material
from synthscope.imaging.montecarlo import electrons_per_pixel, probe_sigma_nm

__all__ = ["FIBSEMStack", "image_fibsem", "microscope_settings"]


@dataclass(frozen=True)
class FIBSEMStack:
    """Images and truth of a serial-section run.

    Attributes
    ----------
    images : (n, H, W) float32 in [0, 1]
    truth : (n, H, W) uint8, phase of the cut face (0 pore)
    positions_vox : (n,) float, where each face was cut, voxels along the milling axis
    drift_px : (n, 2) int, (dy, dx) image shift of each slice
    """

    images: np.ndarray
    truth: np.ndarray
    positions_vox: np.ndarray
    drift_px: np.ndarray


@functools.lru_cache(maxsize=512)
def _kernel(mat: Material, energy_kev: float, voxel_nm: float):
    # the Monte Carlo per material, energy and voxel size runs once per process
    return signal_kernel(mat, energy_kev=energy_kev, voxel_nm=voxel_nm, n_electrons=20000, rng=0)


def _curtain_profile(nx, wavelength_px, rng):
    p = ndi.gaussian_filter1d(rng.standard_normal(nx), max(wavelength_px / 4, 0.5), mode="wrap")
    return p / (p.std() + 1e-12)


def image_fibsem(
    volume: np.ndarray,
    materials: Sequence[Material | str],
    *,
    voxel_nm: float = 5.0,
    energy_kev: float = 2.0,
    n_slices: int | None = None,
    slice_thickness_vox: float = 1.0,
    thickness_cv: float = 0.1,
    se_fraction: float = 0.5,
    probe_sigma_px: float = 0.7,
    curtain_amplitude: float = 0.05,
    curtain_wavelength_px: float = 6.0,
    drift_px_per_slice: float = 0.0,
    brightness: float = 0.5,
    contrast: float = 1.0,
    dose_e_per_px: float = 200.0,
    read_noise: float = 0.01,
    shine_through: bool = True,
    rng: np.random.Generator | int | None = None,
) -> FIBSEMStack:
    """Serial-section images of ``volume`` milled along axis 0.

    Parameters
    ----------
    volume : (nz, H, W) integer array, 0 pore, i >= 1 ``materials[i - 1]``; axis 0 is the
        milling direction, so slice k sees ``volume[k:]`` with its face at ``volume[k]``
    materials : Material, symbols or formulas
    voxel_nm : float, voxel edge (the nominal slice thickness is one voxel)
    energy_kev : float, SEM beam energy (FIB-SEM imaging: 1-3 keV)
    n_slices : int, default as many as leave 16 voxels behind the last face
    slice_thickness_vox : float, mean advance of the mill per slice, voxels
    thickness_cv : float, relative spread of the advance
    se_fraction : float in [0, 1], SE share of the detected signal (rest BSE)
    probe_sigma_px : float, probe/optics blur
    curtain_amplitude : float, relative amplitude of the curtaining stripes
    curtain_wavelength_px : float, typical stripe width
    drift_px_per_slice : float, std of the stage drift step between slices (random walk)
    brightness, contrast, dose_e_per_px, read_noise : detector gain and noise
    shine_through : bool, False removes everything behind the face's pores (as if they
        were bottomless), so a pore shows nothing: the control without shine-through
    rng : generator or seed
    """
    rng = np.random.default_rng(rng)
    volume = np.asarray(volume)
    mats = tuple(material(m) for m in materials)
    if volume.ndim != 3:
        raise ValueError(f"volume must be 3-D (nz, H, W), got shape {volume.shape}")
    if not 0.0 <= se_fraction <= 1.0:
        raise ValueError(f"se_fraction must be in [0, 1], got {se_fraction}")
    if not slice_thickness_vox > 0 or not thickness_cv >= 0:
        raise ValueError("slice_thickness_vox must be > 0 and thickness_cv >= 0")
    nz, h, w = volume.shape
    if n_slices is None:
        n_slices = max(1, int((nz - 16) / slice_thickness_vox))
    steps = slice_thickness_vox * np.clip(1 + thickness_cv * rng.standard_normal(n_slices), 0.2, 3.0)
    pos = np.concatenate([[0.0], np.cumsum(steps[:-1])])
    if pos[-1] >= nz:
        raise ValueError(f"{n_slices} slices of {slice_thickness_vox} voxels do not fit in {nz} voxels")
    kernels = [_kernel(m, float(energy_kev), float(voxel_nm)) for m in mats]
    ref_bse = max(k.eta for k in kernels)
    ref_se = max(k.se for k in kernels)
    # drift: a random walk from the first slice (which defines the frame)
    steps_px = rng.normal(0, drift_px_per_slice, (n_slices, 2)) if drift_px_per_slice > 0 else np.zeros((n_slices, 2))
    steps_px[0] = 0
    walk = np.cumsum(steps_px, 0)
    drift = np.round(walk).astype(int)
    base_curtain = _curtain_profile(w, curtain_wavelength_px, rng)
    images = np.empty((n_slices, h, w), np.float32)
    truth = np.empty((n_slices, h, w), np.uint8)
    scale = None
    for i, p in enumerate(pos):
        k = min(int(round(p)), nz - 1)
        block = volume[k:]
        if not shine_through:  # nothing behind the face's pores
            block = np.where((block[:1] > 0), block, 0)
        sig = image_fast(block, mats, voxel_nm=voxel_nm, energy_kev=energy_kev, kernels=kernels)
        s = (1 - se_fraction) * sig.bse / ref_bse + se_fraction * sig.se / ref_se
        if scale is None:  # the operator's auto-contrast, set on the first slice
            scale = float(np.percentile(s, 99.5)) or 1.0
        s = s / scale
        if probe_sigma_px > 0:
            s = ndi.gaussian_filter(s, probe_sigma_px, mode="nearest")
        # curtains: stripes down the face (along y), drifting slowly from slice to slice
        curtain = 0.85 * base_curtain + 0.15 * _curtain_profile(w, curtain_wavelength_px, rng)
        s = s * (1 + curtain_amplitude * curtain)[None, :]
        s = brightness + contrast * 0.7 * (s - 0.5)  # full solid +-0.35 around brightness at contrast 1
        s = add_shot_noise(np.clip(s, 0, None).astype(np.float32), dose_e_per_px, rng=rng)
        if read_noise > 0:
            s = s + rng.normal(0, read_noise, s.shape).astype(np.float32)
        dy, dx = drift[i]
        images[i] = np.clip(ndi.shift(s, (dy, dx), order=0, mode="nearest"), 0, 1)
        truth[i] = ndi.shift(volume[k].astype(np.uint8), (dy, dx), order=0, mode="nearest")
    return FIBSEMStack(images=images, truth=truth, positions_vox=pos, drift_px=drift)


def microscope_settings(
    *,
    energy_kev: float,
    probe_current_pa: float,
    dwell_time_us: float,
    pixel_size_nm: float,
    working_distance_mm: float = 4.0,
    aperture_diameter_um: float = 30.0,
    material: Material | str = "Au",
    lines_averaged: int = 1,
) -> dict:
    """Imaging parameters of `image_fibsem` (and of the `fibsem_porous` recipe) from a
    microscope's settings in physical units.

    ``dose_e_per_px`` counts the electrons the detector collects from a flat specimen of
    ``material``: electrons per pixel (current x dwell time x lines averaged / e) times
    its backscatter coefficient at ``energy_kev`` (from the Monte Carlo).
    ``probe_sigma_px`` follows from the column settings (`montecarlo.probe_sigma_nm`).
    """
    if not pixel_size_nm > 0 or not lines_averaged >= 1:
        raise ValueError("pixel_size_nm must be > 0 and lines_averaged >= 1")
    n = electrons_per_pixel(probe_current_pa, dwell_time_us) * lines_averaged
    eta = _kernel(_materials.material(material), float(energy_kev), float(pixel_size_nm)).eta
    sigma = probe_sigma_nm(energy_kev=energy_kev, working_distance_mm=working_distance_mm,
                           aperture_diameter_um=aperture_diameter_um)
    return {
        "energy_kev": float(energy_kev),
        "voxel_nm": float(pixel_size_nm),
        "dose_e_per_px": round(float(n * eta), 2),
        "probe_sigma_px": round(sigma / pixel_size_nm, 3),
        "electrons_per_pixel": round(float(n), 1),
    }
