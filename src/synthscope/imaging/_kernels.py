"""Compiled per-pixel tail of the detector model: scan-line shift, illumination, tone
curve and noise in one pass instead of a dozen full-size temporaries."""

from __future__ import annotations

import math

import numba
import numpy as np

from synthscope._fastrng import normal, uniform


@numba.njit(cache=True, nogil=True)
def tone(sig, mu, inv_sd, off, field, field_gain, brightness, gain, lut, invert, out):
    """``out = tone((shift_rows(sig, off) - mu) * inv_sd + field_gain * field)``.

    Rows are shifted by ``off[i]`` px (linear interpolation, edge values repeated; ``off``
    empty: no shift); ``field`` empty: no illumination term. The tone curve is
    ``clip(brightness + gain * v, 0, 1) ** gamma``, inverted when asked; the power is
    read from ``lut`` (``gamma_lut``) by linear interpolation.
    """
    n = lut.shape[0] - 1
    h, w = sig.shape
    shift = off.shape[0] > 0
    illum = field.shape[0] > 0
    row = np.empty(w, np.float32)
    for i in range(h):
        if shift:
            # the shifted row: inside, a constant integer step k and fraction t
            o = off[i]
            k = int(math.floor(-o))
            t = np.float32(-o - k)
            for j in range(w):
                j0 = j + k
                if 0 <= j0 and j0 + 1 <= w - 1:
                    row[j] = sig[i, j0] * (1 - t) + sig[i, j0 + 1] * t
                else:
                    p = min(max(j - o, 0.0), w - 1.0)
                    a = int(math.floor(p))
                    b = min(a + 1, w - 1)
                    q = p - a
                    row[j] = sig[i, a] * (1.0 - q) + sig[i, b] * q
        else:
            row[:] = sig[i]
        for j in range(w):
            v = row[j]
            v = (v - mu) * inv_sd
            if illum:
                v += field_gain * field[i, j]
            v = brightness + gain * v
            v = min(max(v, 0.0), 1.0)
            q = v * n
            k = min(int(q), n - 1)
            v = lut[k] + (q - k) * (lut[k + 1] - lut[k])
            if invert:
                v = 1.0 - v
            out[i, j] = v


