"""Recipe `surface_cracks`: tiles of a textured surface with 0..k cracks.

Texture: image quilting from a dictionary of crack-free real patches
(`structures.exemplar`) or, without one, procedural (fBm with speckle, optionally
two-phase), optionally with dark pores that are not cracks. Cracks: chains of segments
(`structures.cracks`) darkened into the texture with anti-aliasing, an optional shadow to one side, then blur and noise of the
phenomenological detector. Labels: crack mask, and a tile class (1 = crack) by the rule
of `tile_class`, the same rule used to tile real images. Half the tiles hold cracks by
default (balanced classes).

The crack parameters are those of `CrackModel`; `synthscope fit cracks` measures them
from annotated masks and writes a scenario file for this recipe.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy import ndimage as ndi

from synthscope.params.distributions import Choice, Constant, LogUniform, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes.base import P, Recipe, detector_image, register_recipe
from synthscope.structures.cracks import CrackModel, generate_cracks
from synthscope.structures.exemplar import TextureDictionary, quilt_texture
from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import fbm_noise, smooth_field

__all__ = ["SURFACE_CRACKS", "make_surface_cracks", "tile_class", "MIN_CRACK_FRACTION", "TEXTURES"]

#: a tile is a crack tile when at least this share of its pixels is crack (1 % of a
#: 128x128 tile: a 2 px wide crack across about 80 px); a tile with some crack pixels
#: but fewer is ambiguous and left out of real tile sets
MIN_CRACK_FRACTION = 0.01
TEXTURES = ("exemplar", "procedural")


def tile_class(mask: np.ndarray, *, min_fraction: float = MIN_CRACK_FRACTION) -> int:
    """1 if at least ``min_fraction`` of the tile is crack, 0 if none of it is, -1 between
    (ambiguous)."""
    frac = float(np.count_nonzero(mask)) / mask.size
    if frac >= min_fraction:
        return 1
    return 0 if frac == 0 else -1


def _space(texture_default):
    return ParameterSpace(
        (
            P("crack_probability", Constant(0.5), 0.0, 1.0, doc="share of tiles that hold cracks"),
            P("n_cracks", Choice((1, 1, 1, 2, 3)), 0, 50, integer=True, doc="cracks in a crack tile"),
            # crack geometry: CrackModel
            P("segments_mean", Uniform(3.0, 12.0), 1.0, 200.0, doc="mean segments per crack"),
            P("segment_length_px", LogUniform(10.0, 50.0), 0.5, 1e5, doc="mean segment length, px"),
            P("segment_length_cv", Uniform(0.1, 0.7), 0.0, 5.0, doc="coefficient of variation of segment length"),
            P("bend_angle_deg", Uniform(5.0, 45.0), 0.0, 120.0, doc="mean absolute bend at joints, deg"),
            P("width_px", LogUniform(1.0, 6.0), 0.1, 1e3, doc="mean crack width away from the tips, px"),
            P("width_cv", Uniform(0.0, 0.5), 0.0, 5.0, doc="variation of width between cracks"),
            P("taper_fraction", Uniform(0.05, 0.4), 0.0, 0.5, doc="share of length at each end that tapers"),
            P("branch_probability", Uniform(0.0, 0.2), 0.0, 1.0, doc="chance of a branch at a joint"),
            P("roughness_px", Uniform(0.0, 1.5), 0.0, 100.0, doc="sideways jaggedness of the path, px"),
            P("crack_contrast", Uniform(1.0, 5.0), -20.0, 20.0, doc="darkening at full coverage, texture-std units"),
            P("shadow", Uniform(0.0, 0.6), 0.0, 5.0, doc="darkening beside the crack on one side, share of crack_contrast"),
            # texture
            P("texture", texture_default, options=TEXTURES, doc="exemplar (quilted real patches) or procedural"),
            P("texture_wavelength_px", LogUniform(1.5, 24.0), 0.5, 1e4, doc="procedural: largest feature size, px"),
            P("texture_beta", Uniform(0.5, 3.0), 0.0, 6.0, doc="procedural: spectral slope (0 white, 3 smooth)"),
            P("speckle_density", Uniform(0.0, 0.03), 0.0, 1.0, doc="procedural: bright/dark grains per pixel"),
            P("two_phase", Choice((0.0, 0.0, 0.0, 0.3, 0.5, 0.7)), 0.0, 1.0, doc="procedural: threshold into two phases of this area share (0: off)"),
            # imaging
            P("blur_sigma_px", LogUniform(0.3, 1.5), 0.0, 20.0, doc="Gaussian PSF sigma, px"),
            P("illumination_gradient", Uniform(0.0, 1.0), 0.0, 20.0, doc="smooth illumination change"),
            P("brightness", Uniform(0.35, 0.65), 0.0, 1.0, doc="mean signal"),
            P("contrast", Uniform(0.5, 1.5), 0.01, 10.0, doc="gain around the mean"),
            P("gamma", LogUniform(0.7, 1.4), 0.1, 10.0, doc="output gamma"),
            P("dose_e_per_px", LogUniform(50.0, 2000.0), 0.01, 1e7, doc="counts per pixel at full signal"),
            P("read_noise", Uniform(0.0, 0.03), 0.0, 1.0, doc="additive Gaussian noise std"),
            # distractors (labelled background); last, so that adding them left every
            # earlier parameter's draw as it was
            P("pore_fraction", Constant(0.0), 0.0, 0.5, doc="area share of dark pores (not cracks), 0: none"),
            P("pore_size_px", LogUniform(3.0, 20.0), 0.5, 1e3, doc="pore radius, px"),
            P("pore_contrast", Uniform(1.0, 5.0), -20.0, 20.0, doc="darkening of pores, texture-std units"),
        )
    )


def crack_model(s) -> CrackModel:
    return CrackModel.from_mapping(s)


def _procedural(shape, s, rng):
    t = fbm_noise(shape, wavelength_px=s["texture_wavelength_px"], beta=s["texture_beta"], rng=rng)
    if s["two_phase"] > 0:
        t = (t > np.quantile(t, 1.0 - s["two_phase"])).astype(np.float32) + 0.3 * t
    n = rng.poisson(s["speckle_density"] * shape[0] * shape[1])
    if n:
        sp = np.zeros(shape, np.float32)
        ys, xs = rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)
        np.add.at(sp, (ys, xs), rng.choice(np.float32([-1.0, 1.0]), n) * rng.uniform(2, 5, n).astype(np.float32))
        t = t + ndi.gaussian_filter(sp, 0.8)
    return ((t - t.mean()) / (t.std() or 1.0)).astype(np.float32)


def _pores(shape, fraction, radius, rng):
    """Soft-edged irregular blobs covering about ``fraction`` of the field: the
    top ``fraction`` of a smooth random field with features ~``radius`` across."""
    f = smooth_field(shape, wavelength_px=max(3.0, 3.0 * radius), rng=rng)
    thr = float(np.quantile(f, 1.0 - fraction))
    return np.clip((f - thr) / 0.15, 0.0, 1.0).astype(np.float32)


def _structure(shape, s, rng, *, dictionary: TextureDictionary | None = None):
    has_crack = rng.random() < s["crack_probability"]
    n = int(s["n_cracks"]) if has_crack else 0
    model = crack_model(s)
    spec = generate_cracks(shape, n_cracks=n, model=model, rng=rng)
    # a crack tile must pass the tile rule (short or thin cracks may not): redraw a few
    # times, so that classes stay balanced as asked
    for _ in range(8):
        if not n or tile_class(spec.labels) == 1:
            break
        spec = generate_cracks(shape, n_cracks=n, model=model, rng=rng)
    if s["texture"] == "exemplar":
        if dictionary is None:
            raise ValueError("texture: 'exemplar' needs a texture dictionary (recipe made with "
                             "make_surface_cracks(dictionary=...), or --textures DIR); allowed without one: 'procedural'")
        tex = quilt_texture(shape, dictionary, rng=rng)
    else:
        tex = _procedural(shape, s, rng)
    if s["pore_fraction"] > 0:
        tex = tex - np.float32(s["pore_contrast"]) * _pores(shape, s["pore_fraction"], s["pore_size_px"], rng)
    cover = spec.maps["crack"]
    dark = cover.copy()
    if s["shadow"] > 0 and n:
        # light from one side: the far flank of the crack lies in shadow
        ang = rng.uniform(0, 2 * np.pi)
        shifted = ndi.shift(cover, (1.5 * np.sin(ang), 1.5 * np.cos(ang)), order=1, mode="constant")
        dark = np.maximum(dark, s["shadow"] * ndi.gaussian_filter(shifted, 1.0))
    tint = tex - np.float32(s["crack_contrast"]) * dark
    return Specimen(labels=spec.labels, maps={"tint": tint.astype(np.float32), "cover": cover},
                    stats={**spec.stats, "tile_class": tile_class(spec.labels)})


def _imaging(specimen, s, rng):
    # texture and crack are already in the tint: no topography, no extra background
    return detector_image(specimen, s, rng, topography_contrast=0.0)


def _classify(mask: np.ndarray) -> int:
    # ambiguous tiles (a crack tip grazing the tile) count as crack-free: the crack
    # pixels are there in the mask, but too few for a person to call the tile cracked
    return max(tile_class(mask), 0)


def make_surface_cracks(dictionary: TextureDictionary | None = None, *, name: str = "surface_cracks") -> Recipe:
    """The recipe, with quilted real textures when a ``dictionary`` is given (then the
    default texture is ``exemplar``), else procedural textures."""
    default = Constant("exemplar") if dictionary is not None else Constant("procedural")
    return Recipe(
        name=name,
        space=_space(default),
        structure=partial(_structure, dictionary=dictionary),
        imaging=_imaging,
        classes=("background", "crack"),
        description="textured surface tiles with 0..k cracks (segment chains); crack mask and tile class",
        default_size=(128, 128),
        classify=_classify,
    )


SURFACE_CRACKS = register_recipe(make_surface_cracks())
