"""Particle and precipitate fields in 2D: a coarse population (class 1) and an optional
fine one (class 2), with controlled area fraction and size.

Shapes: ``circle``, ``ellipse``, ``cuboid`` (rounded squares aligned to a lattice
direction with a random misorientation, as gamma-prime in Ni superalloys) and ``blob``
(irregular outlines: a circle whose radius is modulated by a smooth random function of
the angle). Placement: random sequential adsorption with a least gap between particles
(no overlap), or free placement that lets a controlled share touch and overlap;
optional clustering (positions drawn from a smooth random intensity field).
``field``: dense, irregular precipitates separated by narrow channels (the look of
coarsened gamma-prime): Voronoi cells shrunk from their boundaries until the requested
area fraction is covered exactly, outlines warped and rounded, the cell size calibrated
to the requested mean diameter.

Sizes are equivalent diameters (of the particle area) drawn from a lognormal law with
the requested mean. Statistics are measured on the result: area fraction per class,
count, and the mean equivalent diameter of the particles that do not touch the image
border (the border cuts the others).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from synthscope.structures.specimen import Specimen
from synthscope.structures.textures import smooth_field

__all__ = ["SHAPES", "PLACEMENTS", "particle_stats", "generate_particles", "particle_mask"]

SHAPES = ("circle", "ellipse", "cuboid", "blob")
PLACEMENTS = ("separate", "touching", "field")


def _lognormal_diameters(rng, n, mean, cv):
    """Diameters with the given mean and coefficient of variation (lognormal)."""
    if cv <= 0:
        return np.full(n, float(mean))
    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2
    return rng.lognormal(mu, math.sqrt(s2), n)


def particle_mask(d: float, shape: str, *, aspect: float = 1.0, angle: float = 0.0, corner: float = 0.3,
                  roughness: float = 0.0, rng=None) -> np.ndarray:
    """Boolean footprint of one particle of equivalent diameter ``d`` px (its area is
    pi d^2 / 4 whatever the shape), centred in a square window of odd side."""
    rng = np.random.default_rng(rng)
    area = math.pi * d * d / 4
    half = int(math.ceil(d * max(aspect, 1.0) * 0.85 * (1 + roughness))) + 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * xx + s * yy, -s * xx + c * yy
    if shape in ("circle", "blob"):
        r = d / 2
        if shape == "blob" and roughness > 0:
            th = np.arctan2(v, u)
            k = np.arange(2, 7)
            amp = rng.normal(0, 1, len(k)) / k * roughness
            ph = rng.uniform(0, 2 * np.pi, len(k))
            mod = 1 + (amp[:, None, None] * np.cos(k[:, None, None] * th + ph[:, None, None])).sum(0)
            # keep the area: E[r^2] over the angle grows by sum(amp^2)/2
            r = r / math.sqrt(1 + 0.5 * float((amp**2).sum()))
            return np.hypot(u, v) <= r * mod
        return np.hypot(u, v) <= r
    if shape == "ellipse":
        a = d / 2 * math.sqrt(aspect)
        b = d / 2 / math.sqrt(aspect)
        return (u / a) ** 2 + (v / b) ** 2 <= 1
    if shape == "cuboid":
        # rounded rectangle of side ratio ``aspect`` and corner radius corner * half side
        rc = corner
        # area of a rounded rectangle of half sides A, B and radius rho: 4AB - (4 - pi) rho^2
        # with B = A / aspect, rho = rc * B: solve for A
        k_area = 4 / aspect - (4 - math.pi) * (rc / aspect) ** 2
        A = math.sqrt(area / k_area)
        B = A / aspect
        rho = rc * B
        qx, qy = np.abs(u) - (A - rho), np.abs(v) - (B - rho)
        out = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)
        return out <= rho
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")


def particle_stats(labels: np.ndarray, instances: np.ndarray, *, cls: int = 1) -> dict:
    """Area fraction of class ``cls``, instance count, and the mean equivalent diameter
    of its instances, estimated from those that do not touch the image border with the
    Miles-Lantuejoul weights 1 / ((H - h) (W - w)) (h, w: a particle's bounding box), which
    undo the border's preference for cutting large particles."""
    sel = labels == cls
    ids = np.unique(instances[sel])
    ids = ids[ids > 0]
    border = np.unique(np.concatenate([instances[0], instances[-1], instances[:, 0], instances[:, -1]]))
    inner = np.setdiff1d(ids, border)
    H, W = labels.shape
    d = np.zeros(0)
    wts = np.zeros(0)
    if len(inner):
        areas = np.asarray(ndi.sum_labels(np.ones_like(instances), instances, inner), float)
        objs = ndi.find_objects(instances)
        ext = np.array([(objs[i - 1][0].stop - objs[i - 1][0].start, objs[i - 1][1].stop - objs[i - 1][1].start)
                        for i in inner], float)
        d = np.sqrt(4 * areas / math.pi)
        wts = 1.0 / np.maximum((H - ext[:, 0]) * (W - ext[:, 1]), 1.0)
    mean = float((d * wts).sum() / wts.sum()) if len(d) else float("nan")
    return {"area_fraction": float(sel.mean()), "count": int(len(ids)), "mean_diameter_px": mean,
            "measured_particles": int(len(d))}


def _place(labels, instances, cls, next_id, target_area, diam, rng, *, shape, aspect, aspect_spread, angle0,
           misorientation, corner, roughness, gap, touching, intensity):
    """Random sequential adsorption of particles of diameters ``diam`` until the class
    covers ``target_area`` px. Returns the next free instance id."""
    h, w = labels.shape
    occupied = labels > 0
    guard = ndi.binary_dilation(occupied, iterations=int(gap)) if gap >= 1 and occupied.any() else occupied.copy()
    covered = int((labels == cls).sum())
    slack = 0.005 * h * w  # the most the area may overshoot the target, px
    misses = 0  # particles in a row that found no room: jammed after 25
    cdf = np.cumsum(intensity.ravel(), dtype=np.float64) if intensity is not None else None
    pool: list = []
    for d in diam:
        if misses >= 25:
            break
        if covered >= target_area:
            break
        if covered + math.pi * d * d / 8 > target_area:
            continue  # would overshoot by more than half of itself: try a smaller one
        asp = aspect * math.exp(rng.normal(0, aspect_spread)) if shape in ("ellipse", "cuboid") else 1.0
        asp = max(asp, 1.0)
        ang = (angle0 + rng.normal(0, misorientation)) if shape == "cuboid" else rng.uniform(0, math.pi)
        fp = particle_mask(d, shape, aspect=asp, angle=ang, corner=corner, roughness=roughness, rng=rng)
        half = fp.shape[0] // 2
        allow_overlap = rng.random() < touching
        misses += 1
        for _ in range(60):
            if intensity is not None:
                # clustering: positions drawn in proportion to the intensity field
                if not pool:
                    pool.extend(np.searchsorted(cdf, rng.random(4096) * cdf[-1]).tolist())
                k = min(pool.pop(), h * w - 1)
                y, x = divmod(int(k), w)
            else:
                y, x = int(rng.integers(h)), int(rng.integers(w))
            y0, x0 = y - half, x - half
            ys, xs = slice(max(y0, 0), min(y0 + fp.shape[0], h)), slice(max(x0, 0), min(x0 + fp.shape[1], w))
            sub = fp[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
            if not sub.any():
                continue
            region = guard[ys, xs]
            hit = region[sub].any()
            if hit and not allow_overlap:
                continue
            if hit:
                # touching/overlapping only with particles of the same class
                other = labels[ys, xs][sub]
                if np.any((other != 0) & (other != cls)):
                    continue
            new = sub & (labels[ys, xs] == 0)
            n_new = int(new.sum())
            if covered + n_new > target_area + slack:
                # it would overshoot the target by more than the slack (its footprint,
                # cut by the border and by overlaps, is what counts): a smaller one next
                misses -= 1
                break
            labels[ys, xs][new] = cls
            instances[ys, xs][sub & ((instances[ys, xs] == 0) | (labels[ys, xs] == cls))] = next_id
            next_id += 1
            covered += n_new
            gy = slice(max(ys.start - int(gap), 0), min(ys.stop + int(gap), h))
            gx = slice(max(xs.start - int(gap), 0), min(xs.stop + int(gap), w))
            if gap >= 1:
                pad = np.zeros((gy.stop - gy.start, gx.stop - gx.start), bool)
                oy, ox = ys.start - gy.start, xs.start - gx.start
                pad[oy:oy + sub.shape[0], ox:ox + sub.shape[1]] = sub
                guard[gy, gx] |= ndi.binary_dilation(pad, iterations=int(gap))
            else:
                guard[ys, xs] |= sub
            misses = 0
            break
    return next_id


def _field_particles(shape, area_fraction, mean_diameter_px, roughness, rng):
    """Dense, irregular particles separated by channels: Voronoi cells of random seeds
    (distances warped by a smooth displacement field), each shrunk from its boundary by
    the distance that leaves ``area_fraction`` covered, the outlines rounded. The seed
    density is calibrated on the result to hit the mean diameter."""
    from scipy.spatial import cKDTree

    h, w = shape
    seed = int(rng.integers(2**31))
    cell = mean_diameter_px / math.sqrt(max(area_fraction, 0.05))
    for _ in range(3):
        r = np.random.default_rng(seed)
        n = max(2, int(round(h * w / (math.pi * cell * cell / 4))))
        pts = r.random((n, 2)) * (h, w)
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        amp = roughness * cell * 0.5
        if amp > 0:
            yy += amp * smooth_field(shape, wavelength_px=cell * 0.8, rng=r)
            xx += amp * smooth_field(shape, wavelength_px=cell * 0.8, rng=r)
        dist, idx = cKDTree(pts).query(np.stack([yy.ravel(), xx.ravel()], 1), k=2)
        depth = ((dist[:, 1] - dist[:, 0]) / 2).reshape(h, w)  # distance to the cell boundary
        depth = ndi.gaussian_filter(depth, max(1.0, 0.08 * cell))  # round the corners
        mask = depth > np.quantile(depth, 1 - area_fraction)
        inst = np.where(mask, idx[:, 0].reshape(h, w) + 1, 0).astype(np.int32)
        st = particle_stats(mask.astype(np.uint8), inst)
        d = st["mean_diameter_px"]
        if not math.isfinite(d) or abs(d / mean_diameter_px - 1) < 0.03:
            break
        cell *= mean_diameter_px / d
    return mask, inst


def generate_particles(
    shape: tuple[int, int],
    *,
    area_fraction: float = 0.2,
    mean_diameter_px: float = 20.0,
    size_cv: float = 0.25,
    particle_shape: str = "circle",
    aspect: float = 1.5,
    aspect_spread: float = 0.15,
    corner: float = 0.35,
    roughness: float = 0.25,
    lattice_angle_deg: float | None = None,
    misorientation_deg: float = 5.0,
    placement: str = "separate",
    gap_px: float = 1.0,
    touching_fraction: float = 0.0,
    clustering: float = 0.0,
    fine_area_fraction: float = 0.0,
    fine_diameter_px: float = 4.0,
    fine_size_cv: float = 0.3,
    rng=None,
) -> Specimen:
    """A particle field. Returns a `Specimen` with ``labels`` (0 matrix, 1 particle,
    2 fine particle), ``instances`` (one id per particle) and ``stats`` (area fractions,
    counts, mean diameters measured on the result).

    Parameters
    ----------
    shape : (H, W) px
    area_fraction : share of the image covered by the coarse particles
    mean_diameter_px, size_cv : mean equivalent diameter and its coefficient of variation
    particle_shape : circle, ellipse, cuboid, blob
    aspect, aspect_spread : side or axis ratio (>= 1) and its log-normal spread
    corner : cuboid corner radius / half side
    roughness : blob outline modulation
    lattice_angle_deg, misorientation_deg : cuboid orientation (random when None) and
        the spread of each particle around it
    placement : separate (no overlap, ``gap_px`` apart), touching (``touching_fraction``
        of particles may touch/overlap others), field (dense, irregular, thin channels).
        When separate particles jam (beyond an area fraction of about 0.45) before the
        target is covered, the remaining ones are placed touching, so the area fraction
        is always met
    clustering : 0 uniform .. 1 strongly clustered positions
    fine_area_fraction, fine_diameter_px, fine_size_cv : second, fine population (class 2)
        placed in the matrix between the coarse particles
    """
    rng = np.random.default_rng(rng)
    h, w = (int(s) for s in shape)
    if particle_shape not in SHAPES:
        raise ValueError(f"particle_shape must be one of {', '.join(SHAPES)}, got {particle_shape!r}")
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    if not 0 <= area_fraction < 0.9 or not 0 <= fine_area_fraction < 0.5 or area_fraction + fine_area_fraction >= 0.9:
        raise ValueError(f"area fractions must be >= 0 and add up to < 0.9, got {area_fraction}, {fine_area_fraction}")
    if not mean_diameter_px > 0 or not fine_diameter_px > 0:
        raise ValueError("mean_diameter_px and fine_diameter_px must be > 0")
    labels = np.zeros((h, w), np.uint8)
    instances = np.zeros((h, w), np.int32)
    next_id = 1
    if area_fraction > 0:
        if placement == "field":
            mask, inst = _field_particles((h, w), area_fraction, mean_diameter_px, roughness, rng)
            labels[mask] = 1
            instances[mask] = inst[mask]
            next_id = int(inst.max()) + 1
        else:
            intensity = None
            if clustering > 0:
                f = smooth_field((h, w), wavelength_px=6 * mean_diameter_px, rng=rng)
                intensity = np.exp(3.0 * clustering * f)
                intensity /= intensity.max()
            n = int(4 * area_fraction * h * w / (math.pi * mean_diameter_px**2 / 4)) + 20
            diam = _lognormal_diameters(rng, n, mean_diameter_px, size_cv)
            angle0 = math.radians(lattice_angle_deg) if lattice_angle_deg is not None else rng.uniform(0, math.pi / 2)
            kw = dict(shape=particle_shape, aspect=aspect, aspect_spread=aspect_spread, angle0=angle0,
                      misorientation=math.radians(misorientation_deg), corner=corner, roughness=roughness,
                      intensity=intensity)
            next_id = _place(labels, instances, 1, next_id, area_fraction * h * w, diam, rng, gap=gap_px,
                             touching=touching_fraction if placement == "touching" else 0.0, **kw)
            if (labels == 1).mean() < area_fraction - 0.005:
                # jammed (no room left for another separate particle): the rest may touch,
                # and may fall outside the clusters when these are full
                diam = _lognormal_diameters(rng, n, mean_diameter_px, size_cv)
                next_id = _place(labels, instances, 1, next_id, area_fraction * h * w, diam, rng, gap=0.0,
                                 touching=1.0, **{**kw, "intensity": None})
    if fine_area_fraction > 0:
        n = int(4 * fine_area_fraction * h * w / (math.pi * fine_diameter_px**2 / 4)) + 20
        diam = _lognormal_diameters(rng, n, fine_diameter_px, fine_size_cv)
        _place(labels, instances, 2, next_id, fine_area_fraction * h * w, diam, rng, shape="circle", aspect=1.0,
               aspect_spread=0.0, angle0=0.0, misorientation=0.0, corner=0.0, roughness=0.0, gap=max(gap_px, 1.0),
               touching=0.0, intensity=None)
    coarse = particle_stats(labels, instances, cls=1)
    fine = particle_stats(labels, instances, cls=2)
    stats = {"area_fraction": coarse["area_fraction"], "particle_count": coarse["count"],
             "mean_diameter_px": coarse["mean_diameter_px"], "fine_area_fraction": fine["area_fraction"],
             "fine_count": fine["count"], "fine_mean_diameter_px": fine["mean_diameter_px"]}
    return Specimen(labels=labels, instances=instances, stats=stats)
