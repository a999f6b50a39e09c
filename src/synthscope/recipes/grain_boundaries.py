"""Recipe `grain_boundaries`: polycrystal micrographs with boundary labels.

Structure: relaxed, warped Voronoi grains with distractors (`structures.grains`,
`structures.distractors`); imaging: the phenomenological detector. The default space
spans the kinds of appearance seen in etched metallography (dark grooves, optical),
SEM (bright edges, edge-bright particles), tint etching (no line, a contrast step
between grains) and membrane-like EM (thick dark lines, organelle-like blobs).
"""

from __future__ import annotations

import math

from synthscope.params.distributions import Choice, Constant, LogUniform, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes import cell_membranes
from synthscope.recipes.base import P, Recipe, detector_image, register_recipe
from synthscope.structures.distractors import PARTICLE_STYLES, add_distractors
from synthscope.structures.grains import generate_grains

__all__ = ["GRAIN_BOUNDARIES", "BOUNDARY_STYLES", "PARTICLE_OPTIONS", "STRUCTURE_KINDS"]

#: grains: the warped Voronoi polycrystal below; cells: a tissue section of recipe
#: `cell_membranes` (the same topology, cells for grains and membranes for boundaries)
STRUCTURE_KINDS = ("grains", "cells")

#: groove: dark line; ridge: bright line; edge: SEM edge effect (bright flanks);
#: step: no line at all, grains differ only by tint
BOUNDARY_STYLES = ("groove", "ridge", "edge", "step")
#: particle styles, plus 'matched': the style whose outline looks like the boundary line
#: (dark rims on dark grooves, bright rims on bright lines, as wide as the line or a few
#: times wider), the hard case where only shape and context tell a particle's rim from a
#: boundary
PARTICLE_OPTIONS = (*PARTICLE_STYLES, "matched")
MATCHED_PARTICLE = {"groove": "dark_rim", "ridge": "bright_rim", "edge": "bright_rim", "step": "bright"}


def _particle_style(s):
    p = s["particle_style"]
    return MATCHED_PARTICLE[s["boundary_style"]] if p == "matched" else p


