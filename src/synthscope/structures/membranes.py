"""Cells and membranes in the manner of SIMCEP (Lehmussola et al., IEEE TMI 26, 2007),
for serial-section electron microscopy of tissue: cells as a tessellation with wavy
membranes of varying width (`structures.grains` provides the tessellation), and
organelles inside the cells that look like membranes but are labelled background:
mitochondria (elongated bodies with a dark double wall and cristae across them),
vesicles (small rings) and dense granules (dark dots); and dark patches filling some
junctions between cells (labelled membrane, as annotators of such sections draw them).

Labels: 0 cell interior, 1 membrane; instances: one id per cell.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from synthscope.structures._kernels import stamp_ellipses, triple_junctions
from synthscope.structures.grains import generate_grains
from synthscope.structures.specimen import Specimen

__all__ = ["add_organelles", "add_junction_blobs", "generate_cells"]


def add_organelles(
    specimen: Specimen,
    *,
    mitochondria_per_cell: float = 0.5,
    mito_length_px: float = 30.0,
    mito_width_px: float = 12.0,
    cristae: int = 4,
    vesicles_per_cell: float = 2.0,
    vesicle_radius_px: float = 4.0,
    granules_per_cell: float = 1.0,
    granule_radius_px: float = 2.5,
    contrast: float = 0.6,
    wall_px: float = 1.5,
    rng=None,
) -> Specimen:
    """Draw organelles into the ``tint`` map of a cell specimen (labels unchanged:
    organelles are background). ``contrast``: darkness of walls and granules in units of
    the membrane's darkness (tint units)."""
    rng = np.random.default_rng(rng)
    tint = specimen.maps["tint"].copy()
    n_cells = max(1, int(specimen.instances.max())) if specimen.instances is not None else 1
    counts = {}
    # distance to the nearest membrane, once for all kinds; the chessboard distance is
    # never more than the Euclidean one, so organelles keep at least their margin (and
    # it costs a fifth of the exact transform)
    dist = ndi.distance_transform_cdt(specimen.labels == 0, metric="chessboard")
    for kind, per_cell, size in (("mitochondria", mitochondria_per_cell, mito_length_px / 2),
                                 ("vesicles", vesicles_per_cell, vesicle_radius_px),
                                 ("granules", granules_per_cell, granule_radius_px)):
        n = rng.poisson(per_cell * n_cells)
        room = np.flatnonzero(dist.ravel() > size + 2)
        counts[kind] = 0
        if n == 0 or len(room) == 0:
            continue
        at = rng.choice(room, size=min(n, len(room)), replace=False)
        cy, cx = np.divmod(at, tint.shape[1])
        m = len(at)
        if kind == "mitochondria":
            a = np.maximum(mito_length_px * np.exp(rng.normal(0, 0.3, m)) / 2, 2.0)
            b = np.maximum(mito_width_px * np.exp(rng.normal(0, 0.2, m)) / 2, 1.5)
            angle = rng.uniform(0, math.pi, m)
            fill, wall, folds = -0.3 * contrast, -contrast, int(cristae)
        else:
            radius = vesicle_radius_px if kind == "vesicles" else granule_radius_px
            a = b = radius * np.exp(rng.normal(0, 0.25, m))
            angle = np.zeros(m)
            fill, wall = (0.1 * contrast, -0.8 * contrast) if kind == "vesicles" else (-1.2 * contrast, 0.0)
            folds = 0
        stamp_ellipses(tint, cy.astype(np.float64), cx.astype(np.float64), a, b, angle, float(fill), float(wall),
                       float(wall_px), max(folds, 0))
        counts[kind] = m
    return specimen.with_maps(tint=tint).with_stats(**{f"{k}_count": v for k, v in counts.items()})


