"""Cracks as chains of straight segments, and the measurement that fits them.

A crack (Trampert et al., Crystals 2021, 11, 258, section 3.1) is a polyline: a number
of segments with random lengths, a random bend at every joint, a width that tapers to
zero toward both tips, and optional branches that leave a joint. `generate_cracks`
draws such chains and renders them with anti-aliased coverage; `measure_cracks` reads
the same quantities back from a binary crack mask (skeleton, split at junctions and at
bends, width from the distance transform, contrast from the image), so that a model
can be fitted to annotated real cracks and checked on synthetic ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numba
import numpy as np
from scipy import ndimage as ndi
from skimage.measure import approximate_polygon
from skimage.morphology import skeletonize

from synthscope.structures.specimen import Specimen

__all__ = [
    "CrackModel",
    "CrackMeasurements",
    "crack_polylines",
    "render_polylines",
    "generate_cracks",
    "measure_cracks",
    "fit_crack_model",
]

#: tolerance of the polygon approximation that splits a traced crack at its bends, px:
#: above the one-pixel staircase of a digital line, below the sideways offset that a
#: bend of ~15 degrees makes over a 20 px segment
BEND_TOLERANCE_PX = 1.5


@dataclass(frozen=True)
class CrackModel:
    """The distributions a crack is drawn from.

    Attributes
    ----------
    segments_mean : float >= 1
        Mean number of segments per crack (``1 + Poisson(segments_mean - 1)``).
    segment_length_px : float > 0
        Mean segment length, px (log-normal).
    segment_length_cv : float >= 0
        Coefficient of variation of segment lengths.
    bend_angle_deg : float >= 0
        Mean absolute direction change at a joint, deg (magnitudes uniform in
        [0.5, 1.5] x mean, random sign).
    width_px : float > 0
        Mean crack width away from the tips, px (log-normal between cracks).
    width_cv : float >= 0
        Coefficient of variation of widths between cracks.
    taper_fraction : float in [0, 0.5]
        Share of the crack length, at each end, over which the width falls to zero.
    branch_probability : float in [0, 1]
        Chance that a branch (shorter, narrower crack) leaves a joint.
    roughness_px : float >= 0
        Sideways jaggedness of the crack path, px.
    """

    segments_mean: float = 5.0
    segment_length_px: float = 20.0
    segment_length_cv: float = 0.4
    bend_angle_deg: float = 25.0
    width_px: float = 3.0
    width_cv: float = 0.3
    taper_fraction: float = 0.2
    branch_probability: float = 0.0
    roughness_px: float = 0.0

    def __post_init__(self):
        checks = {
            "segments_mean": (1.0, 200.0),
            "segment_length_px": (0.5, 1e5),
            "segment_length_cv": (0.0, 5.0),
            "bend_angle_deg": (0.0, 120.0),
            "width_px": (0.1, 1e3),
            "width_cv": (0.0, 5.0),
            "taper_fraction": (0.0, 0.5),
            "branch_probability": (0.0, 1.0),
            "roughness_px": (0.0, 100.0),
        }
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{name} must be in [{lo}, {hi}], got {v!r}")

    @classmethod
    def from_mapping(cls, values) -> CrackModel:
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(values[k]) for k in names if k in values})

    def to_dict(self) -> dict:
        return asdict(self)


def _lognormal(rng, mean, cv, size=None):
    if cv <= 0:
        return np.full(size, mean) if size is not None else mean
    s2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), size)


def _chain(start, angle, n_seg, model, rng):
    """Vertices of one chain of ``n_seg`` segments from ``start`` heading ``angle``."""
    pts = [np.asarray(start, float)]
    lengths = _lognormal(rng, model.segment_length_px, model.segment_length_cv, n_seg)
    for k in range(n_seg):
        if k > 0:
            mag = model.bend_angle_deg * rng.uniform(0.5, 1.5)
            angle += math.radians(mag) * (1 if rng.random() < 0.5 else -1)
        pts.append(pts[-1] + lengths[k] * np.array([math.sin(angle), math.cos(angle)]))
    return np.array(pts), angle


def _densify(vertices, widths, step, roughness, rng):
    """Points every ``step`` px along a polyline, with their widths; roughness adds a
    smooth random sideways offset (zero at the ends)."""
    seg = np.diff(vertices, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    s_vert = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = s_vert[-1]
    n = max(2, int(math.ceil(total / step)) + 1)
    s = np.linspace(0.0, total, n)
    y = np.interp(s, s_vert, vertices[:, 0])
    x = np.interp(s, s_vert, vertices[:, 1])
    w = np.interp(s, s_vert, widths)
    if roughness > 0 and n > 4:
        ty = np.gradient(y)
        tx = np.gradient(x)
        norm = np.hypot(ty, tx) + 1e-9
        off = ndi.gaussian_filter1d(rng.standard_normal(n), 1.0)
        off *= roughness / (off.std() + 1e-9)
        off *= np.minimum(1.0, np.minimum(s, total - s) / max(2 * step, 1e-9))
        y = y + off * (tx / norm)
        x = x - off * (ty / norm)
    return np.stack([y, x], 1), w


def _taper(s, total, fraction):
    if fraction <= 0 or total <= 0:
        return np.ones_like(s)
    d = np.minimum(s, total - s) / (fraction * total)
    return np.sqrt(np.clip(d, 0.0, 1.0))


@dataclass(frozen=True)
class Polyline:
    """One rendered crack path: dense points (K, 2) as (y, x) and widths (K,), px."""

    points: np.ndarray
    widths: np.ndarray
    vertices: np.ndarray
    branch: bool = False


def crack_polylines(
    shape: tuple[int, int],
    n_cracks: int,
    model: CrackModel,
    *,
    step_px: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> list[Polyline]:
    """Draw ``n_cracks`` cracks (and their branches) that pass through the field.

    Each crack grows from a point inside the field in two opposite directions, so its
    middle (its widest part) lies in the field.
    """
    rng = np.random.default_rng(rng)
    h, w = shape
    out: list[Polyline] = []
    for _ in range(int(n_cracks)):
        n_seg = 1 + int(rng.poisson(model.segments_mean - 1.0))
        start = rng.uniform([0.15 * h, 0.15 * w], [0.85 * h, 0.85 * w])
        angle = rng.uniform(0, 2 * math.pi)
        n_fwd = max(1, (n_seg + 1) // 2) if n_seg > 1 else 1
        fwd, _ = _chain(start, angle, n_fwd, model, rng)
        if n_seg - n_fwd > 0:
            # the backward half continues the first segment's line through the start
            back, _ = _chain(start, angle + math.pi, n_seg - n_fwd, model, rng)
            verts = np.concatenate([back[::-1], fwd[1:]])
        else:
            verts = fwd
        width = float(_lognormal(rng, model.width_px, model.width_cv))
        out.extend(_with_branches(verts, width, model, step_px, rng))
    return out


def _polyline(verts, width, model, step_px, rng, branch=False):
    seg_len = np.hypot(*np.diff(verts, axis=0).T)
    s_vert = np.concatenate([[0.0], np.cumsum(seg_len)])
    widths = width * _taper(s_vert, s_vert[-1], model.taper_fraction)
    pts, wd = _densify(verts, widths, step_px, model.roughness_px, rng)
    # taper evaluated on the dense points (vertices alone would miss the tips' shape)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    wd = width * _taper(s, s[-1], model.taper_fraction)
    return Polyline(points=pts, widths=wd, vertices=verts, branch=branch)


def _with_branches(verts, width, model, step_px, rng):
    lines = [_polyline(verts, width, model, step_px, rng)]
    if model.branch_probability <= 0:
        return lines
    seg = np.diff(verts, axis=0)
    for j in range(1, len(verts) - 1):
        if rng.random() >= model.branch_probability:
            continue
        heading = math.atan2(seg[j, 0], seg[j, 1])
        angle = heading + math.radians(rng.uniform(30, 75)) * (1 if rng.random() < 0.5 else -1)
        n_seg = 1 + int(rng.poisson(max(model.segments_mean / 2 - 1, 0)))
        bverts, _ = _chain(verts[j], angle, n_seg, model, rng)
        # a branch starts at the parent's width there and tapers only toward its tip
        bw = width * 0.7
        lines.append(_branch_polyline(bverts, bw, model, step_px, rng))
    return lines


def _branch_polyline(verts, width, model, step_px, rng):
    line = _polyline(verts, width, model, step_px, rng, branch=True)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(line.points, axis=0).T))])
    total = s[-1]
    f = max(model.taper_fraction, 1e-6) * 2
    wd = width * np.sqrt(np.clip((total - s) / (f * total), 0.0, 1.0))
    return Polyline(points=line.points, widths=wd, vertices=verts, branch=True)


@numba.njit(cache=True, nogil=True)
def _render(points, widths, cover, dist_ok):
    """Anti-aliased coverage (max over segments of ``clip(w/2 - d + 0.5, 0, 1)``) and the
    label (``d <= max(w/2, 0.5)``) of the capsules between consecutive points."""
    h, w = cover.shape
    for k in range(points.shape[0] - 1):
        y0, x0 = points[k, 0], points[k, 1]
        y1, x1 = points[k + 1, 0], points[k + 1, 1]
        w0, w1 = widths[k], widths[k + 1]
        r = max(w0, w1) / 2 + 1.5
        ylo = max(int(math.floor(min(y0, y1) - r)), 0)
        yhi = min(int(math.ceil(max(y0, y1) + r)), h - 1)
        xlo = max(int(math.floor(min(x0, x1) - r)), 0)
        xhi = min(int(math.ceil(max(x0, x1) + r)), w - 1)
        dy, dx = y1 - y0, x1 - x0
        ll = dy * dy + dx * dx
        for i in range(ylo, yhi + 1):
            for j in range(xlo, xhi + 1):
                t = 0.0
                if ll > 0:
                    t = ((i - y0) * dy + (j - x0) * dx) / ll
                    t = min(max(t, 0.0), 1.0)
                py = y0 + t * dy - i
                px = x0 + t * dx - j
                d = math.sqrt(py * py + px * px)
                half = (w0 + t * (w1 - w0)) / 2
                c = min(max(half - d + 0.5, 0.0), 1.0)
                if half < 0.5:
                    c *= 2 * half  # a line thinner than a pixel covers it in part
                if c > cover[i, j]:
                    cover[i, j] = c
                if d <= max(half, 0.5) and half > 0.05:
                    dist_ok[i, j] = True


def render_polylines(shape: tuple[int, int], polylines: list[Polyline]) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (float32 in [0, 1], anti-aliased) and label mask (bool) of the cracks."""
    cover = np.zeros(shape, np.float32)
    mask = np.zeros(shape, np.bool_)
    for line in polylines:
        _render(line.points.astype(np.float64), line.widths.astype(np.float64), cover, mask)
    return cover, mask


