"""Fast BSE/SE images from Monte Carlo-calibrated signal kernels.

The Monte Carlo (`imaging.montecarlo`) is run once per material and beam energy on a
flat bulk specimen; it yields the backscatter coefficient, where the backscattered
electrons went deepest (a weight and a lateral Gaussian spread per depth bin) and where
the beam deposits its energy. An image of a voxel specimen is then the sum, over depth
bins, of Gaussian-filtered slices below the point where the beam first meets matter
(straight down through pores: the shine-through of FIB-SEM), times the fraction of
upward directions that leave the specimen from there (ray marching through the pores).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from synthscope.imaging import montecarlo as mc
from synthscope.imaging.materials import Material, kanaya_okayama_range_nm, material

__all__ = ["SignalKernel", "escape_fraction", "image_fast", "signal_kernel"]


@dataclass(frozen=True)
class SignalKernel:
    """How one material answers a beam of one energy, in voxel units.

    Attributes
    ----------
    material, energy_kev, voxel_nm
    eta : float, backscatter coefficient of the flat bulk
    detected_fraction : float, electrons collected by the detector per incident one
    se : float, SE estimate of the flat bulk (keV per electron, as `montecarlo`)
    se_escape_nm : float
    bse_weight : (k,) fraction of BSE whose deepest point lies in depth bin k
    bse_sigma_vox : (k,) lateral Gaussian sigma of those points, voxels
    deposit_kev : (k,) energy deposited per incident electron in depth bin k
    deposit_sigma_vox : (k,) lateral Gaussian sigma of the deposit, voxels
    reach : (k + 1,) fraction of all electrons that reach depth bin k
    range_vox : Kanaya-Okayama range, voxels (the scale of the cascade model)
    """

    material: str
    energy_kev: float
    voxel_nm: float
    eta: float
    detected_fraction: float
    se: float
    se_escape_nm: float
    bse_weight: np.ndarray
    bse_sigma_vox: np.ndarray
    deposit_kev: np.ndarray
    deposit_sigma_vox: np.ndarray
    reach: np.ndarray = None
    range_vox: float = 1.0


def signal_kernel(
    mat: Material | str,
    *,
    energy_kev: float,
    voxel_nm: float,
    n_electrons: int = 20000,
    cross_section: str = "browning",
    detector_theta_deg: tuple[float, float] = (0.0, 90.0),
    emin_kev: float = 0.05,
    rng: np.random.Generator | int | None = 0,
) -> SignalKernel:
    """Run the Monte Carlo once on the bulk material and summarise it per depth bin."""
    mat = material(mat)
    model, cos_lo, cos_hi = mc._check(energy_kev, cross_section, detector_theta_deg, emin_kev)
    if not voxel_nm > 0:
        raise ValueError(f"voxel_nm must be > 0, got {voxel_nm}")
    n_bins = 512
    dep = np.zeros((n_bins, 2))
    half = mc._BULK_VOXEL_NM / 2
    det, esc, depth, r2, _se = mc._run_kernel(
        int(n_electrons), mc._base_seed(rng), float(energy_kev), model, float(emin_kev), cos_lo, cos_hi,
        np.ones((1, 1, 1), np.uint8), mc._BULK_VOXEL_NM, np.full((1, 1, 1), np.inf), half, half,
        dep, float(voxel_nm), *mc._tables([mat], cross_section),
    )
    # the SE estimate of a voxelised surface (escape averaged over each voxel), so that
    # a flat bulk imaged by `image_fast` gives the same as its deposit profile says
    n = float(n_electrons)
    kb = np.minimum((depth[esc] / voxel_nm).astype(int), n_bins - 1)
    nk = int(kb.max()) + 1 if kb.size else 1
    w = np.bincount(kb, minlength=nk).astype(float)
    s2 = np.bincount(kb, weights=r2[esc], minlength=nk)
    bse_sigma = np.sqrt(s2 / np.maximum(w, 1) / 2) / voxel_nm
    bse_weight = w / max(w.sum(), 1)
    # deposit bins holding 99.5 % of the energy
    tot = np.cumsum(dep[:, 0])
    nd = int(np.searchsorted(tot, 0.995 * tot[-1])) + 1
    dep_kev = dep[:nd, 0] / n
    dep_sigma = np.sqrt(dep[:nd, 1] / np.maximum(dep[:nd, 0], 1e-300) / 2) / voxel_nm
    g = _voxel_escape(np.arange(nd) + 0.5, voxel_nm, mat.se_escape_nm)
    kall = np.minimum((depth / voxel_nm).astype(int), n_bins - 1)
    reach = 1.0 - np.concatenate([[0.0], np.cumsum(np.bincount(kall, minlength=nk + 1))])[: nk + 1] / n
    return SignalKernel(
        material=mat.name, energy_kev=float(energy_kev), voxel_nm=float(voxel_nm),
        eta=float(esc.mean()), detected_fraction=float(det.mean()),
        se=float((dep_kev * g).sum()), se_escape_nm=mat.se_escape_nm,
        bse_weight=bse_weight, bse_sigma_vox=bse_sigma,
        deposit_kev=dep_kev, deposit_sigma_vox=dep_sigma,
        reach=reach, range_vox=kanaya_okayama_range_nm(mat, energy_kev) / voxel_nm,
    )


def _voxel_escape(d_vox, voxel_nm, lam_nm):
    """SE escape probability averaged over a voxel whose centre is d voxels from vacuum."""
    a = voxel_nm / lam_nm
    d = np.maximum(np.asarray(d_vox, float), 0.5)
    return (np.exp(-(d - 0.5) * a) - np.exp(-(d + 0.5) * a)) / a


def _erode6(m: np.ndarray) -> np.ndarray:
    """Binary erosion with the 6-neighbour cross, outside the array counting as set
    (by slicing: several times faster than ndimage on large volumes)."""
    out = m.copy()
    for ax in range(m.ndim):
        lo = [slice(None)] * m.ndim
        hi = [slice(None)] * m.ndim
        lo[ax] = slice(0, -1)
        hi[ax] = slice(1, None)
        out[tuple(lo)] &= m[tuple(hi)]
        out[tuple(hi)] &= m[tuple(lo)]
    return out


# Lateral spread of the cascade's BSE map, as a fraction of the rms lateral offset of the
# BSE deepest points: near 0, because whether an electron comes back is decided close to
# its entry column. Chosen against full Monte Carlo at 10 keV on a gold cylinder and on
# gold spheres in carbon (0.1: r = 0.98 there; 0.5: 0.79; 1: 0.69), then checked on a
# different, porous specimen (benchmarks/bench_montecarlo.py).
_LATERAL = 0.1


def _escape_weights(solid, volume, lam_of, voxel_nm):
    """SE escape weight of every voxel from its distance (in voxels, 6-connected steps)
    to the nearest vacuum, the space above the surface included. Distances are counted
    only as far as the weight matters (ten escape depths), which keeps this cheap."""
    reach = int(min(64, math.ceil(10 * lam_of[1:].max() / voxel_nm)))
    padded = np.concatenate([np.zeros((1,) + solid.shape[1:], bool), solid], 0)
    dist = np.full(padded.shape, reach + 1, np.int16)
    inside = padded.copy()
    dist[~padded] = 0
    for d in range(1, reach + 1):
        shell = inside & ~_erode6(inside)
        dist[shell] = d
        inside &= ~shell
        if not inside.any():
            break
    dist = dist[1:]
    table = np.zeros((lam_of.size, reach + 2))
    for m in range(1, lam_of.size):
        table[m, 1:] = _voxel_escape(np.arange(1, reach + 2) - 0.5, voxel_nm, lam_of[m])
        table[m, reach + 1] = 0.0
    return table[volume, dist]


def _groups(weight: np.ndarray, n_groups: int, first_alone: bool):
    """Split depth bins into <= n_groups runs of about equal weight: (start, stop) pairs."""
    k = weight.size
    start = 1 if first_alone and k > 1 else 0
    edges = [0, 1] if start else [0]
    rest = weight[start:]
    m = n_groups - start
    if m > 1 and rest.sum() > 0:
        c = np.cumsum(rest) / rest.sum()
        for q in np.linspace(0, 1, m + 1)[1:-1]:
            e = start + int(np.searchsorted(c, q)) + 1
            if edges[-1] < e < k:
                edges.append(e)
    edges.append(k)
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


@nb.njit(cache=True, parallel=True)
def _escape(solid, top, dirs, step):
    ny, nx = top.shape
    nz = solid.shape[0]
    out = np.ones((ny, nx))
    for p in nb.prange(ny * nx):
        iy = p // nx
        ix = p % nx
        h = top[iy, ix]
        if h <= 0:
            continue
        free = 0
        for d in range(dirs.shape[0]):
            # start in the pore just above the floor, at the column centre
            x = ix + 0.5
            y = iy + 0.5
            z = float(h) - 1e-3
            ok = True
            while z > 0.0:
                x += dirs[d, 0] * step
                y += dirs[d, 1] * step
                z -= dirs[d, 2] * step
                if z <= 0.0:
                    break
                jx = min(max(int(x), 0), nx - 1)
                jy = min(max(int(y), 0), ny - 1)
                jz = min(int(z), nz - 1)
                if solid[jz, jy, jx]:
                    ok = False
                    break
            if ok:
                free += 1
        out[iy, ix] = free / dirs.shape[0]
    return out


def _lambert_dirs(n: int) -> np.ndarray:
    """n unit vectors (x, y, up) spread over the upper hemisphere with cosine weight."""
    i = np.arange(n) + 0.5
    r = np.sqrt(i / n)  # cos-weighted: sin(theta) = sqrt(u)
    phi = i * math.pi * (3 - math.sqrt(5))  # golden-angle spiral
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1 - r * r)], 1)


def escape_fraction(solid: np.ndarray, top: np.ndarray, *, n_directions: int = 32) -> np.ndarray:
    """Fraction of cosine-distributed upward directions from each column's first solid
    voxel that reach the surface z = 0 through vacuum (1 where the column starts solid)."""
    return _escape(np.ascontiguousarray(solid), np.ascontiguousarray(top, dtype=np.int64),
                   _lambert_dirs(n_directions), 0.5)


def image_fast(
    volume: np.ndarray,
    materials: Sequence[Material | str],
    *,
    voxel_nm: float,
    energy_kev: float = 5.0,
    kernels: Sequence[SignalKernel] | None = None,
    n_groups: int = 4,
    n_directions: int = 32,
    kernel_electrons: int = 20000,
    cross_section: str = "browning",
    bse_model: str = "cascade",
) -> mc.MCImage:
    """Expected BSE and SE signal per pixel (no shot noise), one pixel per voxel column.

    Parameters
    ----------
    volume : (nz, ny, nx) integer array, 0 vacuum, i >= 1 ``materials[i - 1]``
    materials : sequence of Material, symbols or formulas
    voxel_nm, energy_kev : as for `montecarlo.image_montecarlo`
    kernels : precomputed `signal_kernel` per material (same energy and voxel size);
        computed here when None
    n_groups : depth bins are merged into this many Gaussian layers
    n_directions : upward directions traced from the floor of each pore
    bse_model : "cascade" (default): down each column, electrons reaching a depth are
        backscattered by the material there as in its own bulk at the same fraction of
        its range, and shadow what lies below; "linear": the materials' eta weighted by
        where the impact material's BSE went deepest
    """
    volume = np.asarray(volume)
    if bse_model not in ("cascade", "linear"):
        raise ValueError(f"bse_model must be cascade or linear, got {bse_model!r}")
    mats = [material(m) for m in materials]
    if volume.ndim != 3 or volume.min() < 0 or volume.max() > len(mats):
        raise ValueError(f"volume must be a 3-D integer array with values in [0, {len(mats)}]")
    t0 = time.perf_counter()
    if kernels is None:
        kernels = [signal_kernel(m, energy_kev=energy_kev, voxel_nm=voxel_nm, n_electrons=kernel_electrons,
                                 cross_section=cross_section) for m in mats]
    if len(kernels) != len(mats):
        raise ValueError(f"kernels: one per material ({len(mats)}), got {len(kernels)}")
    for k in kernels:
        if abs(k.voxel_nm - voxel_nm) > 1e-9 or abs(k.energy_kev - energy_kev) > 1e-9:
            raise ValueError(f"kernel of {k.material} is for {k.energy_kev} keV / {k.voxel_nm} nm voxels, "
                             f"not {energy_kev} keV / {voxel_nm} nm")
    nz, ny, nx = volume.shape
    solid = volume > 0
    top = np.where(solid.any(0), solid.argmax(0), nz - 1)
    f_esc = escape_fraction(solid, top, n_directions=n_directions)
    impact = np.take_along_axis(volume, top[None], 0)[0]
    # only the slices some kernel can reach matter
    depth_bins = max(max(k.bse_weight.size, k.deposit_kev.size) for k in kernels)
    zneed = int(min(nz, top.max() + depth_bins + 1))
    vol = volume[:zneed]
    eta_of = np.array([0.0] + [k.eta for k in kernels], np.float32)
    det_of = np.array([0.0] + [k.detected_fraction for k in kernels], np.float32)
    luts = np.stack([eta_of, (eta_of > 0).astype(np.float32), det_of])  # BSE, solid, detected
    lam_of = np.array([1.0] + [m.se_escape_nm for m in mats])
    g = _escape_weights(solid[:zneed], vol, lam_of, voxel_nm).astype(np.float32)

    def bse_slice(z):
        return luts[:, vol[z]]

    def bse_cols(z, iy, ix):
        return luts[:, vol[z, iy, ix]]

    def se_slice(z):
        return g[z][None]

    def se_cols(z, iy, ix):
        return g[z, iy, ix][None]

    bse = np.zeros((ny, nx))
    det = np.zeros((ny, nx))
    se = np.zeros((ny, nx))
    if bse_model == "cascade":
        casc_eta, casc_det = _cascade_tables_run(vol, top, kernels)
    for mi, k in enumerate(kernels, start=1):
        here = impact == mi
        if not here.any():
            continue
        if bse_model == "cascade":
            # lateral spread: a small share of the BSE's rms offset at their deepest point
            sig = _LATERAL * float(np.sqrt(np.average(k.bse_sigma_vox**2, weights=k.bse_weight + 1e-12)))
            both = _blur(np.stack([casc_eta, casc_det]), sig)
            bse[here] = both[0][here]
            det[here] = both[1][here]
        else:
            num = np.zeros((3, ny, nx))
            for a, b in _groups(k.bse_weight, n_groups, first_alone=False):
                w = k.bse_weight[a:b]
                if w.sum() <= 0:
                    continue
                sig = float(np.average(k.bse_sigma_vox[a:b], weights=w))
                num += _layer(bse_slice, bse_cols, zneed, top, a, w / w.sum(), sig, here) * w.sum()
            bse[here] = (num[0] / np.maximum(num[1], 1e-9))[here]
            det[here] = (num[2] / np.maximum(num[1], 1e-9))[here]
        sm = np.zeros((1, ny, nx))
        for a, b in _groups(k.deposit_kev, n_groups, first_alone=True):
            w = k.deposit_kev[a:b]
            sig = float(np.average(k.deposit_sigma_vox[a:b], weights=w + 1e-300))
            sm += _layer(se_slice, se_cols, zneed, top, a, w / w.sum(), sig, here) * w.sum()
        se[here] = sm[0][here]
    return mc.MCImage(bse=det * f_esc, bse_total=bse * f_esc, se=se * f_esc, electrons_per_pixel=0,
                      seconds=time.perf_counter() - t0)


def _cascade_tables_run(vol, top, kernels):
    nm = len(kernels) + 1
    kmax = max(k.reach.size for k in kernels) + 1
    rho = np.zeros((nm, kmax))  # BSE per electron reaching bin k, in the bulk
    surv = np.ones((nm, kmax))  # share of those reaching bin k that reach bin k + 1
    rng_vox = np.ones(nm)
    nb_ = np.zeros(nm, np.int64)
    dfrac = np.zeros(nm)
    for i, k in enumerate(kernels, start=1):
        g = np.concatenate([k.reach, [0.0]])
        b = k.eta * np.concatenate([k.bse_weight, np.zeros(g.size - k.bse_weight.size)])
        n = k.reach.size
        rho[i, :n] = np.where(g[:n] > 0, b[:n] / np.maximum(g[:n], 1e-300), 0.0)
        surv[i, :n] = np.where(g[:n] > 0, g[1 : n + 1] / np.maximum(g[:n], 1e-300), 0.0)
        surv[i, n:] = 0.0
        rng_vox[i] = k.range_vox
        nb_[i] = n
        dfrac[i] = k.detected_fraction / max(k.eta, 1e-12)
    return _cascade(np.ascontiguousarray(vol), np.ascontiguousarray(top, dtype=np.int64), rho, surv, rng_vox,
                    nb_, dfrac)


@nb.njit(cache=True, parallel=True)
def _cascade(vol, top, rho, surv, rng_vox, nbins, dfrac):
    """Down each column: eta = sum_k phi_k rho_m(k'), phi_{k+1} = phi_k surv_m(k'), where
    k' is the depth in material m at the same fraction of its range as consumed so far."""
    nz, ny, nx = vol.shape
    eta = np.zeros((ny, nx))
    det = np.zeros((ny, nx))
    for p in nb.prange(ny * nx):
        y = p // nx
        x = p % nx
        phi = 1.0
        u = 0.0  # fraction of the range consumed
        z = top[y, x]
        e = 0.0
        d = 0.0
        for _ in range(100000):
            m = vol[min(z, nz - 1), y, x]
            z += 1
            if m == 0:
                if z >= nz:
                    break
                continue
            kq = u * rng_vox[m]
            i = int(kq)
            if i >= nbins[m]:
                break
            f = kq - i
            r = rho[m, i] * (1 - f) + rho[m, i + 1] * f
            e += phi * r
            d += phi * r * dfrac[m]
            phi *= surv[m, i] * (1 - f) + surv[m, i + 1] * f
            u += 1.0 / rng_vox[m]
            if phi < 1e-6:
                break
        eta[y, x] = e
        det[y, x] = d
    return eta, det