def add_junction_blobs(specimen: Specimen, *, fraction: float = 0.1, radius_px: float = 6.0, depth: float = 1.0,
                       rng=None) -> Specimen:
    """Fill about ``fraction`` of the junctions where three or more cells meet with a
    dark, irregular patch of radius about ``radius_px``: drawn into the ``height`` map as
    a groove ``depth`` deep (as dark as a membrane) and labelled membrane (class 1)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    rng = np.random.default_rng(rng)
    if fraction == 0 or specimen.instances is None:
        return specimen.with_stats(junction_blob_count=0)
    pts = triple_junctions(np.ascontiguousarray(specimen.instances, dtype=np.int32)).astype(np.float64) + 0.5
    if len(pts):
        # one point per junction: the windows of a junction lie within a few px
        _, first = np.unique((pts // max(4.0, radius_px)).astype(np.int64), axis=0, return_index=True)
        pts = pts[np.sort(first)]
    n = int(rng.binomial(len(pts), fraction)) if len(pts) else 0
    labels = specimen.labels.copy()
    height = specimen.maps["height"].copy()
    h, w = labels.shape
    for k in rng.choice(len(pts), size=n, replace=False) if n else ():
        cy, cx = pts[k]
        r = max(1.5, radius_px * math.exp(rng.normal(0, 0.3)))
        reach = int(math.ceil(r * 1.5)) + 2
        y0, y1, x0, x1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, h), max(int(cx) - reach, 0), \
            min(int(cx) + reach + 1, w)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        ang = np.arctan2(yy - cy, xx - cx)
        # outline: harmonics 2..4, each of rms 10 % of the radius
        amp, ph = 0.1 * rng.standard_normal(3), rng.uniform(0, 2 * np.pi, 3)
        edge = r * (1 + sum(a * np.cos((i + 2) * ang + p) for i, (a, p) in enumerate(zip(amp, ph, strict=True))))
        cover = np.clip(edge - np.hypot(yy - cy, xx - cx) + 0.5, 0, 1)
        sub = height[y0:y1, x0:x1]
        np.minimum(sub, (-depth * cover).astype(np.float32), out=sub)
        labels[y0:y1, x0:x1][cover >= 0.5] = 1
    return Specimen(labels=labels, instances=specimen.instances, maps={**specimen.maps, "height": height},
                    stats={**specimen.stats, "junction_blob_count": n})


def generate_cells(
    shape: tuple[int, int],
    *,
    mean_cell_diameter_px: float = 80.0,
    size_spread: float = 0.4,
    waviness: float = 0.15,
    membrane_width_px: float = 4.0,
    width_variation: float = 0.5,
    raggedness: float = 0.0,
    gap_fraction: float = 0.05,
    cell_contrast: float = 0.05,
    label_width_px: float | None = None,
    junction_blobs: float = 0.0,
    junction_blob_radius_px: float = 6.0,
    rng=None,
    **organelles,
) -> Specimen:
    """Cells with membranes (class 1) and organelles (background). ``label_width_px``:
    width of the membrane class in the mask (default: the drawn width, 2..8 px);
    ``raggedness``: flat membranes with ragged edges (`generate_grains`'
    ``groove_raggedness``); ``junction_blobs``, ``junction_blob_radius_px``: `add_junction_blobs`' fraction and
    radius; ``organelles``: arguments of `add_organelles`."""
    rng = np.random.default_rng(rng)
    lw = float(np.clip(membrane_width_px, 2.0, 8.0)) if label_width_px is None else label_width_px
    spec = generate_grains(shape, mean_grain_diameter_px=mean_cell_diameter_px, size_spread=size_spread,
                           relaxation_steps=1, waviness=waviness, waviness_wavelength=0.7, roughness=0.01,
                           merge_fraction=0.1, label_width_px=lw, groove_width_px=membrane_width_px,
                           groove_depth=1.0, groove_width_variation=width_variation,
                           groove_raggedness=raggedness,
                           boundary_gap_fraction=gap_fraction, grain_contrast=cell_contrast,
                           min_adjacent_contrast=0.0, texture_amplitude=0.0, rng=rng)
    spec = add_organelles(spec, rng=rng, **organelles)
    if junction_blobs > 0:
        spec = add_junction_blobs(spec, fraction=junction_blobs, radius_px=junction_blob_radius_px, rng=rng)
    return spec.with_stats(cell_count=int(spec.stats.get("grain_count", 0)),
                           membrane_fraction=float((spec.labels == 1).mean()))
