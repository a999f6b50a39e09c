"""Polycrystal grain structures in 2D: relaxed, warped Voronoi tessellations.

After Trampert et al., Crystals 2021, 11, 258, section 2.2: Voronoi cells of random
seeds regularised by centroidal (Lloyd) relaxation, with curved boundaries. Curvature
comes from a smooth random displacement of the sampling grid (domain warping), which
bends boundaries much as the paper's randomly displaced spline control points do.
Grain size follows the requested mean diameter; size spread comes from a smooth
log-density field of the seeds; merging adjacent cells makes non-convex grains.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from synthscope.structures._kernels import (
    SeedIndex,
    gaussian_blur,
    gaussian_recursive,
    groove_profile,
    label_counts,
    upsample_bilinear,
)
from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import fbm_noise, grid_at, smooth_field, smooth_grid

__all__ = ["generate_grains", "grain_statistics", "astm_grain_size_number", "boundary_edges"]

_EMPTY = np.zeros((0, 0), np.float32)

#: wavelength of the fine boundary roughness, in grain diameters
FINE_WAVELENGTH = 0.15


def astm_grain_size_number(mean_area_px: float, pixel_size_nm: float) -> float:
    """ASTM E112 grain size number G from the mean grain area (planimetric method).

    ``G = -3.3223 log10(A) - 2.955`` with ``A`` the mean area in mm^2 (E112, eq. for
    N_A at 1x: ``G = 3.321928 log10(N_A) - 2.954``, N_A grains per mm^2).
    """
    if mean_area_px <= 0:
        return float("nan")
    area_mm2 = mean_area_px * (pixel_size_nm * 1e-6) ** 2
    return 3.321928 * math.log10(1.0 / area_mm2) - 2.954


def boundary_edges(instances: np.ndarray) -> np.ndarray:
    """One-pixel boundary: pixels whose right or lower neighbour belongs to another grain."""
    e = np.zeros(instances.shape, dtype=bool)
    dx = instances[:, 1:] != instances[:, :-1]
    dy = instances[1:, :] != instances[:-1, :]
    e[:, :-1] |= dx
    e[:-1, :] |= dy
    return e


def grain_statistics(instances: np.ndarray, *, pixel_size_nm: float = 1000.0) -> dict:
    """Grain count, mean area, diameters and ASTM number of an instance map.

    Grains cut by the image border count one half (Jeffries planimetric method), so the
    mean area estimates that of the whole tessellation rather than of the window.

    Returns
    -------
    dict with ``grain_count`` (grains at least partly in view), ``grain_count_jeffries``,
    ``mean_grain_area_px`` (image area / Jeffries count), ``mean_grain_diameter_px``
    (diameter of the circle of the mean area), ``mean_equivalent_diameter_px`` (mean of
    per-grain circle-equivalent diameters of grains not cut by the border),
    ``astm_grain_size_number`` and ``pixel_size_nm``.
    """
    inst = np.asarray(instances)
    h, w = inst.shape
    counts = label_counts(inst)
    ids = np.flatnonzero(counts)
    ids = ids[ids > 0]
    n = len(ids)
    border = np.zeros(len(counts), dtype=bool)
    for edge in (inst[0], inst[-1], inst[:, 0], inst[:, -1]):
        border[edge] = True
    border[0] = False
    n_border = int(border[ids].sum())
    n_inside = n - n_border
    n_j = n_inside + 0.5 * n_border
    covered = float(counts[1:].sum()) if len(counts) > 1 else 0.0
    mean_area = covered / n_j if n_j > 0 else float("nan")
    inner = ids[~border[ids]]
    ecd = np.sqrt(4.0 * counts[inner] / math.pi) if len(inner) else np.array([])
    return {
        "grain_count": int(n),
        "grain_count_jeffries": float(n_j),
        "mean_grain_area_px": float(mean_area),
        "mean_grain_diameter_px": float(math.sqrt(4.0 * mean_area / math.pi)) if n_j > 0 else float("nan"),
        "mean_equivalent_diameter_px": float(ecd.mean()) if len(ecd) else float("nan"),
        "astm_grain_size_number": astm_grain_size_number(mean_area, pixel_size_nm) if n_j > 0 else float("nan"),
        "pixel_size_nm": float(pixel_size_nm),
    }


def _seeds(n: int, shape: tuple[int, int], spread: float, field, rng) -> np.ndarray:
    """``n`` seed points on a grid of ``shape``, with local density ~ exp(spread * field);
    ``field`` is a ``smooth_grid`` over ``shape`` (or None for uniform density)."""
    h, w = shape
    if spread <= 0 or field is None:
        return rng.uniform((0, 0), (h, w), size=(n, 2))
    top = float(np.exp(spread * field.max()))
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform((0, 0), (h, w), size=(2 * n + 16, 2))
        keep = rng.random(len(cand)) * top < np.exp(spread * grid_at(field, shape, cand))
        out = np.concatenate([out, cand[keep]])
    return out[:n]


def _dilate_square(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary dilation by a ``size`` x ``size`` square (the window of
    ``ndimage.uniform_filter(size=size)``: offsets -size//2 .. (size-1)//2), by OR-ing
    shifted views along each axis."""
    lo, hi = -(size // 2), (size - 1) // 2
    out = mask.copy()
    for axis in (0, 1):
        src = out.copy()
        n = src.shape[axis]
        for off in range(lo, hi + 1):
            if off == 0 or abs(off) >= n:
                continue
            # out[i] |= src[i + off]
            dst = [slice(None)] * 2
            sl = [slice(None)] * 2
            if off > 0:
                dst[axis], sl[axis] = slice(0, n - off), slice(off, n)
            else:
                dst[axis], sl[axis] = slice(-off, n), slice(0, n + off)
            out[tuple(dst)] |= src[tuple(sl)]
    return out


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; recursive (constant cost, profile within 5 % of the peak) from
    sigma 2 on, where the sampled kernel gets long."""
    if sigma >= 2.0:
        return gaussian_recursive(a, sigma)
    return gaussian_blur(a, sigma)


def _lloyd(seeds, shape, steps, weights=None):
    """Centroidal Voronoi relaxation, on a coarse grid (its cells ~7 px across: the grain
    area spread after 1-5 steps is that of a 10 px grid to 0.002 in coefficient of
    variation, at half the cost)."""
    if steps <= 0:
        return seeds
    h, w = shape
    n = len(seeds)
    scale = min(1.0, 7.0 / max(1.0, math.sqrt(h * w / n)))
    ch, cw = max(8, int(h * scale)), max(8, int(w * scale))
    # weights: a coarse grid over ``shape`` (``smooth_grid``), zoomed to this grid
    wt = np.ones((ch, cw)) if weights is None else upsample_bilinear(weights, (ch, cw)).astype(np.float64)
    pts = np.array(seeds, dtype=np.float64)
    for _ in range(int(steps)):
        m, cy, cx = SeedIndex(pts, (h, w), bucket=1.0).centroids(wt, (h, w))  # few queries: cheap build
        ok = m > 0
        pts[ok, 0] = cy[ok]
        pts[ok, 1] = cx[ok]
    return pts


def _unique_pairs(e: np.ndarray) -> np.ndarray:
    """The distinct rows of a (k, 2) array of non-negative ints, in lexicographic order
    (``np.unique(e, axis=0)`` through one int64 key per row: several times faster)."""
    e = np.asarray(e, dtype=np.int64)
    if len(e) == 0:
        return e.reshape(0, 2)
    m = int(e[:, 1].max()) + 1
    u = np.unique(e[:, 0] * m + e[:, 1])
    return np.stack([u // m, u % m], 1)


def _delaunay_pairs(seeds: np.ndarray) -> np.ndarray:
    """(k, 2) pairs of 1-based seed labels whose Voronoi cells touch."""
    from scipy.spatial import Delaunay, QhullError

    if len(seeds) < 4:  # too few for a triangulation: every pair may touch
        i, j = np.triu_indices(len(seeds), 1)
        return (np.stack([i, j], 1) + 1).astype(np.int64)
    try:
        tri = Delaunay(seeds).simplices
    except QhullError:  # degenerate (collinear) seeds: joggled input triangulates them
        tri = Delaunay(seeds, qhull_options="QJ").simplices
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
    e = _unique_pairs(np.sort(e, axis=1))
    return (e + 1).astype(np.int64)


def _merge_lut(n_labels: int, pairs: np.ndarray, n_merges: int, rng) -> np.ndarray:
    """Lookup table uniting ``n_merges`` random pairs of adjacent cells."""
    parent = np.arange(n_labels)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    done = 0
    for k in rng.permutation(len(pairs)):
        if done >= n_merges:
            break
        a, b = find(pairs[k, 0]), find(pairs[k, 1])
        if a != b:
            parent[b] = a
            done += 1
    return np.array([find(i) for i in range(n_labels)])


def _compact_lut(counts: np.ndarray, roots: np.ndarray | None = None) -> np.ndarray:
    """Lookup table renumbering the labels with non-zero ``counts`` (or, with ``roots``,
    the roots of those labels) to 1..N in increasing order; label 0 stays 0."""
    present = counts > 0
    if roots is not None:
        present = np.bincount(roots[present], minlength=len(counts)) > 0
    present[0] = False
    return (np.cumsum(present) * present).astype(np.int32)


def _grain_tints(n: int, pairs: np.ndarray, *, contrast: float, min_adjacent: float, rng) -> np.ndarray:
    """Per-grain brightness around 0.5 with std ``contrast``; neighbours differ by
    at least ``min_adjacent`` wherever the repair below finds room (the paper's main
    error source was adjacent grains of too similar colour)."""
    v = np.clip(0.5 + contrast * rng.standard_normal(n + 1), 0.0, 1.0)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[(pairs[:, 0] > 0) & (pairs[:, 1] > 0) & (pairs[:, 0] != pairs[:, 1])]
    if min_adjacent > 0 and len(pairs):
        both = np.concatenate([pairs, pairs[:, ::-1]])
        both = both[np.argsort(both[:, 0], kind="stable")]
        start = np.searchsorted(both[:, 0], np.arange(n + 2)).astype(np.int64)
        half = max(3.0 * contrast, 2.5 * min_adjacent)
        lo, hi = max(0.0, 0.5 - half), min(1.0, 0.5 + half)
        pool = rng.random(4096)  # the repair's random numbers, drawn up front
        _separate_neighbours(v, start, np.ascontiguousarray(both[:, 1]), float(min_adjacent), lo, hi, pool)
    return v.astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _separate_neighbours(v, start, nbrs, m, lo, hi, pool):
    """Repair sweeps: a grain closer than ``m`` in tint to a neighbour gets a new tint
    drawn in [lo, hi] (up to 16 tries, keeping the one farthest from its neighbours),
    until no grain conflicts or 20 sweeps are done."""
    n = v.shape[0] - 1
    p = 0
    for _ in range(20):
        changed = 0
        for g in range(1, n + 1):
            score = 2.0
            for k in range(start[g], start[g + 1]):
                score = min(score, abs(v[g] - v[nbrs[k]]))
            if score >= m:
                continue
            best, best_score = v[g], score
            for _t in range(16):
                cand = lo + (hi - lo) * pool[p % pool.shape[0]]
                p += 1
                sc = 2.0
                for k in range(start[g], start[g + 1]):
                    sc = min(sc, abs(cand - v[nbrs[k]]))
                if sc > best_score:
                    best, best_score = cand, sc
                if sc >= m:
                    break
            if best != v[g]:
                v[g] = best
                changed += 1
        if changed == 0:
            break


@numba.njit(cache=True, nogil=True)
def _add_striations(tint, inst, ca, sa, k, phase, amp, wob):
    """Add ``amp[g] * cos(k[g] * (x cos a[g] + y sin a[g]) + phase[g] + wob)`` to the
    pixels of each grain g (``inst``)."""
    h, w = tint.shape
    for i in range(h):
        for j in range(w):
            g = inst[i, j]
            a = amp[g]
            if a != 0.0:
                tint[i, j] += a * math.cos(k[g] * (j * ca[g] + i * sa[g]) + phase[g] + wob[i, j])


def generate_grains(
    shape: tuple[int, int],
    *,
    mean_grain_diameter_px: float = 40.0,
    n_grains: int | None = None,
    size_spread: float = 0.0,
    relaxation_steps: int = 2,
    waviness: float = 0.1,
    waviness_wavelength: float = 0.8,
    roughness: float = 0.0,
    merge_fraction: float = 0.0,
    label_width_px: float = 3.0,
    groove_width_px: float = 2.0,
    groove_depth: float = 1.0,
    groove_width_variation: float = 0.0,
    groove_raggedness: float = 0.0,
    boundary_gap_fraction: float = 0.0,
    grain_contrast: float = 0.15,
    min_adjacent_contrast: float = 0.05,
    texture_amplitude: float = 0.05,
    texture_wavelength: float = 0.4,
    elongation: float = 1.0,
    elongation_angle_deg: float = 0.0,
    striation_amplitude: float = 0.0,
    striation_wavelength_px: float = 6.0,
    pixel_size_nm: float = 1000.0,
    rng: np.random.Generator | int | None = None,
) -> Specimen:
    """A polycrystal: boundary mask, grain instances, tint and height maps.

    Parameters
    ----------
    shape : (H, W)
        Image size, px.
    mean_grain_diameter_px : float > 2
        Target diameter of the circle of the mean grain area, px. Ignored when
        ``n_grains`` is given.
    n_grains : int or None
        Number of grains per image area instead of a diameter.
    size_spread : float in [0, 2]
        Amplitude of the log seed density: 0 gives uniform density, 1 grain areas that
        vary about e-fold between regions.
    relaxation_steps : int >= 0
        Lloyd iterations; 0 is a Poisson-Voronoi tessellation.
    waviness : float in [0, 1]
        Boundary displacement amplitude as a fraction of the grain diameter.
    waviness_wavelength : float > 0
        Wavelength of the boundary bending as a fraction of the grain diameter.
    roughness : float >= 0
        Fine-scale bending amplitude / grain diameter, at a wavelength of
        ``FINE_WAVELENGTH`` diameters: jagged, serrated boundaries.
    merge_fraction : float in [0, 0.8)
        Fraction of cells merged into a neighbour (non-convex grains). The seed count is
        raised so the grain count still meets the target.
    label_width_px : float >= 1
        Width of the boundary class in the label map, px.
    groove_width_px : float > 0
        Width (Gaussian sigma x 2) of the boundary groove in the height map, px.
    groove_depth : float >= 0
        Depth of the groove (height units); 0 leaves only the tint step between grains.
    groove_width_variation : float in [0, 1]
        How much the groove width changes along boundaries.
    groove_raggedness : float in [0, 1]
        0: grooves with a soft (Gaussian) cross-section. Above 0: flat-floored bands
        with ragged, lumpy edges (over-etched or decorated boundaries, as in optical
        metallography), the more ragged the higher; the label stays on the centreline.
    boundary_gap_fraction : float in [0, 1)
        Share of boundary length where the groove fades out (gaps, faint stretches).
    grain_contrast : float >= 0
        Std of per-grain tints around 0.5.
    min_adjacent_contrast : float >= 0
        Least tint difference enforced between neighbouring grains.
    texture_amplitude : float >= 0
        Amplitude of the fBm texture added to the tint.
    texture_wavelength : float > 0
        Texture wavelength as a fraction of the grain diameter (paper: 1/5 to 2/3).
    elongation : float >= 1
        Aspect ratio of the grains (rolled, drawn or banded microstructures): the
        tessellation is made in coordinates squeezed along ``elongation_angle_deg`` by
        ``sqrt(elongation)`` and stretched across it by as much, so grain areas, and the
        mean diameter, are kept.
    elongation_angle_deg : float
        Direction of the long axis of the grains, degrees from the image x axis.
    striation_amplitude : float >= 0
        Amplitude (tint units) of straight striations inside grains, each grain at its
        own random angle, phase and strength (laths, twins, etch striations; a change of
        their direction marks a boundary between grains of like tint). 0: none.
    striation_wavelength_px : float > 0
        Mean striation period, px (each grain varies it by a factor 0.7-1.4).
    pixel_size_nm : float > 0
        Only for the ASTM number in the statistics.
    rng : Generator, int or None

    Returns
    -------
    Specimen with ``labels`` (uint8, 1 = boundary), ``instances`` (int32 grains 1..N),
    ``maps['tint']``, ``maps['height']`` (float32) and grain statistics.
    """
    rng = np.random.default_rng(rng)
    h, w = (int(s) for s in shape)
    if h < 8 or w < 8:
        raise ValueError(f"shape must be at least 8x8, got {shape}")
    if not 0 <= merge_fraction < 0.8:
        raise ValueError(f"merge_fraction must be in [0, 0.8), got {merge_fraction}")
    if not 0 <= groove_raggedness <= 1:
        raise ValueError(f"groove_raggedness must be in [0, 1], got {groove_raggedness}")
    if not elongation >= 1:
        raise ValueError(f"elongation must be >= 1, got {elongation}")
    if not striation_wavelength_px > 0:
        raise ValueError(f"striation_wavelength_px must be > 0, got {striation_wavelength_px}")
    area = float(h * w)
    if n_grains:
        diameter = math.sqrt(4.0 * area / (math.pi * n_grains))
    else:
        if not mean_grain_diameter_px > 2:
            raise ValueError(f"mean_grain_diameter_px must be > 2, got {mean_grain_diameter_px}")
        diameter = float(mean_grain_diameter_px)

    # The image is a window on a larger tessellation, so border grains are cut as in a
    # real micrograph; the pad also covers the warp displacement.
    amp = waviness * diameter
    # fine-scale bending (jagged, serrated boundaries) on top of the broad waviness
    amp_fine = roughness * diameter
    pad = int(math.ceil(min(1.0 * diameter, 0.5 * max(h, w)) + 2.5 * (amp + amp_fine))) + 2
    # elongated grains: an isotropic tessellation looked up at m @ (pixel - centre), m
    # squeezing the long axis and stretching the other (det m = 1: areas are kept)
    m = None
    if elongation > 1.0:
        th = math.radians(elongation_angle_deg)
        t_ = np.array([-math.sin(th), math.cos(th)])  # long axis, (y, x); y points down
        n_ = np.array([t_[1], -t_[0]])
        r = math.sqrt(elongation)
        m = np.outer(t_, t_) / r + r * np.outer(n_, n_)
        corners = np.array([[-h, -w], [-h, w], [h, -w], [h, w]], np.float64) / 2.0
        half = np.abs(corners @ m.T).max(axis=0)
        ph, pw = (int(math.ceil(2.0 * half[k])) + 2 * pad for k in (0, 1))
    else:
        ph, pw = h + 2 * pad, w + 2 * pad
    density = 1.0 / (math.pi / 4.0 * diameter**2)  # grains per px^2
    n_seeds = max(4, int(round(ph * pw * density / (1.0 - merge_fraction))))

    spread_wavelength = 4.0 * diameter
    field = smooth_grid((ph, pw), wavelength_px=spread_wavelength, rng=rng) if size_spread > 0 else None
    seeds = _seeds(n_seeds, (ph, pw), size_spread, field, rng)
    weights = None
    if field is not None and relaxation_steps > 0:
        # centroids weighted by the same density keep its contrast through relaxation
        weights = np.exp(2.0 * size_spread * field)
    seeds = _lloyd(seeds, (ph, pw), relaxation_steps, weights)
    # neighbouring cells are the Delaunay edges of the seeds
    pairs = _delaunay_pairs(seeds)
    roots = None
    if merge_fraction > 0:
        roots = _merge_lut(n_seeds + 1, pairs, int(round(merge_fraction * n_seeds)), rng)
        pairs = np.sort(roots[pairs], axis=1)
        pairs = _unique_pairs(pairs[pairs[:, 0] != pairs[:, 1]])

    # Domain warp: bend boundaries by looking up the tessellation at displaced positions
    # (the nearest seed to each pixel's displaced position, exact to sub-pixel).
    dy = dx = None
    if amp > 0 or amp_fine > 0:
        dy = np.zeros((h, w), np.float32)
        dx = np.zeros((h, w), np.float32)
        for a, wl in ((amp, waviness_wavelength * diameter), (amp_fine, FINE_WAVELENGTH * diameter)):
            if a > 0:
                wl = max(3.0, wl)
                smooth_field((h, w), wavelength_px=wl, rng=rng, add_to=dy, amplitude=a)
                smooth_field((h, w), wavelength_px=wl, rng=rng, add_to=dx, amplitude=a)
    offset = (pad, pad)
    if m is not None:
        # the linear map joins the warp as a displacement, about the centres of the
        # image and of the tessellation's domain
        yy = (np.arange(h, dtype=np.float64) - (h - 1) / 2.0)[:, None]
        xx = (np.arange(w, dtype=np.float64) - (w - 1) / 2.0)[None, :]
        ly = (m[0, 0] - 1.0) * yy + m[0, 1] * xx
        lx = m[1, 0] * yy + (m[1, 1] - 1.0) * xx
        dy = ly.astype(np.float32) if dy is None else dy + ly.astype(np.float32)
        dx = lx.astype(np.float32) if dx is None else dx + lx.astype(np.float32)
        offset = ((ph - h) / 2.0, (pw - w) / 2.0)
    lab = SeedIndex(seeds, (ph, pw)).labels((h, w), offset=offset, dy=dy, dx=dx)
    # grains in view numbered 1..N (merged cells by their root), in one gather
    lut = _compact_lut(label_counts(lab, n_seeds + 1), roots)
    inst = (lut if roots is None else lut[roots])[lab]
    pairs = lut[pairs]
    pairs = pairs[(pairs[:, 0] > 0) & (pairs[:, 1] > 0)]

    edges = boundary_edges(inst)
    # boundary class: the one-pixel edge widened to label_width_px (square footprint)
    lw = max(1, int(round(label_width_px)))
    if lw > 1:
        band = _dilate_square(edges, lw)
    else:
        band = edges
    labels = band.astype(np.uint8)

    # tint: per-grain brightness plus fBm texture (texture_wavelength x diameter)
    n = int(inst.max())
    tints = _grain_tints(n, pairs, contrast=grain_contrast, min_adjacent=min_adjacent_contrast, rng=rng)
    if texture_amplitude > 0:
        tint = fbm_noise((h, w), wavelength_px=max(2.0, texture_wavelength * diameter), beta=3.0, rng=rng)
        tint *= np.float32(texture_amplitude)
        tint += tints[inst]
    else:
        tint = tints[inst]

    # height: grooves along boundaries, optionally varying in width and with gaps
    height = np.zeros((h, w), dtype=np.float32)
    if groove_depth > 0 and edges.any():
        sigma = max(0.3, groove_width_px / 2.0)
        # a blurred line of unit height: the edge map blurred, times the kernel's peak
        # to line ratio sqrt(2 pi) sigma
        e = edges.astype(np.float32) * np.float32(math.sqrt(2 * math.pi) * sigma)
        g = _blur(e, sigma)
        g2 = mix = f = _EMPTY
        if groove_width_variation > 0:
            s2 = sigma * (1.0 + 2.0 * groove_width_variation)
            g2 = _blur(e, s2)
            g2 *= np.float32(s2 / sigma)
            mix = smooth_field((h, w), wavelength_px=diameter, rng=rng)
        thr = 0.0
        if boundary_gap_fraction > 0:
            f = smooth_field((h, w), wavelength_px=max(6.0, 0.5 * diameter), rng=rng)
            # the quantile of a smooth field, from every 4th pixel each way
            thr = float(np.quantile(f[::4, ::4], boundary_gap_fraction))
        rag = _EMPTY
        if groove_raggedness > 0:
            # lumps about as long as the band is wide
            rag = smooth_field((h, w), wavelength_px=max(3.0, 1.5 * groove_width_px), rng=rng)
        groove_profile(g, g2, mix, f, thr, float(groove_depth), height, rag, 0.45 * float(groove_raggedness))

    if striation_amplitude > 0:
        # drawn last, so that without striations every other draw is as before
        ang = rng.uniform(0.0, math.pi, n + 1)
        per = float(striation_wavelength_px) * rng.uniform(0.7, 1.4, n + 1)
        amp_g = float(striation_amplitude) * rng.random(n + 1) * (rng.random(n + 1) < 0.7)
        phase = rng.uniform(0.0, 2.0 * math.pi, n + 1)
        # a smooth phase wobble keeps the stripes from looking ruled
        wob = smooth_field((h, w), wavelength_px=max(8.0, 0.7 * diameter), rng=rng, amplitude=1.5)
        tint = np.ascontiguousarray(tint, dtype=np.float32)
        _add_striations(tint, inst, np.cos(ang), np.sin(ang), 2.0 * math.pi / per, phase, amp_g, wob)

    stats = grain_statistics(inst, pixel_size_nm=pixel_size_nm)
    stats["target_grain_diameter_px"] = diameter
    stats["boundary_fraction"] = float(labels.mean())
    return Specimen(
        labels=labels,
        instances=inst,
        maps={"tint": tint.astype(np.float32, copy=False), "height": height},
        stats=stats,
    )
