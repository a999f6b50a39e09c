"""Distractors: features that look like structure but are labelled background.

Particles and precipitates on boundaries and triple junctions, blobs and rings inside
grains (inclusions, vesicles, organelles), scratches. They change the material maps
(tint, height) and never the class labels, as annotators trace a boundary through a
particle sitting on it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _st

from synthscope.structures._kernels import (
    STYLE_CODES,
    add_level_set,
    draw_line,
    stamp_particles,
    triple_junctions,
)
from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import fbm_noise, smooth_field

__all__ = ["add_distractors", "PARTICLE_STYLES"]

#: how a particle looks: a raised bright bump; outlined by a dark rim (light optics) or
#: a bright one (SEM, where the edge effect lights every particle's edge) around an
#: interior of its own shade; or a plain bright/dark blob
PARTICLE_STYLES = ("bump", "dark_rim", "bright", "dark", "bright_rim")
#: particles are drawn one by one; beyond this many per image they would cover it
MAX_PARTICLES = 200


def _triple_junctions(inst: np.ndarray) -> np.ndarray:
    """(k, 2) top-left corners of the 2x2 windows holding at least three grains."""
    return triple_junctions(np.ascontiguousarray(inst))


def _stamp_all(tint, height, cover, cy, cx, radius, *, style, contrast, rough_field, rng, rim_px=None):
    """Draw irregular, anti-aliased blobs at (cy, cx) of the given radii and contrasts
    into tint/height/cover in place: their shapes drawn for all at once, then stamped in
    one compiled loop. ``rim_px``: rim width of the outlined styles (None: a fifth of
    each radius)."""
    n = len(cy)
    aspect = np.exp(0.2 * rng.standard_normal(n))
    angle = rng.uniform(0, np.pi, n)
    irregularity = rng.uniform(0.0, 0.25, n)
    coef = irregularity[:, None] * rng.standard_normal((n, 4))  # harmonics 2..5 of the outline
    phase = rng.uniform(0, 2 * np.pi, (n, 4))
    # the interior of an outlined particle is rarely the matrix's shade: mostly darker
    # (absorbing precipitates), sometimes lighter
    interior = np.zeros(n)
    if style == "dark_rim":
        interior = rng.uniform(-1.0, 0.6, n) * np.abs(contrast)
    elif style == "bright_rim":  # the mirror image: mostly lighter, sometimes darker
        interior = rng.uniform(-0.6, 1.0, n) * np.abs(contrast)
        contrast = -np.abs(contrast)
    rim = np.zeros(n) if rim_px is None else np.full(n, float(rim_px))
    stamp_particles(tint, height, cover, rough_field, np.ascontiguousarray(cy, dtype=np.float64),
                    np.ascontiguousarray(cx, dtype=np.float64), radius, STYLE_CODES[style],
                    np.ascontiguousarray(contrast, dtype=np.float64), interior,
                    aspect, angle, irregularity, coef, phase, rim)


def _field_blobs(tint, count, radius, contrast, *, ring, rng):
    """About ``count`` blobs (or their outlines) of radius ~``radius`` from a thresholded
    smooth field; the threshold sets the covered area to count * pi r^2."""
    h, w = tint.shape
    frac = min(0.3, count * math.pi * radius**2 / (h * w))
    if frac <= 0:
        return
    f = smooth_field((h, w), wavelength_px=max(3.0, 3.0 * radius), rng=rng)
    # threshold of a unit normal field leaving `frac` of the area above it
    thr = float(_st.norm.isf(frac))
    width = rng.uniform(0.15, 0.35) if ring else 0.15
    add_level_set(tint, f, thr, width, ring, float(contrast * (0.6 + 0.8 * rng.random())))


def _scratch(tint, *, contrast, width, rng):
    h, w = tint.shape
    p = rng.uniform((0, 0), (h, w))
    ang = rng.uniform(0, np.pi)
    draw_line(tint, float(p[0]), float(p[1]), math.cos(ang), -math.sin(ang), float(width), float(contrast))


def add_distractors(
    specimen: Specimen,
    *,
    particles_per_grain: float = 0.0,
    particle_size_px: float = 8.0,
    particle_style: str = "bump",
    particle_contrast: float = 0.3,
    junction_preference: float = 0.5,
    interior_fraction: float = 0.2,
    particle_roughness: float = 0.05,
    particle_rim_px: float | None = None,
    blobs_per_grain: float = 0.0,
    blob_size_px: float = 4.0,
    blob_contrast: float = -0.2,
    rings_per_grain: float = 0.0,
    scratches: int = 0,
    scratch_contrast: float = 0.1,
    rng: np.random.Generator | int | None = None,
) -> Specimen:
    """Add background-labelled distractors to a grain specimen's tint and height maps.

    Parameters
    ----------
    specimen : Specimen with ``instances`` and maps ``tint``, ``height``
    particles_per_grain : float >= 0
        Particles on boundaries and triple junctions, per grain.
    particle_size_px : float > 0
        Mean particle radius, px (log-normal spread of 30 %).
    particle_style : one of PARTICLE_STYLES
    particle_contrast : float
        Tint change inside particles.
    junction_preference : float in [0, 1]
        Share of boundary particles placed on triple junctions rather than along
        boundaries.
    interior_fraction : float in [0, 1]
        Share of particles placed anywhere (mostly inside grains) instead.
    particle_roughness : float >= 0
        Std of the rough texture inside particles (tint units).
    particle_rim_px : float > 0 or None
        Rim width of the outlined styles, px; None: a fifth of each particle's radius.
    blobs_per_grain, blob_size_px, blob_contrast
        Elongated blobs inside grains (inclusions, organelles): count per grain,
        radius px, signed tint change.
    rings_per_grain : float >= 0
        Thin rings (vesicles, etch pits) inside grains, per grain.
    scratches : int >= 0
        Straight polishing scratches across the image.
    scratch_contrast : float
        Signed tint change along scratches.
    rng : Generator, int or None

    Returns
    -------
    A new Specimen with the same labels, updated maps, a ``cover`` map (particle area
    fraction per pixel) and ``stats['n_particles']``.
    """
    if particle_style not in PARTICLE_STYLES:
        raise ValueError(f"particle_style must be one of {PARTICLE_STYLES}, got {particle_style!r}")
    if particle_rim_px is not None and not particle_rim_px > 0:
        raise ValueError(f"particle_rim_px must be > 0 or None, got {particle_rim_px}")
    rng = np.random.default_rng(rng)
    inst = specimen.instances
    tint = specimen.maps["tint"].copy()
    height = specimen.maps["height"].copy()
    # where particles cover the specimen; the detector sets its contrast from the rest
    cover = np.zeros(inst.shape, dtype=np.float32)
    n_grains = max(1, int(specimen.stats.get("grain_count", inst.max())))

    n_part = int(rng.poisson(particles_per_grain * n_grains)) if particles_per_grain > 0 else 0
    # at most ~20 % of the field covered, and a hard cap: beyond that they are wallpaper
    n_part = min(n_part, MAX_PARTICLES, int(0.2 * inst.size / (math.pi * particle_size_px**2)) + 1)
    if n_part:
        junctions = _triple_junctions(inst)
        edges = np.flatnonzero(specimen.labels)  # flat indices: a third of argwhere's cost
        h, w = inst.shape
        # texture inside particles: a periodic fBm tile (spectral synthesis is periodic)
        # repeated over the image, far cheaper than a full field and unseen inside
        # particles a fraction of its size
        wl = max(2.0, 0.5 * particle_size_px)
        tile = 128 if wl <= 32 else 256
        rough_field = np.float32(particle_roughness) * fbm_noise(
            (min(h, tile), min(w, tile)), wavelength_px=wl, beta=2.0, rng=rng)
        # where each goes: anywhere (mostly inside grains), on a triple junction, or on
        # a boundary pixel; then a pixel of jitter off the boundary
        inside = rng.random(n_part) < interior_fraction
        on_junction = ~inside & (rng.random(n_part) < junction_preference) & (len(junctions) > 0)
        on_edge = ~inside & ~on_junction
        if len(edges) == 0:
            inside |= on_edge
            on_edge[:] = False
        pos = rng.uniform((0, 0), (h, w), size=(n_part, 2))
        pos[on_junction] = junctions[rng.integers(len(junctions), size=int(on_junction.sum()))] if len(junctions) else 0
        k = edges[rng.integers(len(edges), size=int(on_edge.sum()))] if len(edges) else np.zeros(0, np.intp)
        pos[on_edge] = np.stack(np.divmod(k, w), axis=1)
        pos[~inside] += rng.normal(0, 1.0, (int((~inside).sum()), 2))
        radius = np.maximum(1.0, particle_size_px * np.exp(0.3 * rng.standard_normal(n_part)))
        contrast = particle_contrast * (0.7 + 0.6 * rng.random(n_part))
        _stamp_all(tint, height, cover, pos[:, 0], pos[:, 1], radius, style=particle_style, contrast=contrast,
                   rough_field=rough_field, rng=rng, rim_px=particle_rim_px)
    h, w = inst.shape
    # Blobs and rings: level sets of a smooth random field, sized and counted as asked;
    # one field costs the same for ten blobs or ten thousand.
    if blobs_per_grain > 0:
        _field_blobs(tint, blobs_per_grain * n_grains, blob_size_px, blob_contrast, ring=False, rng=rng)
    if rings_per_grain > 0:
        _field_blobs(tint, rings_per_grain * n_grains, blob_size_px, blob_contrast, ring=True, rng=rng)
    for _ in range(int(scratches)):
        _scratch(tint, contrast=scratch_contrast * (0.5 + rng.random()), width=rng.uniform(0.7, 2.0), rng=rng)
    return specimen.with_maps(tint=tint, height=height, cover=cover).with_stats(n_particles=n_part)
