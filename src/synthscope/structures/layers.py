"""Layered cross-sections: substrate / layer / coating with rough interfaces, cracks
through the layer, and pores in the coating and the substrate (as SEM cross-sections
of thermally grown oxide under an environmental barrier coating).

Labels: 0 everything but the layer (coating, substrate, mount), 1 the layer, 2 cracks
through it. Maps for the imaging model: ``phase`` (0 mount, 1 coating, 2 layer,
3 substrate, 4 pore, 5 crack).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from synthscope.structures.specimen import Specimen

__all__ = ["rough_profile", "generate_layers", "PHASES"]

PHASES = ("mount", "coating", "layer", "substrate", "pore", "crack")


def rough_profile(n: int, *, amplitude_px: float, wavelength_px: float, jagged_px: float = 0.0, rng=None) -> np.ndarray:
    """A 1D rough line of ``n`` samples: smooth undulation of rms ``amplitude_px`` at
    about ``wavelength_px`` plus fine jaggedness of rms ``jagged_px``; zero mean."""
    rng = np.random.default_rng(rng)
    out = np.zeros(n)
    if amplitude_px > 0:
        w = ndi.gaussian_filter1d(rng.standard_normal(n + 64), max(wavelength_px / 4, 0.5), mode="wrap")[32:32 + n]
        out += amplitude_px * (w - w.mean()) / (w.std() or 1.0)
    if jagged_px > 0:
        j = ndi.gaussian_filter1d(rng.standard_normal(n), 1.0)
        out += jagged_px * (j - j.mean()) / (j.std() or 1.0)
    return out


def _pores(shape, fraction, mean_px, rng):
    """Boolean map of irregular pores covering about ``fraction`` of ``shape``."""
    if fraction <= 0:
        return np.zeros(shape, bool)
    from synthscope.structures.particles import generate_particles

    s = generate_particles(shape, area_fraction=fraction, mean_diameter_px=mean_px, size_cv=0.6,
                           particle_shape="blob", roughness=0.5, placement="touching", touching_fraction=0.5, rng=rng)
    return s.labels == 1


def generate_layers(
    shape: tuple[int, int],
    *,
    layer_thickness_px: float = 40.0,
    thickness_variation: float = 0.2,
    layer_position: float = 0.6,
    interface_amplitude_px: float = 6.0,
    interface_wavelength_px: float = 80.0,
    interface_jagged_px: float = 1.5,
    tilt_deg: float = 0.0,
    coating_fraction: float = 0.9,
    coating_coverage: float = 1.0,
    cracks_per_100px: float = 1.0,
    crack_width_px: float = 2.0,
    crack_wander: float = 0.15,
    coating_porosity: float = 0.08,
    substrate_porosity: float = 0.01,
    pore_diameter_px: float = 12.0,
    interface_gap_fraction: float = 0.0,
    interface_gap_px: float = 2.0,
    pore_intrusion: float = 0.0,
    rng=None,
) -> Specimen:
    """A cross-section with one layer between a coating (above) and a substrate (below).

    Parameters
    ----------
    shape : (H, W) px
    layer_thickness_px, thickness_variation : mean thickness and the rms of its relative
        variation along the layer
    layer_position : height of the layer's centre line, as a share of H from the top;
        outside (0, 1) (down to -1, up to 2) the layer lies partly or wholly outside the
        field of view (a window into a taller section)
    interface_amplitude_px, interface_wavelength_px, interface_jagged_px : roughness of
        both interfaces (each its own profile)
    tilt_deg : the layer's slope
    coating_fraction : share of the space above the layer filled with coating; the rest,
        at the top, is mount (empty)
    coating_coverage : share of the layer's length that still has coating above it; the
        rest has spalled off, leaving mount straight on the layer
    cracks_per_100px, crack_width_px, crack_wander : cracks crossing the layer top to
        bottom, per 100 px of layer length; their width and lateral wander (share of the
        thickness)
    coating_porosity, substrate_porosity, pore_diameter_px : pores (labelled 0)
    interface_gap_fraction, interface_gap_px : share of the lower interface's length
        opened into a dark gap (delamination) of that width just below the layer
        (labelled 0, phase pore)
    pore_intrusion : share of the coating's pores that meet the layer and keep their
        whole round shape, reaching into the layer's top (the layer grew around them;
        labelled 0, as annotators exclude them); the others end at the interface
    """
    rng = np.random.default_rng(rng)
    h, w = (int(s) for s in shape)
    if not -1 < layer_position < 2:
        raise ValueError(f"layer_position must be in (-1, 2), got {layer_position}")
    if not 0 <= coating_coverage <= 1:
        raise ValueError(f"coating_coverage must be in [0, 1], got {coating_coverage}")
    if not layer_thickness_px > 0:
        raise ValueError(f"layer_thickness_px must be > 0, got {layer_thickness_px}")
    x = np.arange(w)
    centre = layer_position * h + math.tan(math.radians(tilt_deg)) * (x - w / 2)
    t = layer_thickness_px * np.exp(thickness_variation * rough_profile(w, amplitude_px=1.0,
                                                                        wavelength_px=interface_wavelength_px * 2,
                                                                        rng=rng) - thickness_variation**2 / 2)
    top = centre - t / 2 + rough_profile(w, amplitude_px=interface_amplitude_px, wavelength_px=interface_wavelength_px,
                                         jagged_px=interface_jagged_px, rng=rng)
    bottom = centre + t / 2 + rough_profile(w, amplitude_px=interface_amplitude_px,
                                            wavelength_px=interface_wavelength_px, jagged_px=interface_jagged_px, rng=rng)
    bottom = np.maximum(bottom, top + 1.0)
    yy = np.arange(h)[:, None].astype(np.float64)
    layer = (yy >= top[None, :]) & (yy < bottom[None, :])
    above = yy < top[None, :]
    mount_line = top - coating_fraction * np.maximum(top, 0)
    rough = rough_profile(w, amplitude_px=interface_amplitude_px * 2, wavelength_px=interface_wavelength_px, rng=rng)
    if coating_coverage < 1:
        # spalled stretches: the mount comes down to the layer; the coating thins to
        # nothing over a flank about a wavelength / 8 wide
        on = rough_profile(w, amplitude_px=1.0, wavelength_px=interface_wavelength_px * 2, rng=rng)
        kept = (on <= np.quantile(on, coating_coverage)).astype(np.float64) if coating_coverage > 0 else np.zeros(w)
        kept = ndi.gaussian_filter1d(kept, max(2.0, interface_wavelength_px / 8), mode="nearest")
        keep = np.sqrt(np.clip(2 * kept - 1, 0, 1))
        mount_line = top - keep * (top - mount_line)
        rough = rough * keep
    mount = yy < (mount_line + rough)[None, :]
    phase = np.full((h, w), 3, np.uint8)
    phase[above] = 1
    phase[above & mount] = 0
    phase[layer] = 2
    labels = layer.astype(np.uint8)

    # cracks: a wandering line from the top interface to the bottom one
    n_cracks = rng.poisson(cracks_per_100px * w / 100.0)
    crack = np.zeros((h, w), bool)
    for _ in range(n_cracks):
        x0 = rng.uniform(0, w)
        xi = int(np.clip(x0, 0, w - 1))
        y_top, y_bot = top[xi] - 1, bottom[xi] + 1
        ys = np.arange(int(math.floor(y_top)), int(math.ceil(y_bot)) + 1)
        if len(ys) < 2:
            continue
        drift = np.cumsum(rng.normal(0, crack_wander, len(ys)))
        xs = x0 + drift - drift.mean() * 0.5
        half = max(crack_width_px, 0.5) / 2
        for y, xc in zip(ys, xs, strict=True):
            if 0 <= y < h:
                lo, hi = int(math.floor(xc - half + 0.5)), int(math.floor(xc + half + 0.5))
                crack[y, max(lo, 0):min(max(hi, lo + 1), w)] = True
    crack &= layer
    labels[crack] = 2
    phase[crack] = 5
    # pores, labelled background; in the layer only where a coating pore reaches in
    coat_pores = _pores((h, w), coating_porosity, pore_diameter_px, rng)
    pores = (coat_pores & (phase == 1)) | \
            (_pores((h, w), substrate_porosity, pore_diameter_px * 0.6, rng) & (phase == 3))
    if pore_intrusion > 0 and coat_pores.any():
        comp, n = ndi.label(coat_pores)
        meets = np.zeros(n + 1, bool)
        meets[np.unique(comp[coat_pores & (phase == 1)])] = True
        meets &= rng.random(n + 1) < pore_intrusion
        meets[0] = False
        # no deeper than the layer's middle: a pore never cuts the layer through
        into = meets[comp] & np.isin(phase, (2, 5)) & (yy < ((top + bottom) / 2)[None, :])
        pores |= into
        labels[into] = 0
    phase[pores] = 4
    if interface_gap_fraction > 0:
        on = rough_profile(w, amplitude_px=1.0, wavelength_px=interface_wavelength_px, rng=rng)
        on = on > np.quantile(on, 1 - interface_gap_fraction)
        gap = (yy >= bottom[None, :]) & (yy < bottom[None, :] + interface_gap_px) & on[None, :]
        phase[gap & (phase == 3)] = 4
    labelled = labels > 0
    thickness = labelled.sum(0)
    stats = {"layer_area_fraction": float(labelled.mean()), "mean_layer_thickness_px": float(thickness.mean()),
             "crack_count": int(n_cracks), "crack_area_fraction": float((labels == 2).mean()),
             "coating_porosity": float(pores[phase != 2].mean()),
             "coating_coverage": float((phase == 1).any(0).mean())}
    return Specimen(labels=labels, maps={"phase": phase}, stats=stats)
