"""Partial models of the material (pure numpy/scipy): they make Specimens."""

from synthscope.structures.distractors import PARTICLE_STYLES, add_distractors
from synthscope.structures.grains import (
    astm_grain_size_number,
    boundary_edges,
    generate_grains,
    grain_statistics,
)
from synthscope.structures.layers import generate_layers
from synthscope.structures.particles import generate_particles
from synthscope.structures.pores import generate_pores
from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import fbm_noise, smooth_field

__all__ = [
    "PARTICLE_STYLES",
    "Specimen",
    "add_distractors",
    "astm_grain_size_number",
    "boundary_edges",
    "fbm_noise",
    "generate_grains",
    "generate_layers",
    "generate_particles",
    "generate_pores",
    "grain_statistics",
    "smooth_field",
]
