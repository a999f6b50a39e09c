"""Straightforward numpy version of the bulk Monte Carlo (same physics, no numba).

All live electrons advance one elastic step per iteration as whole arrays. It exists to
check the compiled kernel (same statistics) and as the anchor of its benchmark.
"""

from __future__ import annotations

import numpy as np

from synthscope.imaging.materials import Material, material
from synthscope.imaging.montecarlo import (
    CROSS_SECTIONS,
    atoms_per_cm3,
    elastic_cross_section_cm2,
    stopping_power_kev_nm,
)


def _cos_theta(z, e, model, r1, r2):
    if model == 0:
        r = 300.0 * e / z + z**3 / (3.0e5 * e)
        alpha = 7.0e-3 / e
        ruth = 1.0 - 2.0 * alpha * r2 / (1.0 + alpha - r2)
        return np.where(r1 <= r / (1.0 + r), ruth, 1.0 - 2.0 * r2)
    alpha = 3.4e-3 * z**0.67 / e
    return 1.0 - 2.0 * alpha * r2 / (1.0 + alpha - r2)


def simulate_bulk_numpy(
    mat: Material | str,
    *,
    energy_kev: float,
    n_electrons: int,
    cross_section: str = "browning",
    emin_kev: float = 0.05,
    rng: np.random.Generator | int | None = None,
) -> dict:
    """Backscatter coefficient, BSE depths and penetration depths; numpy only."""
    rng = np.random.default_rng(rng)
    mat = material(mat)
    model = CROSS_SECTIONS.index(cross_section)
    zz = np.asarray(mat.z, float)
    nat = atoms_per_cm3(mat)
    k = zz.size
    n = int(n_electrons)
    pos = np.zeros((n, 3))
    d = np.zeros((n, 3))
    d[:, 2] = 1.0
    e = np.full(n, float(energy_kev))
    maxz = np.zeros(n)
    escaped = np.zeros(n, bool)
    alive = np.ones(n, bool)
    idx = np.arange(n)
    while idx.size:
        ei = e[idx]
        part = nat[None, :] * elastic_cross_section_cm2(zz[None, :], ei[:, None], cross_section)  # (m, k) 1/cm
        sig = part.sum(1)
        step = -np.log(rng.random(idx.size)) * 1e7 / sig  # nm
        p = pos[idx]
        di = d[idx]
        # leaving through the surface before the end of the step
        out = (di[:, 2] < 0) & (p[:, 2] + di[:, 2] * step < 0)
        t_out = np.where(out, -p[:, 2] / np.where(di[:, 2] < 0, -di[:, 2], 1.0), step)
        ds = np.where(out, t_out, step)
        stop = stopping_power_kev_nm(mat, ei)
        de = np.minimum(stop * ds, ei)
        p = p + di * ds[:, None]
        e_new = ei - de
        maxz[idx] = np.maximum(maxz[idx], p[:, 2])
        esc_now = out & (e_new > emin_kev)
        escaped[idx[esc_now]] = True
        dead = out | (e_new <= emin_kev)
        alive[idx[dead]] = False
        # scatter the survivors
        keep = ~dead
        ki = idx[keep]
        p, di, e_new, part, sig = p[keep], di[keep], e_new[keep], part[keep], sig[keep]
        cum = np.cumsum(part, 1) / sig[:, None]
        jsel = np.minimum((rng.random(ki.size)[:, None] > cum).sum(1), k - 1)
        ct = np.clip(_cos_theta(zz[jsel], e_new, model, rng.random(ki.size), rng.random(ki.size)), -1, 1)
        st = np.sqrt(1 - ct * ct)
        phi = 2 * np.pi * rng.random(ki.size)
        cp, sp = np.cos(phi), np.sin(phi)
        u, v, w = di[:, 0], di[:, 1], di[:, 2]
        tmp = np.sqrt(np.maximum(1 - w * w, 1e-30))
        polar = np.abs(w) > 0.99999
        un = np.where(polar, st * cp, u * ct + st * (u * w * cp - v * sp) / tmp)
        vn = np.where(polar, st * sp, v * ct + st * (v * w * cp + u * sp) / tmp)
        wn = np.where(polar, np.sign(w) * ct, w * ct - tmp * st * cp)
        pos[ki] = p
        d[ki] = np.stack([un, vn, wn], 1)
        e[ki] = e_new
        idx = ki
    return {
        "backscatter_coefficient": float(escaped.mean()),
        "bse_depths_nm": maxz[escaped],
        "penetration_depths_nm": maxz,
    }
