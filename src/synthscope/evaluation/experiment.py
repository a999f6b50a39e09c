"""The repeated-run runner shared by every experiment protocol (crack classification,
adaptive sampling): runs keyed by name, each run's result a JSON file written
atomically under ``out/runs/``, finished runs read back instead of redone (an
interrupted experiment resumes), runs spread over worker processes, and the summary
statistics of repeated runs (mean +- std, confidence interval of the mean, paired
two-tailed t-test)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from scipy import stats as _st

from synthscope.datasets.io import atomic_write_text
from synthscope.evaluation.stats import paired_ttest

__all__ = ["run_repeated", "summarize_runs", "compare_runs"]

_WORKER: dict = {}


def _init_worker(fn, context, threads):
    _WORKER["fn"], _WORKER["context"] = fn, context
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is optional for non-learning runs
        pass


def _call(key):
    return key, _WORKER["fn"](_WORKER["context"], key)


def _file(out: Path, key: str) -> Path:
    return out / "runs" / f"{key}.json"


def run_repeated(fn: Callable[[object, str], dict], context, keys: Sequence[str], out: str | Path, *,
                 workers: int = 1, progress: Callable[[int, int], None] | None = None) -> dict[str, dict]:
    """Run ``fn(context, key)`` for every key not yet finished in ``out``.

    Parameters
    ----------
    fn : module-level function (picklable) returning a JSON-able dict
    context : what every run shares (picklable: sent once to each worker)
    keys : run names, e.g. ``"worst-003"`` (file names: letters, digits, '-', '_')
    out : experiment folder; results go to ``out/runs/<key>.json``
    workers : processes; 1 runs in this process. Torch in each worker gets
        ``cpu_count // workers`` threads.
    progress : callable(done, total)

    Returns
    -------
    dict key -> result, for every key (read back or computed).
    """
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    results = {}
    for k in keys:
        if not k.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"run key {k!r}: use letters, digits, '-' and '_' only")
        f = _file(out, k)
        if f.exists():
            results[k] = json.loads(f.read_text())
    todo = [k for k in keys if k not in results]
    total, done = len(keys), len(results)
    if progress:
        progress(done, total)

    def finish(key, res):
        nonlocal done
        atomic_write_text(_file(out, key), json.dumps(res, indent=1))
        results[key] = res
        done += 1
        if progress:
            progress(done, total)

    if workers <= 1 or len(todo) <= 1:
        for k in todo:
            finish(k, fn(context, k))
    else:
        import multiprocessing as mp

        workers = min(workers, len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers)
        # spawn, not fork: a forked child of a process that ran torch's thread pools can hang
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                 initargs=(fn, context, threads)) as pool:
            futures = [pool.submit(_call, k) for k in todo]
            for fut in as_completed(futures):
                finish(*fut.result())
    return {k: results[k] for k in keys}


def summarize_runs(values, *, confidence: float = 0.99) -> dict:
    """Mean, std (ddof 1) and the Student-t confidence interval of the mean of one
    metric over runs (NaNs dropped)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(float(x))], float)
    n = len(v)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                "runs": 0, "confidence": confidence}
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half, "runs": n,
            "confidence": confidence}


def compare_runs(a, b) -> dict:
    """Paired two-tailed t-test of two strategies' values over the same runs:
    t, p and the mean difference a - b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    t, p = paired_ttest(a[ok], b[ok])
    return {"t": t, "p": p, "mean_difference": float((a[ok] - b[ok]).mean()), "runs": int(ok.sum())}
