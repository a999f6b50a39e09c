"""Monte Carlo electron transport in a voxelised specimen (single-scattering model).

Elastic scattering: the empirical Mott fit of Browning et al. (J. Appl. Phys. 76 (1994)
2016; default) or the screened Rutherford cross-section (Joy, "Monte Carlo Modeling for
Electron Microscopy and Microanalysis", OUP 1995, ch. 3). Energy loss: continuous
slowing down with the Bethe stopping power as modified by Joy and Luo (Scanning 11
(1989) 176). Step lengths from the elastic mean free path, counted in mean free paths
so that a step crossing into another material is finished with that material's path.
Signals: backscattered electrons (leaving the surface with > 50 eV, within the
detector's polar acceptance) with the depth of each one's deepest point, and a
secondary-electron estimate: energy deposited along the path weighted by the escape
probability ``exp(-depth / lambda_SE)`` (Salow's model of SE emission).

The kernel is numba-compiled; every electron draws from its own counter-seeded
splitmix64 stream, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from synthscope.imaging.materials import Material, material

__all__ = [
    "BulkResult",
    "MCImage",
    "electrons_per_pixel",
    "image_montecarlo",
    "probe_sigma_nm",
    "simulate_bulk",
]

CROSS_SECTIONS = ("browning", "rutherford")
_AVOGADRO = 6.02214076e23
# Bulk specimens are one voxel this large: no voxel boundary is ever reached but z = 0.
_BULK_VOXEL_NM = 1.0e9
_MAX_SEGMENTS = 2_000_000  # guard against an electron lost in a vacuum column


# ---------------------------------------------------------------------------- physics


def elastic_cross_section_cm2(z, energy_kev, cross_section: str = "browning"):
    """Total elastic cross-section of one atom, cm^2 (numpy; scalars or arrays)."""
    z = np.asarray(z, float)
    e = np.asarray(energy_kev, float)
    if cross_section == "browning":
        z17 = z**1.7
        re = np.sqrt(e)
        return 3.0e-18 * z17 / (e + 0.005 * z17 * re + 0.0007 * z * z / re)
    alpha = 3.4e-3 * z**0.67 / e
    rel = (e + 511.0) / (e + 1024.0)
    return 5.21e-21 * z * z / (e * e) * 4.0 * np.pi / (alpha * (1.0 + alpha)) * rel * rel


def stopping_power_kev_nm(mat: Material, energy_kev):
    """Joy-Luo modified Bethe stopping power -dE/ds, keV/nm (numpy).

    ``78500 rho / E * sum_i w_i Z_i / A_i ln(1.166 (E + k_i J_i) / J_i)`` keV/cm with
    ``J = 9.76 Z + 58.5 Z^-0.19`` eV and ``k = 0.731 + 0.0688 log10 Z``.
    """
    e = np.asarray(energy_kev, float)
    s = np.zeros_like(e)
    for z, a, w in zip(mat.z, mat.a, mat.weight_fractions, strict=True):
        j = (9.76 * z + 58.5 * z**-0.19) * 1e-3
        k = 0.731 + 0.0688 * math.log10(z)
        s = s + w * z / a * np.log(1.166 * (e + k * j) / j)
    return 78500.0e-7 * mat.density_g_cm3 / e * s


def atoms_per_cm3(mat: Material) -> np.ndarray:
    return np.array([_AVOGADRO * mat.density_g_cm3 * w / a for a, w in zip(mat.a, mat.weight_fractions, strict=True)])


# The kernel reads mean free path, stopping power and the choice of scattering element
# from tables on a log-energy grid (linear interpolation, < 1e-4 relative error).
_NE = 4096
_E_LO, _E_HI = 0.005, 32.0
_LOG_E_LO = math.log(_E_LO)
_DLOG_E = (math.log(_E_HI) - _LOG_E_LO) / (_NE - 1)


def _tables(materials: Sequence[Material], cross_section: str = "browning"):
    """Per-material tables for the kernel; row 0 is vacuum."""
    m = len(materials) + 1
    k = max(len(mt.z) for mt in materials)
    grid_e = np.exp(_LOG_E_LO + _DLOG_E * np.arange(_NE))
    lam = np.full((m, _NE), np.inf)  # nm
    stop = np.zeros((m, _NE))  # keV / nm
    cum = np.ones((m, _NE, k))  # cumulative probability of the scattering element
    zz = np.ones((m, k))
    nel = np.zeros(m, np.int64)
    se_lam = np.ones(m)
    for i, mt in enumerate(materials, start=1):
        part = atoms_per_cm3(mt)[None, :] * elastic_cross_section_cm2(
            np.asarray(mt.z)[None, :], grid_e[:, None], cross_section)
        sig = part.sum(1)
        lam[i] = 1e7 / sig
        stop[i] = stopping_power_kev_nm(mt, grid_e)
        cum[i, :, : len(mt.z)] = np.cumsum(part, 1) / sig[:, None]
        zz[i, : len(mt.z)] = mt.z
        nel[i] = len(mt.z)
        se_lam[i] = mt.se_escape_nm
    return nel, zz, lam, stop, cum, se_lam


@nb.njit(cache=True, inline="always")
def _interp(tab, m, f):
    """Table value at fractional grid index ``f = (ln E - ln E_lo) / dlnE``."""
    if f <= 0.0:
        return tab[m, 0]
    i = int(f)
    if i >= _NE - 1:
        return tab[m, _NE - 1]
    f -= i
    return tab[m, i] * (1.0 - f) + tab[m, i + 1] * f


@nb.njit(cache=True, inline="always")
def _cos_theta(z, e_kev, model, r1, r2):
    """Cosine of the polar scattering angle for uniform deviates r1, r2."""
    if model == 0:  # Browning et al.: screened Rutherford or isotropic
        r = 300.0 * e_kev / z + z * z * z / (3.0e5 * e_kev)
        if r1 <= r / (1.0 + r):
            alpha = 7.0e-3 / e_kev
            return 1.0 - 2.0 * alpha * r2 / (1.0 + alpha - r2)
        return 1.0 - 2.0 * r2
    alpha = 3.4e-3 * z**0.67 / e_kev
    return 1.0 - 2.0 * alpha * r2 / (1.0 + alpha - r2)


# ---------------------------------------------------------------------------- random


_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@nb.njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always")
def _uniform(st):
    """splitmix64 step; a double in (0, 1)."""
    st[0] = st[0] + _GAMMA
    return (float(_mix(st[0]) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def _seed_electron(st, base, index):
    st[0] = _mix(base ^ _mix(np.uint64(index) * _GAMMA + _GAMMA))


# ---------------------------------------------------------------------------- transport


@nb.njit(cache=True)
def _track(
    st, x, y, e0, grid, vox, dmap, model, emin, cos_lo, cos_hi, dep, dep_bin,
    nel, zz, lam_t, stop_t, cum_t, se_lam,
):
    """Follow one electron entering at (x, y, 0) along +z.

    ``dep`` (n, 2), when n > 0, collects the energy deposit per depth bin of ``dep_bin`` nm:
    sum of keV and sum of keV * r^2 (r from the entry point), for `signal_kernel`.
    Returns (detected, escaped, exit_energy_kev, max_depth_nm, se_signal_kev,
    x_nm, y_nm of the deepest point).
    """
    x0 = x
    y0 = y
    xd = x
    yd = y
    ndep = dep.shape[0]
    nz, ny, nx = grid.shape
    bulk = nz == 1 and ny == 1 and nx == 1
    z = 0.0
    u = 0.0
    v = 0.0
    w = 1.0
    e = e0
    tau = -math.log(_uniform(st))
    maxz = 0.0
    se = 0.0
    eps = 1e-6 if bulk else 1e-7 * vox + 1e-9  # the nudge across a face, nm
    for _ in range(_MAX_SEGMENTS):
        if z < 0.0:  # above the specimen: vacuum down to the plane z = 0
            if w <= 0.0:
                det = e > 0.05 and cos_lo <= -w <= cos_hi
                return det, True, e, maxz, se, xd, yd
            t = -z / w + eps
            x += u * t
            y += v * t
            z += w * t
            continue
        if bulk:  # one material below z = 0: the surface is the only face
            ix = 0
            iy = 0
            kz = 0
            tface = z / -w if w < 0.0 else 1e300
        else:
            fx = math.floor(x / vox)
            fy = math.floor(y / vox)
            fz = math.floor(z / vox)
            ix = min(max(int(fx), 0), nx - 1)
            iy = min(max(int(fy), 0), ny - 1)
            kz = min(int(fz), nz - 1)
            # distance to the next voxel face along the direction
            tx = 1e300
            ty = 1e300
            tz = 1e300
            if u > 0.0:
                tx = ((fx + 1.0) * vox - x) / u
            elif u < 0.0:
                tx = (x - fx * vox) / -u
            if v > 0.0:
                ty = ((fy + 1.0) * vox - y) / v
            elif v < 0.0:
                ty = (y - fy * vox) / -v
            if w > 0.0:
                tz = ((fz + 1.0) * vox - z) / w
            elif w < 0.0:
                tz = (z - fz * vox) / -w
            tface = min(tx, ty, tz)
        m = grid[kz, iy, ix]
        if m == 0:  # a pore: fly straight to the next voxel
            if kz >= nz - 1 and w > 0.0:
                return False, False, e, maxz, se, xd, yd  # through the bottom of an open column
            t = tface + eps
            x += u * t
            y += v * t
            z += w * t
            continue
        fe = (math.log(e) - _LOG_E_LO) / _DLOG_E
        lam = _interp(lam_t, m, fe)
        s = tau * lam
        collide = s <= tface
        if not collide:
            s = tface + eps
            tau -= s / lam
        de = _interp(stop_t, m, fe) * s
        if de > e:
            de = e
        # SE escape weight, integrated along the segment for the top surface,
        # the voxel's distance to the nearest pore for inner surfaces
        lse = se_lam[m]
        z1 = z + w * s
        if z < 30.0 * lse or z1 < 30.0 * lse:
            dz = z1 - z
            if abs(dz) > 1e-6 * lse:
                f = lse / dz * (math.exp(-max(z, 0.0) / lse) - math.exp(-max(z1, 0.0) / lse))
            else:
                f = math.exp(-z / lse)
        else:
            f = 0.0
        dm = dmap[kz, iy, ix]
        if dm < 30.0 * lse:
            f = max(f, math.exp(-dm / lse))
        se += de * f
        if ndep > 0:
            kb = int(0.5 * (z + z1) / dep_bin)
            if kb < ndep:
                rx = x + 0.5 * u * s - x0
                ry = y + 0.5 * v * s - y0
                dep[kb, 0] += de
                dep[kb, 1] += de * (rx * rx + ry * ry)
        x += u * s
        y += v * s
        z = z1
        if z > maxz:
            maxz = z
            xd = x
            yd = y
        e -= de
        if e <= emin:
            return False, False, 0.0, maxz, se, xd, yd
        if collide:
            # pick the scattering element in proportion to n_i sigma_i
            jsel = 0
            if nel[m] > 1:
                pick = _uniform(st)
                fe = (math.log(e) - _LOG_E_LO) / _DLOG_E
                ie = min(max(int(fe + 0.5), 0), _NE - 1)
                jsel = nel[m] - 1
                for j in range(nel[m] - 1):
                    if pick <= cum_t[m, ie, j]:
                        jsel = j
                        break
            ct = _cos_theta(zz[m, jsel], e, model, _uniform(st), _uniform(st))
            ct = min(max(ct, -1.0), 1.0)
            stt = math.sqrt(1.0 - ct * ct)
            phi = 2.0 * math.pi * _uniform(st)
            cp = math.cos(phi)
            sp = math.sin(phi)
            if abs(w) > 0.99999:
                u = stt * cp
                v = stt * sp
                w = ct if w > 0.0 else -ct
            else:
                tmp = math.sqrt(1.0 - w * w)
                un = u * ct + stt * (u * w * cp - v * sp) / tmp
                vn = v * ct + stt * (v * w * cp + u * sp) / tmp
                w = w * ct - tmp * stt * cp
                u = un
                v = vn
            tau = -math.log(_uniform(st))
    return False, False, e, maxz, se, xd, yd


@nb.njit(cache=True, parallel=True)
def _run_bulk(
    n, base, e0, model, emin, cos_lo, cos_hi, grid, vox, dmap, x0, y0,
    nel, zz, lam_t, stop_t, cum_t, se_lam,
):
    det = np.zeros(n, np.bool_)
    esc = np.zeros(n, np.bool_)
    eout = np.zeros(n)
    depth = np.zeros(n)
    se = np.zeros(n)
    nchunk = 256
    nodep = np.zeros((0, 2))
    for c in nb.prange((n + nchunk - 1) // nchunk):
        st = np.empty(1, np.uint64)
        for i in range(c * nchunk, min(n, (c + 1) * nchunk)):
            _seed_electron(st, base, i)
            r = _track(st, x0, y0, e0, grid, vox, dmap, model, emin, cos_lo, cos_hi, nodep, 1.0,
                       nel, zz, lam_t, stop_t, cum_t, se_lam)
            det[i] = r[0]
            esc[i] = r[1]
            eout[i] = r[2]
            depth[i] = r[3]
            se[i] = r[4]
    return det, esc, eout, depth, se


@nb.njit(cache=True)
def _run_kernel(
    n, base, e0, model, emin, cos_lo, cos_hi, grid, vox, dmap, x0, y0, dep, dep_bin,
    nel, zz, lam_t, stop_t, cum_t, se_lam,
):
    """Serial bulk run that also collects the deposit profile and BSE deepest points."""
    esc = np.zeros(n, np.bool_)
    det = np.zeros(n, np.bool_)
    depth = np.zeros(n)
    r2 = np.zeros(n)
    se = np.zeros(n)
    st = np.empty(1, np.uint64)
    for i in range(n):
        _seed_electron(st, base, i)
        r = _track(st, x0, y0, e0, grid, vox, dmap, model, emin, cos_lo, cos_hi, dep, dep_bin,
                   nel, zz, lam_t, stop_t, cum_t, se_lam)
        det[i] = r[0]
        esc[i] = r[1]
        depth[i] = r[3]
        se[i] = r[4]
        r2[i] = (r[5] - x0) ** 2 + (r[6] - y0) ** 2
    return det, esc, depth, r2, se


@nb.njit(cache=True, parallel=True)
def _run_image(
    ny, nx, step, n_per_px, probe_sigma, base, e0, model, emin, cos_lo, cos_hi,
    grid, vox, dmap, nel, zz, lam_t, stop_t, cum_t, se_lam,
):
    bse = np.zeros(ny * nx)
    bse_all = np.zeros(ny * nx)
    se = np.zeros(ny * nx)
    nodep = np.zeros((0, 2))
    for p in nb.prange(ny * nx):
        st = np.empty(1, np.uint64)
        cy = (p // nx + 0.5) * step
        cx = (p % nx + 0.5) * step
        for j in range(n_per_px):
            _seed_electron(st, base, p * n_per_px + j)
            x = cx
            y = cy
            if probe_sigma > 0.0:  # Box-Muller: a Gaussian probe
                r = probe_sigma * math.sqrt(-2.0 * math.log(_uniform(st)))
                a = 2.0 * math.pi * _uniform(st)
                x += r * math.cos(a)
                y += r * math.sin(a)
            res = _track(st, x, y, e0, grid, vox, dmap, model, emin, cos_lo, cos_hi, nodep, 1.0,
                         nel, zz, lam_t, stop_t, cum_t, se_lam)
            if res[0]:
                bse[p] += 1.0
            if res[1]:
                bse_all[p] += 1.0
            se[p] += res[4]
    return bse, bse_all, se


# ---------------------------------------------------------------------------- public


def _check(energy_kev, cross_section, detector_theta_deg, emin_kev):
    if not 0.5 <= energy_kev <= 30.0:
        raise ValueError(f"beam energy_kev must be in [0.5, 30], got {energy_kev}")
    if cross_section not in CROSS_SECTIONS:
        raise ValueError(f"cross_section must be one of {', '.join(CROSS_SECTIONS)}, got {cross_section!r}")
    lo, hi = detector_theta_deg
    if not 0.0 <= lo < hi <= 90.0:
        raise ValueError(f"detector_theta_deg must be (low, high) with 0 <= low < high <= 90, got {detector_theta_deg}")
    if not 0.0 < emin_kev < energy_kev:
        raise ValueError(f"emin_kev must be in (0, beam energy), got {emin_kev}")
    # polar angle from the surface normal -> bounds on cos
    return CROSS_SECTIONS.index(cross_section), math.cos(math.radians(hi)), math.cos(math.radians(lo))


def _base_seed(rng) -> np.uint64:
    return np.random.default_rng(rng).integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)


@dataclass(frozen=True)
class BulkResult:
    """Electrons into a flat, homogeneous half-space at normal incidence.

    Attributes
    ----------
    material : str
    energy_kev : float
    n_electrons : int
    backscatter_coefficient : float, fraction leaving the surface with > 50 eV
    detected_fraction : float, fraction of the electrons the detector collects
    bse_depths_nm : (n_bse,) float array, deepest point of each backscattered electron
    bse_energies_kev : (n_bse,) float array, exit energies
    penetration_depths_nm : (n_electrons,) float array, deepest point of every electron
    se_signal_kev : float, mean escape-weighted energy deposit per electron (SE estimate)
    seconds : float, wall time of the transport
    """

    material: str
    energy_kev: float
    n_electrons: int
    backscatter_coefficient: float
    detected_fraction: float
    bse_depths_nm: np.ndarray
    bse_energies_kev: np.ndarray
    penetration_depths_nm: np.ndarray
    se_signal_kev: float
    seconds: float

    @property
    def mean_bse_depth_nm(self) -> float:
        return float(self.bse_depths_nm.mean()) if self.bse_depths_nm.size else 0.0

    @property
    def max_penetration_depth_nm(self) -> float:
        """Deepest point reached by any electron."""
        return float(self.penetration_depths_nm.max())

    @property
    def electrons_per_second(self) -> float:
        return self.n_electrons / max(self.seconds, 1e-9)

    def summary(self) -> dict:
        """One flat JSON-able dict (what ``synthscope simulate bse`` prints)."""
        return {
            "material": self.material,
            "beam_energy_kev": self.energy_kev,
            "electrons": self.n_electrons,
            "backscatter_coefficient": round(self.backscatter_coefficient, 5),
            "detected_fraction": round(self.detected_fraction, 5),
            "mean_bse_depth_nm": round(self.mean_bse_depth_nm, 2),
            "max_penetration_depth_nm": round(self.max_penetration_depth_nm, 2),
            "penetration_depth_p95_nm": round(float(np.percentile(self.penetration_depths_nm, 95)), 2),
            "mean_bse_energy_kev": round(float(self.bse_energies_kev.mean()), 4) if self.bse_energies_kev.size else 0.0,
            "se_signal_kev": round(self.se_signal_kev, 5),
            "electrons_per_second": round(self.electrons_per_second, 1),
        }


def simulate_bulk(
    mat: Material | str,
    *,
    energy_kev: float = 20.0,
    n_electrons: int = 10000,
    cross_section: str = "browning",
    detector_theta_deg: tuple[float, float] = (0.0, 90.0),
    emin_kev: float = 0.05,
    rng: np.random.Generator | int | None = None,
) -> BulkResult:
    """Backscattering, penetration and SE estimate for a flat bulk specimen.

    Parameters
    ----------
    mat : Material, element symbol, or formula (then build it with `material`)
    energy_kev : float in [0.5, 30]
    n_electrons : int >= 1
    cross_section : "browning" (empirical Mott fit) or "rutherford" (screened)
    detector_theta_deg : (low, high) polar acceptance from the surface normal, degrees
    emin_kev : float, energy at which an electron is counted as absorbed
    rng : generator or seed; the same seed gives the same result on any thread count
    """
    mat = material(mat)
    model, cos_lo, cos_hi = _check(energy_kev, cross_section, detector_theta_deg, emin_kev)
    if not n_electrons >= 1:
        raise ValueError(f"n_electrons must be >= 1, got {n_electrons}")
    tabs = _tables([mat], cross_section)
    grid = np.ones((1, 1, 1), np.uint8)
    dmap = np.full((1, 1, 1), np.inf)
    half = _BULK_VOXEL_NM / 2
    args = (float(energy_kev), model, float(emin_kev), cos_lo, cos_hi, grid, _BULK_VOXEL_NM, dmap, half, half, *tabs)
    _run_bulk(1, np.uint64(0), *args)  # start the thread pool outside the timing
    t0 = time.perf_counter()
    det, esc, eout, depth, se = _run_bulk(int(n_electrons), _base_seed(rng), *args)
    seconds = time.perf_counter() - t0
    return BulkResult(
        material=mat.name,
        energy_kev=float(energy_kev),
        n_electrons=int(n_electrons),
        backscatter_coefficient=float(esc.mean()),
        detected_fraction=float(det.mean()),
        bse_depths_nm=depth[esc],
        bse_energies_kev=eout[esc],
        penetration_depths_nm=depth,
        se_signal_kev=float(se.mean()),
        seconds=seconds,
    )


@dataclass(frozen=True)
class MCImage:
    """Signals of a scanned voxel specimen, per pixel and per incident electron.

    Attributes
    ----------
    bse : (ny, nx) float64, detected backscattered electrons per incident electron
    bse_total : (ny, nx) float64, all backscattered electrons per incident electron
    se : (ny, nx) float64, SE estimate (escape-weighted energy deposit, keV per electron)
    electrons_per_pixel : int
    seconds : float
    """

    bse: np.ndarray
    bse_total: np.ndarray
    se: np.ndarray
    electrons_per_pixel: int
    seconds: float


def _pore_depth_nm(grid: np.ndarray, voxel_nm: float) -> np.ndarray:
    """Distance of every voxel to the nearest inner vacuum voxel, nm (inf without pores)."""
    pores = grid == 0
    if not pores.any():
        return np.full(grid.shape, np.inf)
    d = ndi.distance_transform_edt(~pores) * voxel_nm
    return np.maximum(d - 0.5 * voxel_nm, 0.0)


def image_montecarlo(
    volume: np.ndarray,
    materials: Sequence[Material | str],
    *,
    voxel_nm: float,
    energy_kev: float = 5.0,
    electrons_per_pixel: int = 100,
    probe_sigma_nm: float = 0.0,
    pixel_step_nm: float | None = None,
    cross_section: str = "browning",
    detector_theta_deg: tuple[float, float] = (0.0, 90.0),
    emin_kev: float = 0.05,
    rng: np.random.Generator | int | None = None,
) -> MCImage:
    """Scan a beam over a voxel specimen and count what comes back.

    Parameters
    ----------
    volume : (nz, ny, nx) integer array
        Material index per voxel: 0 vacuum (pores), i >= 1 is ``materials[i - 1]``.
        z = 0 is the surface the beam enters; below the last slice the bottom layer
        continues, and the side columns continue outward.
    materials : sequence of Material, symbols or formulas
    voxel_nm : float > 0
    energy_kev : float in [0.5, 30]
    electrons_per_pixel : int >= 1
    probe_sigma_nm : float >= 0, Gaussian probe sigma (see `probe_sigma_nm`)
    pixel_step_nm : float, optional; defaults to ``voxel_nm`` (one pixel per column)
    cross_section, detector_theta_deg, emin_kev, rng : as in `simulate_bulk`

    Returns
    -------
    MCImage with maps of shape ``(round(ny * voxel_nm / step), round(nx * voxel_nm / step))``
    """
    volume = np.asarray(volume)
    if volume.ndim != 3 or not np.issubdtype(volume.dtype, np.integer):
        raise ValueError(f"volume must be a 3-D integer array (nz, ny, nx), got {volume.dtype} {volume.shape}")
    mats = [material(m) for m in materials]
    if not 1 <= len(mats) <= 255:
        raise ValueError(f"materials must name 1 to 255 materials, got {len(mats)}")
    if volume.min() < 0 or volume.max() > len(mats):
        raise ValueError(f"volume values must be in [0, {len(mats)}] (0 vacuum, i materials[i-1]), "
                         f"got [{volume.min()}, {volume.max()}]")
    if not voxel_nm > 0:
        raise ValueError(f"voxel_nm must be > 0, got {voxel_nm}")
    if not electrons_per_pixel >= 1:
        raise ValueError(f"electrons_per_pixel must be >= 1, got {electrons_per_pixel}")
    if not probe_sigma_nm >= 0:
        raise ValueError(f"probe_sigma_nm must be >= 0, got {probe_sigma_nm}")
    model, cos_lo, cos_hi = _check(energy_kev, cross_section, detector_theta_deg, emin_kev)
    step = float(pixel_step_nm or voxel_nm)
    nz, ny, nx = volume.shape
    oy, ox = max(1, round(ny * voxel_nm / step)), max(1, round(nx * voxel_nm / step))
    grid = np.ascontiguousarray(volume, dtype=np.uint8)
    t0 = time.perf_counter()
    bse, bse_all, se = _run_image(
        oy, ox, step, int(electrons_per_pixel), float(probe_sigma_nm), _base_seed(rng),
        float(energy_kev), model, float(emin_kev), cos_lo, cos_hi, grid, float(voxel_nm),
        _pore_depth_nm(grid, voxel_nm), *_tables(mats, cross_section),
    )
    n = float(electrons_per_pixel)
    return MCImage(
        bse=(bse / n).reshape(oy, ox),
        bse_total=(bse_all / n).reshape(oy, ox),
        se=(se / n).reshape(oy, ox),
        electrons_per_pixel=int(electrons_per_pixel),
        seconds=time.perf_counter() - t0,
    )


# ---------------------------------------------------------------------------- beam


_E_CHARGE = 1.602176634e-19


def electrons_per_pixel(probe_current_pa: float, dwell_time_us: float) -> float:
    """Dose from the beam settings: ``I t / e`` (100 pA for 1 us is 624 electrons)."""
    if not probe_current_pa > 0 or not dwell_time_us > 0:
        raise ValueError(f"probe_current_pa and dwell_time_us must be > 0, got {probe_current_pa}, {dwell_time_us}")
    return probe_current_pa * 1e-12 * dwell_time_us * 1e-6 / _E_CHARGE


def probe_sigma_nm(
    *,
    energy_kev: float,
    working_distance_mm: float = 5.0,
    aperture_diameter_um: float = 30.0,
    source_size_nm: float = 1.0,
    energy_spread_ev: float = 0.7,
) -> float:
    """Gaussian probe sigma from column settings, nm.

    The probe diameter is the quadrature sum of the demagnified source, diffraction
    ``0.61 lambda / alpha``, spherical aberration ``0.5 Cs alpha^3`` and chromatic
    aberration ``Cc alpha dE / E`` (Goldstein et al., "Scanning Electron Microscopy and
    X-Ray Microanalysis", 3rd ed., 2003, sec. 2.3), with the convergence semi-angle
    ``alpha = aperture radius / working distance`` and, for a pinhole objective lens,
    Cs and Cc both of the order of the working distance. FWHM-like diameter / 2.355.
    """
    if not 0.1 <= energy_kev <= 30:
        raise ValueError(f"energy_kev must be in [0.1, 30], got {energy_kev}")
    if not working_distance_mm > 0 or not aperture_diameter_um > 0:
        raise ValueError("working_distance_mm and aperture_diameter_um must be > 0")
    e_v = energy_kev * 1e3
    lam_nm = 1.226 / math.sqrt(e_v * (1 + 0.978e-6 * e_v))
    wd_nm = working_distance_mm * 1e6
    alpha = aperture_diameter_um * 0.5e3 / wd_nm
    d_diff = 0.61 * lam_nm / alpha
    d_sph = 0.5 * wd_nm * alpha**3
    d_chr = wd_nm * alpha * energy_spread_ev / e_v
    d = math.sqrt(source_size_nm**2 + d_diff**2 + d_sph**2 + d_chr**2)
    return d / 2.355
