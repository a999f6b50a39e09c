"""Recipe `precipitates`: SEM micrographs of precipitates in a matrix, with class
(0 matrix, 1 precipitate, 2 fine precipitate) and instance labels.

Structure: `structures.particles` (separate, touching or dense tessellated particles;
circles, ellipses, lattice-aligned cuboids, irregular blobs; optional fine population
in the matrix). Imaging: the phenomenological detector with the particles' own tint
(darker or brighter than the matrix), their relief (raised or etched) so the SEM edge
effect draws bright rims, matrix texture, and the usual blur, noise and drift.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from synthscope.params.distributions import Choice, LogUniform, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes.base import P, Recipe, detector_image, register_recipe
from synthscope.structures.particles import PLACEMENTS, SHAPES, generate_particles
from synthscope.structures.textures import fbm_noise

__all__ = ["PRECIPITATES"]

SPACE = ParameterSpace(
    (
        # structure
        P("area_fraction", Uniform(0.05, 0.55), 0.0, 0.85, doc="share of the image covered by (coarse) precipitates"),
        P("mean_diameter_px", LogUniform(6.0, 80.0), 1.0, 2000.0, doc="mean equivalent diameter of precipitates, px"),
        P("size_cv", Uniform(0.1, 0.5), 0.0, 2.0, doc="coefficient of variation of diameters (lognormal)"),
        P("particle_shape", Choice(SHAPES, p=(0.3, 0.2, 0.2, 0.3)), options=SHAPES, doc="outline of a precipitate"),
        P("placement", Choice(PLACEMENTS, p=(0.45, 0.2, 0.35)), options=PLACEMENTS,
          doc="separate (no overlap), touching (some overlap), field (dense, irregular, thin channels)"),
        P("aspect", Uniform(1.0, 2.0), 1.0, 10.0, doc="axis or side ratio of ellipses and cuboids"),
        P("corner", Uniform(0.15, 0.7), 0.0, 1.0, doc="cuboid corner radius / half side"),
        P("roughness", Uniform(0.0, 0.5), 0.0, 2.0, doc="outline irregularity (blobs, field)"),
        P("misorientation_deg", Uniform(0.0, 10.0), 0.0, 90.0, doc="cuboid orientation spread around the lattice, deg"),
        P("touching_fraction", Uniform(0.1, 0.6), 0.0, 1.0, doc="share of particles allowed to touch (placement touching)"),
        P("gap_px", Uniform(0.0, 3.0), 0.0, 50.0, doc="least gap between separate particles, px"),
        P("clustering", Choice((0.0, 0.0, 0.3, 0.7)), 0.0, 1.0, doc="0 uniform .. 1 strongly clustered positions"),
        P("fine_area_fraction", Choice((0.0, 0.0, 0.01, 0.03)), 0.0, 0.4, doc="fine precipitates (class 2) in the matrix"),
        P("fine_diameter_px", Uniform(2.5, 10.0), 1.0, 100.0, doc="mean diameter of fine precipitates, px (coarse ones are >= 3.5x larger)"),
        P("fine_contrast", LogUniform(0.7, 4.0), 0.0, 10.0,
          doc="tint change of fine precipitates / that of coarse ones (fine pits are often far darker)"),
        # appearance
        P("polarity", Choice(("dark", "bright")), options=("dark", "bright"), doc="precipitates darker or brighter than the matrix"),
        P("particle_contrast", Uniform(0.1, 1.0), 0.0, 5.0, doc="tint difference precipitate - matrix (polarity sets the sign)"),
        P("relief", Uniform(-1.0, 1.0), -5.0, 5.0, doc="height of precipitates (negative: etched below the matrix)"),
        P("edge_strength", Uniform(0.0, 1.5), 0.0, 10.0, doc="SEM edge effect: bright rims on relief slopes (x 0.5 tint units)"),
        P("topography_contrast", Uniform(0.0, 0.4), -5.0, 5.0, doc="signal per unit height"),
        P("matrix_texture", Uniform(0.0, 0.15), 0.0, 2.0, doc="fBm texture in matrix and precipitates, tint units"),
        P("texture_wavelength_px", LogUniform(2.0, 40.0), 0.5, 1000.0, doc="texture wavelength, px"),
        # imaging
        P("background_amplitude", Uniform(0.0, 0.4), 0.0, 10.0, doc="fBm background, in structure-contrast units"),
        P("background_wavelength_px", LogUniform(16.0, 512.0), 1.0, 4096.0, doc="background wavelength, px"),
        P("blur_sigma_px", LogUniform(0.4, 2.5), 0.0, 20.0, doc="Gaussian PSF sigma, px"),
        P("scan_jitter_px", Uniform(0.0, 0.6), 0.0, 10.0, doc="scan-line jitter, px"),
        P("illumination_gradient", Uniform(0.0, 1.0), 0.0, 20.0, doc="smooth illumination change across the field"),
        P("brightness", Uniform(0.3, 0.7), 0.0, 1.0, doc="mean signal"),
        P("contrast", Uniform(0.8, 2.0), 0.01, 10.0, doc="gain around the mean"),
        P("gamma", LogUniform(0.6, 1.6), 0.1, 10.0, doc="output gamma"),
        P("dose_e_per_px", LogUniform(20.0, 1000.0), 0.01, 1e7, doc="counts per pixel at full signal (shot noise)"),
        P("read_noise", Uniform(0.0, 0.04), 0.0, 1.0, doc="additive Gaussian noise std"),
    )
)


#: with a fine population present, coarse precipitates are at least this many times
#: larger: the classes differ by size, so they must not overlap in size
COARSE_OVER_FINE = 3.5


def _structure(shape, s, rng):
    coarse_d = s["mean_diameter_px"]
    if s["fine_area_fraction"] > 0:
        coarse_d = max(coarse_d, COARSE_OVER_FINE * s["fine_diameter_px"])
    spec = generate_particles(
        shape,
        area_fraction=s["area_fraction"],
        mean_diameter_px=coarse_d,
        size_cv=s["size_cv"],
        particle_shape=s["particle_shape"],
        aspect=s["aspect"],
        corner=s["corner"],
        roughness=s["roughness"],
        misorientation_deg=s["misorientation_deg"],
        placement=s["placement"],
        gap_px=s["gap_px"],
        touching_fraction=s["touching_fraction"],
        clustering=s["clustering"],
        fine_area_fraction=s["fine_area_fraction"],
        fine_diameter_px=s["fine_diameter_px"],
        rng=rng,
    )
    sign = -1.0 if s["polarity"] == "dark" else 1.0
    inside = (spec.labels > 0).astype(np.float32)
    level = np.where(spec.labels == 2, s["fine_contrast"], 1.0).astype(np.float32)
    tint = 0.5 + sign * s["particle_contrast"] * inside * level
    if s["matrix_texture"] > 0:
        tint = tint + s["matrix_texture"] * fbm_noise(shape, wavelength_px=s["texture_wavelength_px"], beta=2.5, rng=rng)
    # relief: a smooth-edged plateau, so slopes (and SEM rims) sit on the outlines
    height = s["relief"] * ndi.gaussian_filter(inside, 1.2)
    return spec.with_maps(tint=tint.astype(np.float32), height=height.astype(np.float32))


def _imaging(specimen, s, rng):
    return detector_image(specimen, s, rng, topography_contrast=s["topography_contrast"],
                          edge_contrast=0.5 * s["edge_strength"] if s["relief"] != 0 else 0.0)


PRECIPITATES = register_recipe(
    Recipe(
        name="precipitates",
        space=SPACE,
        structure=_structure,
        imaging=_imaging,
        classes=("matrix", "precipitate", "fine precipitate"),
        scoring="instances",
        description="SEM precipitates in a matrix (coarse and fine populations) with instance labels",
    )
)