SPACE = ParameterSpace(
    (
        # structure
        P("mean_grain_diameter_px", LogUniform(20.0, 200.0), 3.0, 5000.0, doc="target diameter of the mean grain area, px"),
        P("n_grains", Constant(0), 0, 100000, integer=True, doc="grains per image area instead of a diameter (0: use the diameter)"),
        P("size_spread", Uniform(0.0, 0.8), 0.0, 2.0, doc="amplitude of the log seed density (grain size variation)"),
        P("relaxation_steps", Choice((0, 1, 2, 3, 5)), 0, 50, integer=True, doc="Lloyd iterations; 0 = Poisson-Voronoi"),
        P("waviness", Uniform(0.0, 0.3), 0.0, 1.0, doc="boundary bending amplitude / grain diameter"),
        P("waviness_wavelength", Uniform(0.4, 1.5), 0.05, 10.0, doc="boundary bending wavelength / grain diameter"),
        P("boundary_roughness", Uniform(0.0, 0.035), 0.0, 0.5, doc="fine-scale (jagged) boundary bending / grain diameter"),
        P("merge_fraction", Uniform(0.0, 0.35), 0.0, 0.75, doc="share of cells merged into a neighbour (non-convex grains)"),
        P("label_width_px", Constant(3.0), 1.0, 15.0, doc="width of the boundary class in the mask, px"),
        P("boundary_style", Choice(BOUNDARY_STYLES, p=(0.4, 0.2, 0.15, 0.25)), options=BOUNDARY_STYLES, doc="how a boundary looks"),
        P("boundary_contrast", Uniform(0.15, 1.0), 0.0, 5.0, doc="signal change at the boundary line, tint units"),
        P("groove_width_px", LogUniform(1.0, 8.0), 0.2, 40.0, doc="width of the boundary line, px"),
        P("groove_width_variation", Uniform(0.0, 1.0), 0.0, 1.0, doc="variation of line width along boundaries"),
        # ragged bands: over-etched or decorated boundaries (optical metallography) and the
        # flat, uneven membranes of EM sections (isbi boundary F1 0.678 -> 0.728 with them)
        P("groove_raggedness", Choice((0.0, 0.0, 0.0, 0.5, 1.0)), 0.0, 1.0, doc="0: soft groove; up to 1: flat band with ragged edges"),
        P("boundary_gap_fraction", Uniform(0.0, 0.3), 0.0, 0.95, doc="share of boundary length faded out"),
        P("grain_contrast", Uniform(0.04, 0.25), 0.0, 1.0, doc="std of per-grain tint"),
        # enforced: a wider default made every boundary a clear tint step, and the networks
        # then missed lines between like-toned cells (EM membranes)
        P("min_adjacent_contrast", Uniform(0.0, 0.05), 0.0, 0.5, doc="least tint difference between neighbouring grains"),
        P("texture_amplitude", Uniform(0.0, 0.1), 0.0, 1.0, doc="fBm texture inside grains"),
        P("texture_wavelength", Uniform(0.2, 0.67), 0.01, 5.0, doc="texture wavelength / grain diameter (paper: 1/5 to 2/3)"),
        # distractors (labelled background)
        P("particles_per_grain", Choice((0.0, 0.0, 0.0, 0.3, 0.7, 1.5, 3.0)), 0.0, 10.0, doc="particles on boundaries/junctions per grain (none in 3 of 7 images)"),
        P("particle_style", Choice(PARTICLE_OPTIONS, p=(0.15, 0.1, 0.1, 0.1, 0.05, 0.5)), options=PARTICLE_OPTIONS,
          doc="particle appearance; 'matched': rims that look like the boundary lines"),
        P("particle_size_rel", Uniform(0.04, 0.35), 0.005, 2.0, doc="particle radius / grain diameter"),
        P("particle_contrast", Uniform(0.15, 1.0), 0.0, 3.0, doc="tint change of particles (the style sets the sign)"),
        P("particle_roughness", Uniform(0.0, 0.3), 0.0, 2.0, doc="rough texture inside particles"),
        P("particle_interior_fraction", Uniform(0.0, 0.5), 0.0, 1.0, doc="share of particles inside grains rather than on boundaries"),
        P("blobs_per_grain", Uniform(0.0, 0.6), 0.0, 20.0, doc="blobs (inclusions, organelles) inside grains per grain"),
        P("blob_size_rel", Uniform(0.03, 0.12), 0.005, 1.0, doc="blob radius / grain diameter"),
        P("blob_contrast", Uniform(-0.25, 0.25), -2.0, 2.0, doc="tint change of blobs and rings"),
        P("rings_per_grain", Uniform(0.0, 0.4), 0.0, 20.0, doc="thin rings inside grains per grain"),
        P("scratches", Choice((0, 0, 0, 1, 2, 3)), 0, 50, integer=True, doc="polishing scratches"),
        # imaging
        P("edge_strength", Uniform(0.5, 1.5), 0.0, 10.0, doc="SEM edge effect (bright slopes)"),
        P("background_amplitude", Uniform(0.0, 0.4), 0.0, 10.0, doc="fBm background texture, in structure-contrast units"),
        P("background_wavelength_px", LogUniform(8.0, 256.0), 1.0, 4096.0, doc="background texture wavelength, px"),
        P("blur_sigma_px", LogUniform(0.3, 2.5), 0.0, 20.0, doc="Gaussian PSF sigma, px"),
        P("scan_jitter_px", Uniform(0.0, 0.8), 0.0, 10.0, doc="scan-line jitter, px"),
        P("illumination_gradient", Uniform(0.0, 1.5), 0.0, 20.0, doc="smooth illumination change across the field"),
        P("brightness", Uniform(0.3, 0.7), 0.0, 1.0, doc="mean signal"),
        P("contrast", Uniform(0.8, 2.0), 0.01, 10.0, doc="gain around the mean"),
        P("gamma", LogUniform(0.6, 1.6), 0.1, 10.0, doc="output gamma"),
        P("dose_e_per_px", LogUniform(20.0, 1000.0), 0.01, 1e7, doc="counts per pixel at full signal (shot noise)"),
        P("read_noise", Uniform(0.0, 0.05), 0.0, 1.0, doc="additive Gaussian noise std"),
        P("invert", Choice((False, True)), options=(False, True), doc="negative image"),
        P("pixel_size_nm", Constant(1000.0), 0.001, 1e9, doc="pixel size, nm (ASTM grain size number)"),
        # last, so that adding it left every other parameter's draw unchanged
        P("structure_kind", Choice(STRUCTURE_KINDS, p=(0.75, 0.25)), options=STRUCTURE_KINDS,
          doc="grains, or cells: a cell_membranes section (its parameters drawn from that recipe's space, kept in stats)"),
        # after it, for the same reason: elongated grains (rolled, banded steels) and
        # striations at a random angle in each grain (laths, twins, tint-etch striations).
        # Off by default: drawn in half the renders they left the dev figures unchanged
        # (0.862 / 0.348 / 0.583 against 0.866 / 0.349 / 0.584) and cost a quarter of the
        # render time; examples/banded_grains.yaml turns them on
        P("elongation", Constant(1.0), 1.0, 20.0, doc="grain aspect ratio (1: equiaxed)"),
        P("elongation_angle_deg", Uniform(0.0, 180.0), -360.0, 360.0, doc="long axis of elongated grains, degrees from x"),
        P("striation_amplitude", Constant(0.0), 0.0, 2.0, doc="striations inside grains, tint units (0: none)"),
        P("striation_wavelength_px", LogUniform(3.0, 16.0), 1.0, 500.0, doc="striation period, px"),
        # outlined particles (SEM: the edge effect lights every particle's edge; optics: a
        # dark rim) around an interior of its own shade, their rims as wide as the
        # boundary lines or a few times wider
        P("particle_rim_rel", Uniform(0.7, 2.5), 0.1, 20.0, doc="rim width of outlined particles / boundary line width"),
        # camera-recorded micrographs (TEM on a scintillator, optical) carry noise that is
        # correlated between neighbouring pixels. Off by default: drawn from 0/0/0/0.5/0.8/1.1
        # px it left the dev figures unchanged (15 min: 0.863 / 0.352 / 0.646 against
        # 0.859 / 0.351 / 0.654); --set detector_blur_px=... turns it on
        P("detector_blur_px", Constant(0.0), 0.0, 5.0,
          doc="blur after the noise, px (correlated noise of cameras); 0: white noise"),
    )
)


