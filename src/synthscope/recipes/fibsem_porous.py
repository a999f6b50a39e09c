"""Recipe `fibsem_porous`: FIB-SEM serial sections of a porous solid (nanoporous metal,
porous electrode, sintered ceramic) with shine-through.

Structure: `structures.volumes.generate_porous_volume` (spinodal ligaments, blobs or
overlapping spherical pores). Imaging: `imaging.fibsem.image_fibsem` on the Monte
Carlo-calibrated fast signal model. Labels: the phase of the cut face, 0 pore, 1 solid.

The rendered shape decides what a sample is: (H, W) is one cut face (what training
streams), (D, H, W) a stack of D consecutive slices (what ``generate`` writes, as TIFF
stacks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthscope.datasets.sample import Sample
from synthscope.params.distributions import Choice, LogUniform, Uniform
from synthscope.params.space import ParameterSpace, stage_rng
from synthscope.recipes.base import P, Recipe, register_recipe

__all__ = ["FIBSEM_POROUS", "StackRecipe"]

#: voxels behind the last face: deeper than any kernel of 1-5 keV at 2 nm voxels reaches
#: through the pores that matter
BEHIND_VOX = 40

SPACE = ParameterSpace(
    (
        P("kind", Choice(("spinodal", "spinodal", "blobs", "spheres")), options=("spinodal", "blobs", "spheres"),
          doc="pore morphology"),
        P("porosity", Uniform(0.3, 0.7), 0.05, 0.85, doc="pore volume fraction"),
        P("ligament_size_px", LogUniform(5.0, 24.0), 2.0, 200.0, doc="mean solid chord (spinodal, blobs), px"),
        P("pore_diameter_px", LogUniform(6.0, 30.0), 2.0, 200.0, doc="mean pore sphere diameter (spheres), px"),
        P("material", Choice(("Au", "Ag", "Cu", "Ni", "Si", "C")), options=("Au", "Ag", "Cu", "Ni", "Pt", "Si", "C", "Al", "Ti", "W"),
          doc="the solid (pure element)"),
        P("voxel_nm", Choice((2.0, 3.0, 5.0, 8.0)), 0.5, 100.0, doc="voxel / pixel size, nm"),
        P("energy_kev", Choice((1.0, 1.5, 2.0, 3.0, 5.0)), 0.5, 30.0, doc="SEM beam energy, keV"),
        P("se_fraction", Uniform(0.0, 1.0), 0.0, 1.0, doc="SE share of the detected signal (InLens high, BSE low)"),
        P("probe_sigma_px", LogUniform(0.3, 1.5), 0.0, 20.0, doc="probe/optics blur, px"),
        P("curtain_amplitude", Uniform(0.0, 0.15), 0.0, 2.0, doc="relative amplitude of curtaining stripes"),
        P("curtain_wavelength_px", LogUniform(2.0, 20.0), 0.5, 1000.0, doc="typical stripe width, px"),
        P("thickness_cv", Uniform(0.0, 0.25), 0.0, 1.0, doc="relative spread of the slice thickness"),
        P("drift_px_per_slice", Uniform(0.0, 0.5), 0.0, 20.0, doc="stage drift step std between slices, px"),
        P("brightness", Uniform(0.35, 0.6), 0.0, 1.0, doc="mean signal"),
        P("contrast", Uniform(0.7, 1.3), 0.01, 10.0, doc="gain around the mean"),
        P("dose_e_per_px", LogUniform(30.0, 1000.0), 0.01, 1e7, doc="counts per pixel at full signal (shot noise)"),
        P("read_noise", Uniform(0.0, 0.03), 0.0, 1.0, doc="additive Gaussian noise std"),
        P("shine_through", Choice((True,)), options=(True, False), doc="empty pores show what lies behind them (True), or nothing (False: the control)"),
    )
)


@dataclass(frozen=True)
class StackRecipe(Recipe):
    """A recipe whose samples are cut faces of a 3-D specimen: ``render`` with an
    (H, W) shape gives one face, with (D, H, W) a stack of D slices."""

    def render(self, scenario: Mapping[str, Any], *, shape=None, entropy: int = 0, index: int = 0) -> Sample:
        shape = tuple(int(s) for s in (shape or self.default_size))
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (H, W) or (D, H, W), got {shape}")
        image, mask, stats = self.structure(shape, scenario, stage_rng(entropy, index, "structure"),
                                            stage_rng(entropy, index, "imaging"))
        return Sample(image=image, mask=mask, scenario=dict(scenario), index=int(index), stats=stats)


def _render(shape, s, rng_structure, rng_imaging):
    from synthscope.imaging.fibsem import image_fibsem
    from synthscope.structures.volumes import generate_porous_volume

    n = 1 if len(shape) == 2 else shape[0]
    h, w = shape[-2:]
    cv = float(s["thickness_cv"])
    depth = int(math.ceil(n * (1 + 3 * cv))) + BEHIND_VOX
    spec = generate_porous_volume(
        (depth, h, w), porosity=s["porosity"], kind=s["kind"], ligament_size_vox=s["ligament_size_px"],
        pore_diameter_vox=s["pore_diameter_px"], rng=rng_structure,
    )
    stack = image_fibsem(
        spec.labels, [s["material"]], voxel_nm=float(s["voxel_nm"]), energy_kev=float(s["energy_kev"]),
        n_slices=n, thickness_cv=cv, se_fraction=s["se_fraction"], probe_sigma_px=s["probe_sigma_px"],
        curtain_amplitude=s["curtain_amplitude"], curtain_wavelength_px=s["curtain_wavelength_px"],
        drift_px_per_slice=s["drift_px_per_slice"], brightness=s["brightness"], contrast=s["contrast"],
        dose_e_per_px=s["dose_e_per_px"], read_noise=s["read_noise"], shine_through=bool(s["shine_through"]),
        rng=rng_imaging,
    )
    img = stack.images[0] if n == 1 else stack.images
    mask = stack.truth[0] if n == 1 else stack.truth
    stats = {k: v for k, v in spec.stats.items() if k != "pore_count"}
    stats["face_porosity"] = float((mask == 0).mean())
    return img, mask, stats


FIBSEM_POROUS = register_recipe(
    StackRecipe(
        name="fibsem_porous",
        space=SPACE,
        structure=_render,
        imaging=None,
        classes=("pore", "solid"),
        description="FIB-SEM serial sections of a porous solid with shine-through (stacks; one face at (H, W))",
        default_size=(16, 256, 256),
        scoring="regions",
    )
)
