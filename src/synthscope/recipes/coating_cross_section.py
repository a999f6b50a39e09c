"""Recipe `coating_cross_section`: SEM (backscatter-like) cross-sections of a coated
part: a porous, bright coating above a grey layer (e.g. thermally grown oxide) with
cracks through it, above a grey substrate with few pores. Labels: 0 background
(coating, substrate, mount, pores), 1 layer, 2 crack.

Structure: `structures.layers`. Imaging: per-phase signal (each phase its own level and
texture; the layer close to the substrate in level, which is the hard case), dark pores
with bright rims (edge effect), then the phenomenological detector.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from synthscope.params.distributions import Choice, LogUniform, TruncNormal, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes.base import (
    DETECTOR_GAIN_NOISE,
    P,
    Recipe,
    detector_image,
    magnifiable,
    register_recipe,
)
from synthscope.structures.layers import generate_layers
from synthscope.structures.textures import fbm_noise

__all__ = ["COATING_CROSS_SECTION"]

SPACE = ParameterSpace(
    (
        # structure
        P("magnification", LogUniform(1.0, 3.0), 1.0, 16.0,
          doc="the structure is drawn this many times coarser and enlarged (lengths in px below grow by it)"),
        P("layer_thickness_px", LogUniform(10.0, 150.0), 1.0, 2000.0,
          doc="mean layer thickness, px before magnification (at most 0.45 of the height)"),
        P("thickness_variation", Uniform(0.03, 0.25), 0.0, 2.0, doc="rms relative thickness variation along the layer"),
        P("layer_position", Uniform(0.3, 0.75), 0.05, 0.95, doc="layer centre height / image height (from the top)"),
        P("interface_amplitude_px", LogUniform(1.0, 20.0), 0.0, 500.0, doc="rms undulation of the interfaces, px"),
        P("interface_wavelength_px", LogUniform(20.0, 300.0), 2.0, 5000.0, doc="undulation wavelength, px"),
        P("interface_jagged_px", Uniform(0.0, 3.0), 0.0, 50.0, doc="fine interface roughness, px"),
        P("tilt_deg", Uniform(-8.0, 8.0), -45.0, 45.0, doc="slope of the layer, deg"),
        P("coating_fraction", Uniform(0.6, 1.0), 0.0, 1.0, doc="share of the space above the layer that is coating (the rest is mount)"),
        P("coating_coverage", Choice((1.0, 1.0, 0.75, 0.4)), 0.0, 1.0,
          doc="share of the layer's length still under coating (the rest spalled: mount straight on the layer)"),
        P("cracks_per_100px", Uniform(0.0, 2.5), 0.0, 50.0, doc="cracks through the layer per 100 px of its length"),
        P("crack_width_px", Uniform(1.0, 4.0), 0.3, 50.0, doc="crack width, px"),
        P("crack_wander", Uniform(0.05, 0.5), 0.0, 5.0, doc="lateral random walk of a crack, px per px"),
        P("coating_porosity", Uniform(0.0, 0.2), 0.0, 0.6, doc="pores in the coating (labelled background)"),
        P("substrate_porosity", Uniform(0.0, 0.04), 0.0, 0.6, doc="pores in the substrate"),
        P("pore_diameter_px", LogUniform(4.0, 40.0), 1.0, 1000.0, doc="mean pore diameter, px"),
        P("coating_lamellae", Uniform(0.0, 0.3), 0.0, 0.9,
          doc="share of the coating taken by grey, wavy, roughly horizontal lamellae (splat boundaries, labelled background)"),
        P("lamella_wavelength_px", LogUniform(15.0, 120.0), 2.0, 5000.0, doc="vertical spacing scale of the lamellae, px"),
        P("layer_streaks", Uniform(0.0, 0.08), 0.0, 0.5,
          doc="share of the layer taken by dark, horizontally elongated pores (labelled layer)"),
        P("interface_gap_fraction", Choice((0.0, 0.0, 0.3, 0.7)), 0.0, 1.0, doc="share of the lower interface opened into a dark gap"),
        P("interface_gap_px", Uniform(1.0, 4.0), 0.0, 50.0, doc="width of that gap, px"),
        P("interface_beads", Uniform(0.0, 1.0), 0.0, 1.0,
          doc="share of the lower interface traced by a row of small dots (oxide beads or voids; labelled background)"),
        P("bead_spacing_px", LogUniform(2.0, 10.0), 0.5, 500.0, doc="distance between those dots, px"),
        P("bead_radius_px", Uniform(0.5, 2.0), 0.2, 50.0, doc="radius of the dots, px"),
        P("bead_contrast", Uniform(-0.5, 0.5), -2.0, 2.0, doc="signal of the dots minus the layer's (< 0 dark, > 0 bright)"),
        # appearance: signal levels of the phases
        P("coating_level", Uniform(0.65, 1.0), 0.0, 1.0, doc="signal of the coating"),
        P("layer_level", Uniform(0.25, 0.65), 0.0, 1.0, doc="signal of the layer"),
        P("substrate_offset", TruncNormal(0.0, 0.05, -0.15, 0.15), -1.0, 1.0,
          doc="substrate signal minus layer signal (mostly near 0: the hard case)"),
        P("lamella_offset", Uniform(-0.1, 0.15), -1.0, 1.0, doc="lamella signal minus layer signal"),
        P("mount_level", Uniform(0.0, 0.3), 0.0, 1.0, doc="signal of the mount above the coating"),
        P("mount_glow", Uniform(0.0, 0.35), 0.0, 1.0,
          doc="extra signal of the mount next to the specimen (charging halo), fading with distance"),
        P("mount_glow_px", LogUniform(10.0, 150.0), 1.0, 5000.0, doc="decay length of that halo, px"),
        P("dark_level", Uniform(0.0, 0.15), 0.0, 1.0, doc="signal of pores and cracks"),
        P("phase_texture", Uniform(0.0, 0.08), 0.0, 1.0, doc="fBm texture within phases"),
        P("coating_mottle", Uniform(0.0, 0.25), 0.0, 2.0, doc="grey lamellae/inclusions within the coating"),
        P("texture_wavelength_px", LogUniform(3.0, 60.0), 0.5, 2000.0, doc="texture wavelength, px"),
        P("edge_strength", Uniform(0.0, 0.6), 0.0, 10.0, doc="bright rims at pore and crack edges"),
        # imaging
        P("background_amplitude", Uniform(0.0, 0.3), 0.0, 10.0, doc="fBm background, structure-contrast units"),
        P("background_wavelength_px", LogUniform(32.0, 1024.0), 1.0, 8192.0, doc="background wavelength, px"),
        P("blur_sigma_px", LogUniform(0.4, 2.0), 0.0, 20.0, doc="Gaussian PSF sigma, px"),
        P("scan_jitter_px", Uniform(0.0, 0.5), 0.0, 10.0, doc="scan-line jitter, px"),
        *DETECTOR_GAIN_NOISE,
        # last, so that adding them left every other parameter's draw unchanged. The
        # oxide/substrate interface of real sections nearly always shows as a thin line
        # (dark voids or a bright seam) while the two phases share a grey level; without
        # it the layer's lower edge cannot be seen and the network can only guess it
        P("interface_line", Choice((0.0, 0.6, 0.9, 1.0)), 0.0, 1.0,
          doc="share of the lower interface traced by a thin continuous line (labelled background)"),
        P("interface_line_px", Uniform(0.7, 3.0), 0.1, 50.0, doc="width of that line, px"),
        P("interface_line_contrast", Uniform(0.1, 0.45), 0.0, 2.0, doc="signal step of the line from the layer's"),
        P("interface_line_sign", Choice((-1, -1, -1, 1)), options=(-1, 1), doc="-1: dark line (voids), 1: bright seam"),
        P("void_row", Choice((0.0, 0.0, 0.5, 0.9)), 0.0, 1.0,
          doc="share of the layer's length crossed by a row of dark, flat voids parallel to its interfaces (labelled layer)"),
        P("void_row_depth", Uniform(0.2, 0.7), 0.0, 1.0, doc="depth of that row / the local layer thickness"),
        P("void_row_px", Uniform(1.5, 5.0), 0.2, 50.0, doc="thickness of those voids, px"),
        P("pore_intrusion", Uniform(0.0, 1.0), 0.0, 1.0,
          doc="share of the coating's pores at the layer that keep their round shape, reaching into the layer (labelled background)"),
        # a network that sees a section through sliding windows meets windows holding
        # substrate, coating or mount alone, or a layer cut by the window's edge; renders
        # that all show the whole sequence mount / coating / layer / substrate never teach
        # it those (at scale 1 it drew "layer" over bare substrate and mount)
        P("partial_view", Choice((0.0, 0.0, 1.0)), 0.0, 1.0,
          doc="1: the field of view shows part of the section: the layer is moved by view_shift, perhaps out of view"),
        P("view_shift", Uniform(-0.9, 0.9), -1.0, 1.0,
          doc="with partial_view, the layer's move / image height (> 0 down)"),
    )
)


def _stretched_field(shape, sigma_y, sigma_x, rng):
    """Smooth Gaussian random field, unit std, correlated over ``sigma_x`` along x and
    ``sigma_y`` along y (computed on a coarse grid, then upsampled)."""
    h, w = shape
    k = max(1, int(min(sigma_y, sigma_x) // 2))
    coarse = ndi.gaussian_filter(rng.standard_normal((h // k + 2, w // k + 2)),
                                 (sigma_y / k, sigma_x / k), mode="wrap")
    f = ndi.zoom(coarse, k, order=1)[:h, :w]
    return (f - f.mean()) / (f.std() or 1.0)


def _layer_rows(labels):
    """Per column: whether it holds layer, and the layer's top and bottom rows."""
    inside = labels > 0
    top = np.argmax(inside, axis=0)
    bottom = labels.shape[0] - 1 - np.argmax(inside[::-1], axis=0)
    return inside.any(0), top, bottom