def generate_cracks(
    shape: tuple[int, int],
    *,
    n_cracks: int,
    model: CrackModel = CrackModel(),
    rng: np.random.Generator | int | None = None,
) -> Specimen:
    """A crack specimen: ``labels`` 1 on cracks, map ``crack`` (anti-aliased coverage),
    stats: crack count, crack pixels and total length of the drawn paths (px)."""
    if n_cracks < 0:
        raise ValueError(f"n_cracks must be >= 0, got {n_cracks}")
    rng = np.random.default_rng(rng)
    lines = crack_polylines(shape, n_cracks, model, rng=rng)
    cover, mask = render_polylines(shape, lines)
    length = float(sum(np.hypot(*np.diff(p.points, axis=0).T).sum() for p in lines))
    return Specimen(
        labels=mask.astype(np.uint8),
        maps={"crack": cover},
        stats={"n_cracks": int(n_cracks), "n_branches": sum(p.branch for p in lines),
               "crack_pixels": int(mask.sum()), "crack_length_px": length},
    )


# -- measurement --------------------------------------------------------------------------

_NB8 = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]])


@dataclass(frozen=True)
class CrackMeasurements:
    """Per-path measurements of cracks in one or more masks.

    A path is a piece of skeleton between two tips or junctions; ``segments`` holds the
    number of straight segments of each path, ``segment_lengths_px`` and
    ``bend_angles_deg`` one entry per segment and per joint, ``widths_px`` the median
    width of each path, ``contrasts`` its darkness against the surroundings (in units
    of the surroundings' std; NaN without an image), ``tapers`` the share of a path's
    length over which it narrows at a tip; ``cracks`` counts connected cracks,
    ``junctions`` and ``joints`` count branch points and bends (for the branching
    probability).
    """

    segments: np.ndarray
    segment_lengths_px: np.ndarray
    bend_angles_deg: np.ndarray
    widths_px: np.ndarray
    contrasts: np.ndarray
    tapers: np.ndarray
    junctions: int
    joints: int
    cracks: int = 0

    @staticmethod
    def concat(items: list[CrackMeasurements]) -> CrackMeasurements:
        cat = lambda name: np.concatenate([getattr(m, name) for m in items]) if items else np.zeros(0)  # noqa: E731
        return CrackMeasurements(
            segments=cat("segments"), segment_lengths_px=cat("segment_lengths_px"),
            bend_angles_deg=cat("bend_angles_deg"), widths_px=cat("widths_px"),
            contrasts=cat("contrasts"), tapers=cat("tapers"),
            junctions=sum(m.junctions for m in items), joints=sum(m.joints for m in items),
            cracks=sum(m.cracks for m in items),
        )