@numba.njit(cache=True, nogil=True)
def gaussian_counts(signal, dose, read_noise, key, out):
    """Shot noise in its normal limit plus read noise, from one normal draw per pixel:
    ``clip(s + sqrt(s / dose + read_noise**2) * z, 0, 1)``, z from the stream ``key``
    (``synthscope._fastrng``)."""
    inv = 1.0 / dose
    r2 = read_noise * read_noise
    h, w = signal.shape
    st = np.uint64(key)
    for i in range(h):
        for j in range(w):
            s = max(signal[i, j], 0.0)
            st, z = normal(st)
            v = s + math.sqrt(s * inv + r2) * z
            out[i, j] = min(max(v, 0.0), 1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def _slope(a, i, j):
    """|grad a| at (i, j) as numpy.gradient takes it: central differences inside,
    one-sided at the edges."""
    h, w = a.shape
    if h < 2 or w < 2:
        return 0.0
    if i == 0:
        gy = a[1, j] - a[0, j]
    elif i == h - 1:
        gy = a[h - 1, j] - a[h - 2, j]
    else:
        gy = 0.5 * (a[i + 1, j] - a[i - 1, j])
    if j == 0:
        gx = a[i, 1] - a[i, 0]
    elif j == w - 1:
        gx = a[i, w - 1] - a[i, w - 2]
    else:
        gx = 0.5 * (a[i, j + 1] - a[i, j - 1])
    return math.sqrt(gy * gy + gx * gx)


@numba.njit(cache=True, nogil=True)
def slope_sample(height, free, step):
    """Slopes above 1e-3 at every ``step``-th pixel each way, where ``free`` (empty: all)."""
    h, w = height.shape
    masked = free.shape[0] > 0
    out = np.empty(((h + step - 1) // step) * ((w + step - 1) // step), np.float32)
    n = 0
    for i in range(0, h, step):
        for j in range(0, w, step):
            if masked and not free[i, j]:
                continue
            s = _slope(height, i, j)
            if s > 1e-3:
                out[n] = s
                n += 1
    return out[:n]


@numba.njit(cache=True, nogil=True)
def signal_map(tint, height, topo, edge_gain, slope_cap, free, out):
    """``out = tint + topo * height + edge_gain * min(|grad height|, slope_cap)`` (height
    empty: tint alone), returning the count, mean and variance of ``out`` where ``free``
    (empty: everywhere); sums are taken about ``tint[0, 0]``, so a flat map has exactly
    zero variance."""
    h, w = tint.shape
    has_h = height.shape[0] > 0
    masked = free.shape[0] > 0
    c = tint[0, 0]
    n = 0
    s = 0.0
    s2 = 0.0
    for i in range(h):
        for j in range(w):
            v = tint[i, j]
            if has_h:
                v += topo * height[i, j]
                if edge_gain != 0.0:
                    v += edge_gain * min(_slope(height, i, j), slope_cap)
            out[i, j] = v
            if not masked or free[i, j]:
                n += 1
                d = v - c
                s += d
                s2 += d * d
    if n == 0:
        return 0, 0.0, 0.0
    m = s / n
    return n, c + m, max(s2 / n - m * m, 0.0)



#: means below this are drawn from tables (``poisson_tables``), larger ones as sums of
#: draws of means below it
POISSON_TABLE_MAX = 64
#: table rows per unit of mean: a draw of mean lam is one of the tabulated mean
#: floor(lam * R) / R plus one of the remainder (< 1 / R), which is 0 for all but about
#: lam's share of the remainder's draws
POISSON_ROWS_PER_UNIT = 8
#: buckets of the guide table: the search for a count starts where the uniform's bucket
#: says, about one step from the answer
POISSON_GUIDE_BUCKETS = 256


def poisson_tables() -> tuple[np.ndarray, np.ndarray]:
    """Cumulative Poisson distributions of means ``j / POISSON_ROWS_PER_UNIT`` below
    POISSON_TABLE_MAX, one row each, over counts 0 .. 199 (the tail beyond is below
    1e-30), the last column 1; and their guide table (Chen & Asau 1974): ``guide[j, b]``,
    the least count k with ``F_j(k) > b / POISSON_GUIDE_BUCKETS``."""
    from scipy.stats import poisson

    means = np.arange(POISSON_TABLE_MAX * POISSON_ROWS_PER_UNIT) / POISSON_ROWS_PER_UNIT
    cdf = poisson.cdf(np.arange(200)[None, :], means[:, None])
    cdf[:, -1] = 1.0
    b = np.arange(POISSON_GUIDE_BUCKETS) / POISSON_GUIDE_BUCKETS
    guide = np.stack([np.searchsorted(row, b, side="right") for row in cdf]).astype(np.int32)
    return cdf, guide


@numba.njit(cache=True, nogil=True)
def _poisson_image(src, gain, inv_gain, read_noise, clamp, key, cdf, guide, out):
    """``v = Poisson(gain * max(src, 0)) * inv_gain (+ read_noise * z)``, clipped to
    [0, 1] when ``clamp``, element by element (1-D float32 views) from the stream ``key``.

    A mean below POISSON_TABLE_MAX is one tabulated mean ``m / R`` (``m = floor(lam R)``),
    drawn by inversion of its table row (``cdf``, with the guide table ``guide``), plus a
    remainder below ``1 / R``, drawn by sequential inversion (the sum of independent
    Poisson variables is Poisson with the summed mean). One uniform serves both: where it
    falls inside the step of F it inverted is again uniform, and independent of the
    count. A larger mean is the sum of ``ceil(lam / (T - 1))`` such draws of equal means
    (exact); past 1e6 counts, where that would take over 15 000 draws, its normal limit
    rounded (skewness < 1e-3).

    The draw is written out in this loop rather than called: as a function returning
    (state, count) it ran twice as slow (25 against 12 ns a pixel on 512 x 512)."""
    st = np.uint64(key)
    nb = guide.shape[1]
    for i in range(src.shape[0]):
        lam = gain * max(float(src[i]), 0.0)
        n = 0.0
        if lam > 1e6:
            st, z = normal(st)
            n = max(math.floor(lam + math.sqrt(lam) * z + 0.5), 0.0)
        elif lam > 0.0:
            parts = 1 if lam < POISSON_TABLE_MAX else int(math.ceil(lam / (POISSON_TABLE_MAX - 1)))
            part = lam if parts == 1 else lam / parts
            for _ in range(parts):
                m = int(part * POISSON_ROWS_PER_UNIT)
                st, u = uniform(st)
                if m > 0:
                    # the least k with u < F(k), searched up from where u's bucket of the
                    # guide table starts (every count below it has F(k) <= u)
                    k = guide[m, int(u * nb)]
                    while u >= cdf[m, k]:
                        k += 1
                    n += k
                    lo = cdf[m, k - 1] if k > 0 else 0.0
                    step = cdf[m, k] - lo
                    if step > 1e-9:
                        u = (u - lo) / step
                    else:
                        st, u = uniform(st)  # a fresh draw in the far tail
                d = part - m / POISSON_ROWS_PER_UNIT
                # the remainder's count is 0 with probability exp(-d): settled without the
                # exponential when u lies below its lower bound 1 - d + d^2/2 - d^3/6 (all
                # but about d of the draws)
                if d > 0.0 and u >= 1.0 - d * (1.0 - d * (0.5 - d / 6.0)):
                    p = math.exp(-d)
                    f = p
                    k = 0
                    while u >= f and k < 40:
                        k += 1
                        p *= d / k
                        f += p
                    n += k
        v = n * inv_gain
        if read_noise > 0:
            st, z = normal(st)
            v += read_noise * z
        out[i] = min(max(v, 0.0), 1.0) if clamp else v


def _flat(out: np.ndarray) -> np.ndarray:
    if not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous array")
    return out.reshape(-1)


def poisson_fill(key, lam, tables, out):
    """``out = Poisson(lam)`` element by element (float32), from the stream ``key``;
    ``tables``: ``poisson_tables()``."""
    cdf, guide = tables
    _poisson_image(np.ascontiguousarray(lam).reshape(-1), 1.0, 1.0, 0.0, False, key, cdf, guide, _flat(out))


def poisson_counts(signal, dose, read_noise, key, tables, out):
    """Shot noise by exact Poisson counts plus Gaussian read noise:
    ``clip(Poisson(dose * max(s, 0)) / dose + read_noise * z, 0, 1)`` (``out`` may be
    ``signal``)."""
    cdf, guide = tables
    _poisson_image(np.ascontiguousarray(signal).reshape(-1), float(dose), 1.0 / dose, float(read_noise), True, key,
                   cdf, guide, _flat(out))


def gamma_lut(gamma: float, n: int = 4096) -> np.ndarray:
    """``x ** gamma`` at ``n + 1`` points on [0, 1]. Interpolated, it is off by < 1e-6
    for gamma >= 1 and by at most 1.3e-3 (next to 0, where the curve is steepest) for
    gamma 0.6, the recipes' lowest."""
    return (np.linspace(0.0, 1.0, n + 1) ** float(gamma)).astype(np.float32)


def empty_f32() -> np.ndarray:
    return np.zeros((0,) * 2, np.float32)