def _stretches(w, share, rng):
    """Columns of long stretches covering about ``share`` of the width ``w`` (a smooth
    random profile below its quantile)."""
    run = ndi.gaussian_filter1d(rng.standard_normal(w), max(4.0, w / 40), mode="wrap")
    return run <= np.quantile(run, share)


def _interface_beads(labels, s, rng):
    """Added signal of a row of small dots along the layer's lower interface, over a
    share ``interface_beads`` of its length (stretches about 40 dots long)."""
    h, w = labels.shape
    out = np.zeros((h, w), np.float32)
    has, _, bottom = _layer_rows(labels)
    spacing = max(s["bead_spacing_px"], 0.5)
    xs = np.arange(rng.uniform(0, spacing), w, spacing)
    xs = xs + rng.normal(0, 0.25 * spacing, len(xs))
    # which stretches carry beads: a smooth random profile above its quantile
    run = ndi.gaussian_filter1d(rng.standard_normal(len(xs) + 2), 10.0, mode="wrap")[1:-1] if len(xs) else xs
    keep = run <= np.quantile(run, s["interface_beads"]) if len(xs) else np.zeros(0, bool)
    r = s["bead_radius_px"]
    reach = int(np.ceil(r)) + 1
    for x, k in zip(xs, keep, strict=True):
        xi = int(round(x))
        if not k or not 0 <= xi < w or not has[xi]:
            continue
        y = bottom[xi] + 0.5 + rng.normal(0, 0.5)
        rad = r * float(np.exp(rng.normal(0, 0.25)))
        y0, y1, x0, x1 = max(int(y) - reach, 0), min(int(y) + reach + 1, h), max(xi - reach, 0), min(xi + reach + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        cover = np.clip(rad + 0.5 - np.hypot(yy - y, xx - x), 0, 1)
        np.maximum(out[y0:y1, x0:x1], cover, out=out[y0:y1, x0:x1])
    return out * np.float32(s["bead_contrast"])


def _interface_line(labels, s, rng):
    """Added signal of a thin line just below the layer's lower interface, over a share
    ``interface_line`` of its length (stretches chosen by a smooth random profile), with
    soft edges ``interface_line_px`` wide in all."""
    h, w = labels.shape
    has, _, bottom = _layer_rows(labels)
    bottom = bottom.astype(np.float32)
    on = has & _stretches(w, s["interface_line"], rng)
    width = max(s["interface_line_px"], 0.1)
    # distance below the layer's last row, along each column; coverage of the band
    # [0.5, 0.5 + width) with one-pixel soft edges
    d = np.arange(h, dtype=np.float32)[:, None] - bottom[None, :]
    cover = np.clip(np.minimum(d, 1.0 + width - d), 0.0, 1.0)
    cover[:, ~on] = 0.0
    return cover * np.float32(s["interface_line_sign"] * s["interface_line_contrast"])


def _void_row(labels, s, rng):
    """Coverage (0-1) of a broken row of dark, flat voids inside the layer, parallel to
    its interfaces at a share ``void_row_depth`` of the local thickness, over a share
    ``void_row`` of its length: a sublayer boundary or internal delamination, which a
    network must not take for the lower interface."""
    h, w = labels.shape
    has, top, bottom = _layer_rows(labels)
    top, bottom = top.astype(np.float32), bottom.astype(np.float32)
    centre = ndi.gaussian_filter1d(top + s["void_row_depth"] * (bottom - top), 3.0, mode="nearest")
    # long stretches on, then short gaps between elongated voids within them
    on = has & _stretches(w, s["void_row"], rng)
    bits = ndi.gaussian_filter1d(rng.standard_normal(w), 3.0, mode="wrap")
    on &= bits > np.quantile(bits, 0.25)
    half = np.float32(max(s["void_row_px"], 0.2) / 2)
    d = np.abs(np.arange(h, dtype=np.float32)[:, None] - centre[None, :])
    cover = np.clip(half + 0.5 - d, 0.0, 1.0)
    cover[:, ~on] = 0.0
    return cover * (labels > 0)


def _structure(shape, s, rng):
    spec = generate_layers(
        shape,
        layer_thickness_px=min(s["layer_thickness_px"], 0.45 * shape[0]),
        thickness_variation=s["thickness_variation"],
        layer_position=s["layer_position"] + s.get("partial_view", 0.0) * s.get("view_shift", 0.0),
        # an interface cannot bend more steeply than its wavelength allows
        interface_amplitude_px=min(s["interface_amplitude_px"], s["interface_wavelength_px"] / 8),
        interface_wavelength_px=s["interface_wavelength_px"],
        interface_jagged_px=s["interface_jagged_px"],
        tilt_deg=s["tilt_deg"],
        coating_fraction=s["coating_fraction"],
        coating_coverage=s["coating_coverage"],
        cracks_per_100px=s["cracks_per_100px"],
        crack_width_px=s["crack_width_px"],
        crack_wander=s["crack_wander"],
        coating_porosity=s["coating_porosity"],
        substrate_porosity=s["substrate_porosity"],
        pore_diameter_px=s["pore_diameter_px"],
        interface_gap_fraction=s["interface_gap_fraction"],
        interface_gap_px=s["interface_gap_px"],
        pore_intrusion=s.get("pore_intrusion", 0.0),
        rng=rng,
    )
    phase = spec.maps["phase"]
    levels = np.array([s["mount_level"], s["coating_level"], s["layer_level"],
                       np.clip(s["layer_level"] + s["substrate_offset"], 0, 1), s["dark_level"], s["dark_level"]],
                      np.float32)
    tint = levels[phase]
    h, w = phase.shape
    if s["coating_lamellae"] > 0:
        # grey lamellae at about the layer's level: thin bands around the zero set of a
        # horizontally stretched smooth random field, so the network must tell the layer
        # by where it lies (on the substrate) rather than by its grey level alone
        wl = s["lamella_wavelength_px"]
        f = _stretched_field((h, w), wl / 4, wl, rng)
        coating = phase == 1
        if coating.any():
            band = np.abs(f) < np.quantile(np.abs(f[coating]), s["coating_lamellae"])
            tint = np.where(coating & band, levels[2] + s["lamella_offset"], tint)
    if s["layer_streaks"] > 0:
        f = _stretched_field((h, w), 2.0, 12.0, rng)
        inner = phase == 2
        if inner.any():
            streak = f > np.quantile(f[inner], 1 - s["layer_streaks"])
            tint = np.where(inner & streak, s["dark_level"], tint)
    if s.get("void_row", 0.0) > 0:
        c = _void_row(spec.labels, s, rng)
        tint = tint * (1 - c) + s["dark_level"] * c
    if s["phase_texture"] > 0:
        tint = tint + s["phase_texture"] * fbm_noise(shape, wavelength_px=s["texture_wavelength_px"], beta=2.5, rng=rng)
    if s["coating_mottle"] > 0:
        # grey splat boundaries and inclusions inside the coating
        m = fbm_noise(shape, wavelength_px=4 * s["texture_wavelength_px"], beta=3.0, rng=rng)
        tint = np.where(phase == 1, tint - s["coating_mottle"] * (m > 0.8), tint)
    if s["interface_beads"] > 0:
        tint = tint + _interface_beads(spec.labels, s, rng)
    if s.get("interface_line", 0.0) > 0:
        tint = tint + _interface_line(spec.labels, s, rng)
    mount = phase == 0
    if s["mount_glow"] > 0 and mount.any() and not mount.all():
        d = ndi.distance_transform_edt(mount)
        tint = tint + np.where(mount, s["mount_glow"] * np.exp(-d / s["mount_glow_px"]), 0.0).astype(np.float32)
    dark = (phase >= 4).astype(np.float32)
    height = -ndi.gaussian_filter(dark, 1.0)
    return spec.with_maps(tint=tint.astype(np.float32), height=height.astype(np.float32))


def _imaging(specimen, s, rng):
    return detector_image(specimen, s, rng, topography_contrast=0.0, edge_contrast=s["edge_strength"])


COATING_CROSS_SECTION = register_recipe(
    Recipe(
        name="coating_cross_section",
        space=SPACE,
        structure=magnifiable(_structure),
        imaging=_imaging,
        classes=("background", "layer", "crack"),
        scoring="regions",
        # a layer is told from the substrate by where it lies: see each section whole
        # too (layer IoU 0.357 / 0.253 at scale 1 -> 0.520 / 0.487, two networks)
        inference_scale="pyramid",
        # for the same reason the network must see far: six levels (twice the
        # receptive field of five) raised layer IoU 0.547 / 0.657 -> 0.621 / 0.719 (training entropies 0 / 1, 20 min)
        model_depth=6,
        # the layer is a region scored by IoU, which rewards recall more than pixel
        # accuracy does: the network's own argmax (the layer's training weight 2 kept)
        # raised layer IoU 0.662 / 0.737 / 0.631 -> 0.736 / 0.764 / 0.706 (the default
        # 30-min runs, entropies 0 / 1 / 2); 8 of 9 networks gained (docs/partial_models.md)
        class_decision="raw",
        description="SEM cross-sections: porous coating / layer with cracks / substrate",
        default_size=(512, 512),
    )
)