def _neighbours(skel):
    return ndi.convolve(skel.astype(np.uint8), _NB8, mode="constant") * skel


def _prune(skel, min_len):
    """Remove terminal spurs shorter than ``min_len`` px (skeletonisation artefacts at
    corners and blobs of thick cracks)."""
    skel = skel.copy()
    for _ in range(3):
        nb = _neighbours(skel)
        junction = skel & (nb >= 3)
        paths = skel & ~ndi.binary_dilation(junction, np.ones((3, 3), bool))
        lab, n = ndi.label(paths, np.ones((3, 3)))
        if n == 0:
            break
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        ends = np.bincount(lab[skel & (nb == 1)], minlength=n + 1)
        touches = np.bincount(lab[ndi.binary_dilation(junction, np.ones((5, 5), bool)) & paths], minlength=n + 1)
        spur = (ends >= 1) & (touches > 0) & (sizes < min_len)
        spur[0] = False
        if not spur.any():
            break
        skel &= ~spur[lab]
        skel = skeletonize(skel)
    return skel


def _order(pixels: np.ndarray) -> np.ndarray:
    """Order the pixels of a simple 8-connected path from one end to the other."""
    if len(pixels) <= 2:
        return pixels
    index = {(int(y), int(x)): k for k, (y, x) in enumerate(pixels)}
    nbrs = [[] for _ in pixels]
    for k, (y, x) in enumerate(pixels):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dy or dx) and (y + dy, x + dx) in index:
                    nbrs[k].append(index[(y + dy, x + dx)])
    start = next((k for k, n in enumerate(nbrs) if len(n) == 1), 0)
    order, seen, cur = [start], {start}, start
    while True:
        # prefer 4-neighbours so that a staircase is walked, not cut
        cand = [n for n in nbrs[cur] if n not in seen]
        if not cand:
            break
        cand.sort(key=lambda n: abs(pixels[n][0] - pixels[cur][0]) + abs(pixels[n][1] - pixels[cur][1]))
        cur = cand[0]
        seen.add(cur)
        order.append(cur)
    return pixels[order]


