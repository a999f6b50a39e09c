"""Recipe `cell_membranes`: serial-section TEM of tissue: cells separated by dark, wavy
membranes of varying width, with mitochondria, vesicles and dense granules inside
(labelled cell, not membrane), a granular section texture, blur and noise.
Labels: 0 cell, 1 membrane; instances: cells."""

from __future__ import annotations

from synthscope.params.distributions import Choice, LogUniform, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes.base import DETECTOR_GAIN_NOISE, P, Recipe, detector_image, register_recipe
from synthscope.structures.membranes import generate_cells
from synthscope.structures.textures import fbm_noise

__all__ = ["CELL_MEMBRANES"]

SPACE = ParameterSpace(
    (
        P("mean_cell_diameter_px", LogUniform(30.0, 200.0), 5.0, 5000.0, doc="mean cell diameter, px"),
        P("size_spread", Uniform(0.0, 0.8), 0.0, 2.0, doc="variation of cell size between regions"),
        P("waviness", Uniform(0.05, 0.3), 0.0, 1.0, doc="membrane bending / cell diameter"),
        P("membrane_width_px", LogUniform(2.0, 5.5), 0.5, 40.0, doc="drawn membrane width, px"),
        P("width_variation", Uniform(0.1, 0.6), 0.0, 1.0, doc="variation of membrane width along it"),
        P("membrane_raggedness", Choice((0.0, 0.0, 0.0, 0.5, 1.0)), 0.0, 1.0,
          doc="0: soft membrane profile; up to 1: flat membrane with ragged edges"),
        P("gap_fraction", Uniform(0.0, 0.08), 0.0, 0.9, doc="share of membrane length faded out"),
        P("junction_blobs", Uniform(0.0, 0.1), 0.0, 1.0,
          doc="share of cell junctions filled by a dark patch (labelled membrane)"),
        P("junction_blob_radius_px", LogUniform(3.0, 12.0), 0.5, 200.0, doc="radius of those patches, px"),
        P("cell_contrast", Uniform(0.0, 0.12), 0.0, 1.0, doc="std of per-cell brightness"),
        P("mitochondria_per_cell", Uniform(0.0, 1.2), 0.0, 20.0, doc="mitochondria per cell"),
        P("mito_length_rel", Uniform(0.2, 0.6), 0.01, 2.0, doc="mitochondrion length / cell diameter"),
        P("mito_aspect", Uniform(1.5, 4.0), 1.0, 20.0, doc="mitochondrion length / width"),
        P("cristae", Uniform(0, 8), 0, 30, integer=True, doc="dark folds across a mitochondrion"),
        P("vesicles_per_cell", Uniform(0.0, 6.0), 0.0, 100.0, doc="vesicles (small rings) per cell"),
        P("vesicle_radius_px", Uniform(2.0, 8.0), 0.5, 100.0, doc="vesicle radius, px"),
        P("granules_per_cell", Uniform(0.0, 3.0), 0.0, 100.0, doc="dense granules per cell"),
        P("granule_radius_px", Uniform(1.0, 4.0), 0.3, 50.0, doc="granule radius, px"),
        P("organelle_contrast", Uniform(0.3, 1.1), 0.0, 5.0, doc="darkness of organelle walls / that of membranes"),
        P("membrane_contrast", Uniform(0.7, 1.5), 0.0, 10.0, doc="darkness of membranes, tint units"),
        P("section_texture", Uniform(0.03, 0.2), 0.0, 5.0, doc="granular texture of the section, tint units"),
        P("texture_wavelength_px", LogUniform(1.5, 12.0), 0.5, 500.0, doc="texture grain size, px"),
        P("background_amplitude", Uniform(0.0, 0.3), 0.0, 10.0, doc="fBm background, structure-contrast units"),
        P("background_wavelength_px", LogUniform(32.0, 512.0), 1.0, 8192.0, doc="background wavelength, px"),
        P("blur_sigma_px", LogUniform(0.4, 2.0), 0.0, 20.0, doc="Gaussian PSF sigma, px"),
        *DETECTOR_GAIN_NOISE,
    )
)


def _structure(shape, s, rng):
    d = s["mean_cell_diameter_px"]
    length = s["mito_length_rel"] * d
    spec = generate_cells(
        shape, mean_cell_diameter_px=d, size_spread=s["size_spread"], waviness=s["waviness"],
        membrane_width_px=s["membrane_width_px"], width_variation=s["width_variation"],
        raggedness=s["membrane_raggedness"], gap_fraction=s["gap_fraction"],
        cell_contrast=s["cell_contrast"], junction_blobs=s["junction_blobs"],
        junction_blob_radius_px=s["junction_blob_radius_px"], rng=rng,
        mitochondria_per_cell=s["mitochondria_per_cell"], mito_length_px=length,
        mito_width_px=max(length / s["mito_aspect"], 3.0), cristae=s["cristae"],
        vesicles_per_cell=s["vesicles_per_cell"], vesicle_radius_px=s["vesicle_radius_px"],
        granules_per_cell=s["granules_per_cell"], granule_radius_px=s["granule_radius_px"],
        contrast=s["organelle_contrast"] * s["membrane_contrast"],
    )
    tint = spec.maps["tint"] + s["section_texture"] * fbm_noise(shape, wavelength_px=s["texture_wavelength_px"],
                                                                 beta=2.0, rng=rng)
    return spec.with_maps(tint=tint.astype("float32"))


def _imaging(specimen, s, rng):
    # membranes are the height map's grooves: dark by the topographic term
    return detector_image(specimen, s, rng, topography_contrast=s["membrane_contrast"])


CELL_MEMBRANES = register_recipe(
    Recipe(
        name="cell_membranes",
        space=SPACE,
        structure=_structure,
        imaging=_imaging,
        classes=("cell", "membrane"),
        description="TEM tissue sections: cells, dark wavy membranes, organelles labelled cell",
    )
)
