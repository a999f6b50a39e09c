"""Statistics of repeated runs: error rates with Agresti-Coull intervals, mean +- std,
and the paired two-tailed t-test (the protocol of Trampert et al., Crystals 2021, 11,
258, Tables 1 and 2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["agresti_coull", "paired_ttest", "ErrorRate", "error_rate"]


def agresti_coull(errors: int, n: int, *, confidence: float = 0.99) -> tuple[float, float]:
    """Agresti-Coull interval of a binomial proportion ``errors / n``.

    ``n~ = n + z^2``, ``p~ = (errors + z^2 / 2) / n~``, interval ``p~ +- z sqrt(p~ (1 - p~) / n~)``
    clipped to [0, 1] (Agresti & Coull, Am. Stat. 52, 1998).
    """
    if n <= 0 or not 0 <= errors <= n:
        raise ValueError(f"need 0 <= errors <= n and n > 0, got errors={errors}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = float(_st.norm.ppf(0.5 + confidence / 2))
    nt = n + z * z
    pt = (errors + z * z / 2) / nt
    half = z * math.sqrt(pt * (1 - pt) / nt)
    return max(0.0, pt - half), min(1.0, pt + half)


def paired_ttest(a, b) -> tuple[float, float]:
    """Paired two-tailed t-test of ``a`` against ``b`` (same runs): (t, p). With no
    variance in the differences, t is 0 (p = 1) for equal means, else +-inf (p = 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two equal-length series of >= 2 runs, got {a.shape} and {b.shape}")
    d = a - b
    if np.all(d == d[0]):
        if d[0] == 0:
            return 0.0, 1.0
        return math.copysign(math.inf, d[0]), 0.0
    res = _st.ttest_rel(a, b)
    return float(res.statistic), float(res.pvalue)


@dataclass(frozen=True)
class ErrorRate:
    """Error rates of repeated runs on one tile set: mean and std over runs, and the
    Agresti-Coull interval of the pooled error count (all runs' decisions)."""

    mean: float
    std: float
    low: float
    high: float
    runs: int
    n: int
    confidence: float

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "ci_low": self.low, "ci_high": self.high,
                "runs": self.runs, "tiles": self.n, "confidence": self.confidence}


def error_rate(errors_per_run, n: int, *, confidence: float = 0.99) -> ErrorRate:
    """Summarise per-run error counts on ``n`` tiles each."""
    e = np.asarray(errors_per_run, float)
    if e.ndim != 1 or len(e) == 0:
        raise ValueError("need one error count per run")
    rates = e / n
    lo, hi = agresti_coull(int(e.sum()), int(n * len(e)), confidence=confidence)
    return ErrorRate(mean=float(rates.mean()), std=float(rates.std(ddof=1)) if len(e) > 1 else 0.0,
                     low=lo, high=hi, runs=len(e), n=int(n), confidence=confidence)