def measure_cracks(
    mask: np.ndarray,
    image: np.ndarray | None = None,
    *,
    min_path_px: int = 6,
    bend_tolerance_px: float = BEND_TOLERANCE_PX,
) -> CrackMeasurements:
    """Measure the cracks of a binary mask (and their contrast in ``image``).

    Skeletonise, prune spurs, cut the skeleton at junctions into paths, approximate
    each path by a polygon (``bend_tolerance_px``): its edges are the segments and its
    interior vertices the joints. Width is ``2 * EDT - 1`` on the skeleton.

    Parameters
    ----------
    mask : (H, W) bool or int, nonzero on cracks
    image : (H, W) float or None
    min_path_px : paths shorter than this (after cutting) are ignored
    bend_tolerance_px : polygon approximation tolerance, px
    """
    mask = np.asarray(mask) != 0
    if image is not None and image.shape != mask.shape:
        raise ValueError(f"image shape {image.shape} differs from mask shape {mask.shape}")
    edt = ndi.distance_transform_edt(mask)
    skel = skeletonize(mask)
    med_w = float(np.median(2 * edt[skel] - 1)) if skel.any() else 1.0
    skel = _prune(skel, max(min_path_px, int(2 * med_w)))
    # local width: crack pixels per unit of skeleton length, each crack pixel counted at
    # its nearest skeleton pixel (the distance transform alone under-reads diagonals)
    share = np.zeros(mask.shape, np.float64)
    if skel.any():
        _, (iy, ix) = ndi.distance_transform_edt(~skel, return_indices=True)
        np.add.at(share, (iy[mask], ix[mask]), 1.0)
    comp, n_comp = ndi.label(skel, np.ones((3, 3)))
    n_cracks = int((np.bincount(comp.ravel())[1:] >= min_path_px).sum())
    nb = _neighbours(skel)
    junction = skel & (nb >= 3)
    jlab, n_junctions = ndi.label(ndi.binary_dilation(junction, np.ones((3, 3), bool)) & skel, np.ones((3, 3)))
    paths = skel & (jlab == 0)
    lab, n = ndi.label(paths, np.ones((3, 3)))
    contrast_ctx = None
    if image is not None:
        img = image.astype(np.float32)
        near = ndi.binary_dilation(mask, np.ones((3, 3), bool), iterations=2)
        ring = ndi.binary_dilation(mask, np.ones((3, 3), bool), iterations=8) & ~near
        contrast_ctx = (img, ring)
    segs, seg_len, bends, widths, contrasts, tapers = [], [], [], [], [], []
    objects = ndi.find_objects(lab)
    for k, sl in enumerate(objects, start=1):
        if sl is None:
            continue
        yy, xx = np.nonzero(lab[sl] == k)
        if len(yy) < min_path_px:
            continue
        pix = np.stack([yy + sl[0].start, xx + sl[1].start], 1)
        path = _order(pix)
        poly = approximate_polygon(path.astype(float), bend_tolerance_px)
        d = np.diff(poly, axis=0)
        L = np.hypot(d[:, 0], d[:, 1])
        keep = L > 0
        d, L = d[keep], L[keep]
        if len(L) == 0:
            continue
        segs.append(len(L))
        seg_len.extend(L.tolist())
        if len(L) > 1:
            a = np.arctan2(d[:, 0], d[:, 1])
            turn = np.degrees(np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi))
            bends.extend(turn.tolist())
        step = np.hypot(*np.diff(path, axis=0).T)
        s = np.concatenate([[0.0], np.cumsum(step)])
        total = s[-1]
        ds = np.concatenate([[1.0], step])
        win = np.ones(min(7, len(path)))
        wprof = np.convolve(share[path[:, 0], path[:, 1]], win, "same") / np.convolve(ds, win, "same")
        wmed = float(np.median(wprof))
        widths.append(wmed)
        if total > 0:
            # under a square-root taper the width is below 80 % over 0.64 of the taper
            full = wprof >= 0.8 * wmed
            first = s[np.argmax(full)] if full.any() else 0.0
            last = total - s[len(full) - 1 - np.argmax(full[::-1])] if full.any() else 0.0
            tapers.append(float((first + last) / 2 / total / 0.64))
        if contrast_ctx is not None:
            img, ring = contrast_ctx
            cy, cx = path[:, 0], path[:, 1]
            y0, y1 = max(cy.min() - 12, 0), min(cy.max() + 13, mask.shape[0])
            x0, x1 = max(cx.min() - 12, 0), min(cx.max() + 13, mask.shape[1])
            local = ring[y0:y1, x0:x1]
            bg = img[y0:y1, x0:x1][local]
            if bg.size >= 10:
                sd = float(bg.std()) or 1.0
                contrasts.append((float(np.median(bg)) - float(np.median(img[cy, cx]))) / sd)
    return CrackMeasurements(
        segments=np.asarray(segs, float),
        segment_lengths_px=np.asarray(seg_len, float),
        bend_angles_deg=np.asarray(bends, float),
        widths_px=np.asarray(widths, float),
        contrasts=np.asarray(contrasts, float) if image is not None else np.full(len(widths), np.nan),
        tapers=np.asarray(tapers, float),
        junctions=int(n_junctions),
        joints=int(sum(max(s - 1, 0) for s in segs)),
        cracks=n_cracks,
    )


