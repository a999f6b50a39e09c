"""Pores in 2D sections: isolated round or irregular pores, or an interconnected pore
network, with a requested porosity and mean pore size. Labels: 0 solid, 1 pore; one
instance per pore. Built on `structures.particles` (pores are the particles of the
void phase)."""

from __future__ import annotations

from synthscope.structures.particles import generate_particles
from synthscope.structures.specimen import Specimen

__all__ = ["PORE_KINDS", "generate_pores"]

#: round: separate circles; irregular: separate/touching blobs with rough outlines;
#: network: dense interconnected voids (the channels between cells are solid)
PORE_KINDS = ("round", "irregular", "network")


def generate_pores(shape: tuple[int, int], *, porosity: float = 0.1, mean_diameter_px: float = 10.0,
                   size_cv: float = 0.4, kind: str = "irregular", roughness: float = 0.4, clustering: float = 0.0,
                   rng=None) -> Specimen:
    """A pore field with the requested ``porosity`` (area fraction) and mean equivalent
    pore diameter. ``stats``: porosity, pore_count, mean_pore_diameter_px (border-corrected)."""
    if kind not in PORE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PORE_KINDS)}, got {kind!r}")
    if not 0 < porosity < 0.85:
        raise ValueError(f"porosity must be in (0, 0.85), got {porosity}")
    settings = {
        "round": dict(particle_shape="circle", placement="separate", gap_px=1.0),
        "irregular": dict(particle_shape="blob", placement="touching", touching_fraction=0.3, roughness=roughness),
        "network": dict(placement="field", roughness=roughness),
    }[kind]
    spec = generate_particles(shape, area_fraction=porosity, mean_diameter_px=mean_diameter_px, size_cv=size_cv,
                              clustering=clustering, rng=rng, **settings)
    st = spec.stats
    return Specimen(labels=spec.labels, instances=spec.instances,
                    stats={"porosity": st["area_fraction"], "pore_count": st["particle_count"],
                           "mean_pore_diameter_px": st["mean_diameter_px"]})
