"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, n):
    """Median wall time of ``fn(1)..fn(n)`` in ms, after one warm-up call ``fn(0)``
    (which compiles kernels and fills caches)."""
    fn(0)
    ts = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i + 1)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3