def _cv(values):
    v = np.asarray(values, float)
    return float(v.std() / v.mean()) if len(v) > 1 and v.mean() > 0 else 0.0


def fit_crack_model(m: CrackMeasurements) -> tuple[CrackModel, dict]:
    """The `CrackModel` whose distributions have the measured means, and the measured
    crack contrast (mean and std, in surroundings-std units; NaN without images).

    Branch probability is junctions per joint (or junction); segments per crack count
    all segments of a connected crack, branches included.
    """
    if len(m.segment_lengths_px) == 0:
        raise ValueError("no cracks found in the masks (nothing to fit)")
    n_cracks = max(m.cracks, 1)
    model = CrackModel(
        segments_mean=float(np.clip(m.segments.sum() / n_cracks, 1.0, 200.0)),
        segment_length_px=float(np.mean(m.segment_lengths_px)),
        segment_length_cv=float(np.clip(_cv(m.segment_lengths_px), 0, 5)),
        bend_angle_deg=float(np.clip(np.mean(m.bend_angles_deg), 0, 120)) if len(m.bend_angles_deg) else 0.0,
        width_px=float(max(np.mean(m.widths_px), 0.1)),
        width_cv=float(np.clip(_cv(m.widths_px), 0, 5)),
        taper_fraction=float(np.clip(np.median(m.tapers), 0, 0.5)) if len(m.tapers) else 0.2,
        branch_probability=float(np.clip(m.junctions / max(m.joints + m.junctions, 1), 0, 1)),
    )
    c = m.contrasts[np.isfinite(m.contrasts)]
    contrast = {"mean": float(c.mean()) if len(c) else float("nan"),
                "std": float(c.std()) if len(c) > 1 else 0.0, "n": int(len(c))}
    return model, contrast