def _blur(stack: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter of each (H, W) map in ``stack`` (c, H, W), edges extended; through
    the FFT for wide kernels (cost independent of sigma)."""
    if sigma <= 0.3:
        return stack
    if sigma <= 4.0:
        return ndi.gaussian_filter(stack, (0, sigma, sigma), mode="nearest", truncate=3.0)
    pad = int(math.ceil(3 * sigma))
    padded = np.pad(stack, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    f = ndi.fourier_gaussian(np.fft.rfft2(padded), (0, sigma, sigma), n=padded.shape[-1], axis=-1)
    out = np.fft.irfft2(f, s=padded.shape[-2:])
    return out[:, pad:-pad, pad:-pad]


def _layer(slice_fn, cols_fn, nz, top, a, ww, sigma, where):
    """``sum_j ww[j] * (G_sigma * maps[:, top + a + j])`` at each pixel of ``where``.

    ``slice_fn(z)`` gives the maps' slice z (c, ny, nx), ``cols_fn(z, iy, ix)`` values at
    points (c, n). Pixels whose beam meets matter at the surface get the laterally
    spread sum; pore floors (top > 0) the sum down their own column, without the lateral
    spread: their signal is dimmed by the pore walls anyway, and one filter per floor
    depth would cost more than the whole image.
    """
    out = None
    surf = where & (top == 0)
    if surf.any():
        # bins below the specimen all read its last slice: sum their weights first
        zs = np.minimum(a + np.arange(ww.size), nz - 1)
        wz = np.bincount(zs - zs[0], weights=ww)
        stack = None
        for j, wj in enumerate(wz):
            if wj == 0:
                continue
            sl = slice_fn(int(zs[0]) + j) * np.float32(wj)
            stack = sl if stack is None else stack + sl
        stack = _blur(stack, sigma)
        out = np.where(surf, stack, 0.0)
    iy, ix = np.nonzero(where & (top > 0))
    if iy.size:
        t = top[iy, ix]
        acc = 0.0
        for j, wj in enumerate(ww):
            acc = acc + wj * cols_fn(np.minimum(t + a + j, nz - 1), iy, ix)
        if out is None:
            out = np.zeros((acc.shape[0],) + top.shape)
        out[:, iy, ix] = acc
    return out if out is not None else 0.0