def _cells(shape, s, rng):
    """A `cell_membranes` structure; its scenario, drawn from the sample's structure
    stream, goes into the stats so that imaging (and the user) can read it."""
    sub = cell_membranes.SPACE.sample(rng=rng)
    return cell_membranes._structure(shape, sub, rng).with_stats(structure_kind="cells", cells_scenario=sub)


def _structure(shape, s, rng):
    if s.get("structure_kind", "grains") == "cells":
        return _cells(shape, s, rng)
    style = s["boundary_style"]
    spec = generate_grains(
        shape,
        mean_grain_diameter_px=s["mean_grain_diameter_px"],
        n_grains=s["n_grains"] or None,
        size_spread=s["size_spread"],
        relaxation_steps=s["relaxation_steps"],
        waviness=s["waviness"],
        waviness_wavelength=s["waviness_wavelength"],
        roughness=s["boundary_roughness"],
        merge_fraction=s["merge_fraction"],
        label_width_px=s["label_width_px"],
        groove_width_px=s["groove_width_px"],
        groove_depth=0.0 if style == "step" else 1.0,
        groove_width_variation=s["groove_width_variation"],
        groove_raggedness=s["groove_raggedness"],
        boundary_gap_fraction=s["boundary_gap_fraction"],
        grain_contrast=s["grain_contrast"],
        # with no line at all, the tint step between neighbours is the boundary's only cue
        min_adjacent_contrast=max(s["min_adjacent_contrast"], 0.08 if style == "step" else 0.0),
        texture_amplitude=s["texture_amplitude"],
        texture_wavelength=s["texture_wavelength"],
        elongation=s.get("elongation", 1.0),
        elongation_angle_deg=s.get("elongation_angle_deg", 0.0),
        striation_amplitude=s.get("striation_amplitude", 0.0),
        striation_wavelength_px=s.get("striation_wavelength_px", 6.0),
        pixel_size_nm=s["pixel_size_nm"],
        rng=rng,
    )
    d = spec.stats["target_grain_diameter_px"]
    return add_distractors(
        spec,
        particles_per_grain=s["particles_per_grain"],
        particle_size_px=s["particle_size_rel"] * d,
        particle_style=_particle_style(s),
        particle_contrast=s["particle_contrast"],
        particle_roughness=s["particle_roughness"],
        # a rim exp(-(d / r)^2) as wide as a groove of width g (Gaussian sigma g / 2) at
        # r = g / sqrt(2)
        particle_rim_px=s.get("particle_rim_rel", 1.5) * s["groove_width_px"] / math.sqrt(2.0),
        interior_fraction=s["particle_interior_fraction"],
        blobs_per_grain=s["blobs_per_grain"],
        blob_size_px=max(1.0, s["blob_size_rel"] * d),
        blob_contrast=s["blob_contrast"],
        rings_per_grain=s["rings_per_grain"],
        scratches=s["scratches"],
        rng=rng,
    )


def _imaging(specimen, s, rng):
    if "cells_scenario" in specimen.stats:
        cells = dict(specimen.stats["cells_scenario"])
        cells.setdefault("detector_blur_px", s.get("detector_blur_px", 0.0))
        return cell_membranes._imaging(specimen, cells, rng)
    style = s["boundary_style"]
    bc = s["boundary_contrast"]
    topo = {"groove": bc, "ridge": -bc, "edge": 0.0, "step": 0.0}[style]
    # SEM edge effect: on boundaries in 'edge' style, and on raised ('bump') particles,
    # where it also brightens groove flanks as in a real secondary-electron image
    uses_edge = style == "edge" or _particle_style(s) == "bump"
    edge = s["edge_strength"] * max(bc, 0.3) if uses_edge else 0.0
    return detector_image(specimen, s, rng, topography_contrast=topo, edge_contrast=edge)


GRAIN_BOUNDARIES = register_recipe(
    Recipe(
        name="grain_boundaries",
        space=SPACE,
        structure=_structure,
        imaging=_imaging,
        classes=("grain", "boundary"),
        description="polycrystal grains (relaxed, warped Voronoi) with boundary labels",
        # colour (tint-etched) micrographs: boundaries between grains that differ in hue
        # more than in brightness show in the second colour axis, so both are segmented
        # (dev F1 on tint-etched sections 0.583 -> 0.651, luminance vs fused)
        grey="fuse",
    )
)
