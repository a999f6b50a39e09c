"""3-D specimens: porous solids (overlapping spherical pores, blobs, bicontinuous
spinodal-like networks as in dealloyed nanoporous gold) with a target porosity and
ligament size, and particles in a matrix. Labels per voxel: 0 pore, 1 solid (matrix),
2 particle; instances: pores (connected) or particles.

The spinodal structure is a Gaussian random field whose spectrum is a thin shell
|k| = 2 pi / wavelength (Cahn's picture of early spinodal decomposition), thresholded at
the porosity quantile. Sizes are mean chord lengths (stereology: the mean intercept
length of a phase along random lines), measured and corrected once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from synthscope.structures.specimen import Specimen

__all__ = ["POROUS_KINDS", "generate_particle_volume", "generate_porous_volume", "mean_chord_length"]

POROUS_KINDS = ("spheres", "blobs", "spinodal")


def mean_chord_length(phase: np.ndarray) -> float:
    """Mean length of the runs of ``phase`` along the array axes, in voxels (runs cut by
    the border count as they are)."""
    phase = np.asarray(phase, bool)
    voxels = runs = 0
    for ax in range(phase.ndim):
        p = np.moveaxis(phase, ax, -1)
        starts = p[..., :1].sum() + (p[..., 1:] & ~p[..., :-1]).sum()
        voxels += p.sum()
        runs += starts
    return float(voxels / runs) if runs else 0.0


def _check_shape(shape):
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"shape must be three sizes (nz, ny, nx) >= 4, got {shape}")
    return shape


def _shell_field(shape, wavelength, width, phases):
    """Random field with spectrum exp(-(|k| - k0)^2 / (2 (width k0)^2)) and given phases."""
    k = np.meshgrid(*[np.fft.fftfreq(n) for n in shape[:-1]], np.fft.rfftfreq(shape[-1]), indexing="ij")
    kr = np.sqrt(sum(x * x for x in k))
    k0 = 1.0 / wavelength
    amp = np.exp(-((kr - k0) ** 2) / (2 * (width * k0) ** 2))
    return np.fft.irfftn(amp * phases, s=shape, axes=tuple(range(len(shape))))


def generate_porous_volume(
    shape: tuple[int, int, int],
    *,
    porosity: float = 0.4,
    kind: str = "spinodal",
    ligament_size_vox: float = 8.0,
    pore_diameter_vox: float = 10.0,
    size_cv: float = 0.3,
    rng: np.random.Generator | int | None = None,
) -> Specimen:
    """A porous solid.

    Parameters
    ----------
    shape : (nz, ny, nx)
    porosity : float in (0.02, 0.9), volume fraction of pores
    kind : "spheres" (overlapping spherical pores), "blobs" (smoothed noise) or
        "spinodal" (bicontinuous ligaments)
    ligament_size_vox : float > 1, mean chord length of the solid (blobs, spinodal)
    pore_diameter_vox : float > 1, mean sphere diameter (spheres)
    size_cv : float >= 0, coefficient of variation of sphere diameters
    rng : generator or seed

    Returns
    -------
    Specimen with labels (nz, ny, nx) uint8 (0 pore, 1 solid), instances = connected
    pores, stats porosity, ligament_size_vox, pore_chord_vox, pore_count
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(rng)
    if kind not in POROUS_KINDS:
        raise ValueError(f"kind must be one of {', '.join(POROUS_KINDS)}, got {kind!r}")
    if not 0.02 <= porosity <= 0.9:
        raise ValueError(f"porosity must be in [0.02, 0.9], got {porosity}")
    if not ligament_size_vox > 1 or not pore_diameter_vox > 1:
        raise ValueError("ligament_size_vox and pore_diameter_vox must be > 1")
    if kind == "spheres":
        pores = _overlapping_spheres(shape, porosity, pore_diameter_vox, size_cv, rng)
    else:
        if kind == "spinodal":
            phases = np.exp(2j * np.pi * rng.random(tuple(shape[:-1]) + (shape[-1] // 2 + 1,)))
            make = lambda lam: _shell_field(shape, lam, 0.15, phases)  # noqa: E731
            lam0 = 2.0 * ligament_size_vox  # first guess; corrected below
        else:
            noise = rng.standard_normal(shape)
            make = lambda lam: ndi.gaussian_filter(noise, lam / 4.0, mode="wrap")  # noqa: E731
            lam0 = 2.0 * ligament_size_vox
        lam = lam0
        for _ in range(4):  # measure, rescale, repeat: the chord scales with the wavelength
            field = make(lam)
            pores = field < np.quantile(field, porosity)
            got = mean_chord_length(~pores)
            if abs(got / ligament_size_vox - 1) < 0.03:
                break
            lam *= ligament_size_vox / got
    labels = (~pores).astype(np.uint8)
    inst, n = ndi.label(pores)
    return Specimen(
        labels=labels,
        instances=inst.astype(np.int32),
        stats={
            "porosity": float(pores.mean()),
            "ligament_size_vox": mean_chord_length(~pores),
            "pore_chord_vox": mean_chord_length(pores),
            "pore_count": int(n),
        },
    )


def _ball(shape, c, r):
    """The bounding box (slices) of a ball of radius r at c, and the ball inside it."""
    lo = np.maximum(np.floor(c - r).astype(int), 0)
    hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
    zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    ball = (zz + 0.5 - c[0]) ** 2 + (yy + 0.5 - c[1]) ** 2 + (xx + 0.5 - c[2]) ** 2 <= r * r
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), ball


def _overlapping_spheres(shape, porosity, diameter, cv, rng):
    """Add spheres at random until the pore fraction reaches ``porosity``."""
    pores = np.zeros(shape, bool)
    target = porosity * pores.size
    covered = 0
    sigma = math.sqrt(math.log(1 + cv * cv))
    while covered < target:
        d = diameter * math.exp(rng.normal(-sigma * sigma / 2, sigma)) if cv > 0 else diameter
        r = max(d / 2, 0.75)
        c = rng.uniform(0, 1, 3) * np.array(shape)
        box, ball = _ball(shape, c, r)
        box = pores[box]
        covered += int((ball & ~box).sum())
        box |= ball
    return pores


def generate_particle_volume(
    shape: tuple[int, int, int],
    *,
    volume_fraction: float = 0.15,
    mean_diameter_vox: float = 10.0,
    size_cv: float = 0.3,
    gap_vox: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> Specimen:
    """Non-overlapping spherical particles in a matrix (random sequential addition).

    Returns
    -------
    Specimen with labels 1 matrix, 2 particle; instances one per particle; stats
    volume_fraction, particle_count, mean_diameter_vox (of particles whose centre is
    inside the volume).
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(rng)
    if not 0.005 <= volume_fraction <= 0.3:  # random sequential addition jams near 0.38
        raise ValueError(f"volume_fraction must be in [0.005, 0.3], got {volume_fraction}")
    if not mean_diameter_vox >= 2:
        raise ValueError(f"mean_diameter_vox must be >= 2, got {mean_diameter_vox}")
    inst = np.zeros(shape, np.int32)
    target = volume_fraction * inst.size
    sigma = math.sqrt(math.log(1 + size_cv * size_cv))
    centres, radii = [], []
    filled, tries, k = 0, 0, 0
    while filled < target and tries < 100:
        # keep the drawn size until it fits, so that the size law is the one asked for
        d = mean_diameter_vox * math.exp(rng.normal(-sigma * sigma / 2, sigma)) if size_cv > 0 else mean_diameter_vox
        r = max(d / 2, 1.0)
        for _ in range(200):
            c = rng.uniform(0, 1, 3) * np.array(shape)
            if not centres or (np.sqrt(((np.asarray(centres) - c) ** 2).sum(1)) >= np.asarray(radii) + r + gap_vox).all():
                break
        else:
            tries += 1  # no room for this one
            continue
        box, ball = _ball(shape, c, r)
        k += 1
        inst[box][ball] = k
        filled += int(ball.sum())
        centres.append(c)
        radii.append(r)
    labels = np.where(inst > 0, 2, 1).astype(np.uint8)
    return Specimen(
        labels=labels,
        instances=inst,
        stats={
            "volume_fraction": float((inst > 0).mean()),
            "particle_count": k,
            "mean_diameter_vox": float(2 * np.mean(radii)) if radii else 0.0,
        },
    )
