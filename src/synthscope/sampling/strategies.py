"""Adaptive sampling of a parameter space: propose new scenarios from a history of
(scenario, score) pairs, where a higher score is better (e.g. boundary IoU).

- ``random``: fresh draws from the space (the control);
- ``worst``: the method of Trampert et al., Crystals 2021, 11, 258 (section 3.3): take
  the worst ``worst_fraction`` of the history and perturb each of them (numbers within
  +-``scale`` of their sampled range, categories redrawn with ``p_resample``), cycling
  over them until ``n`` scenarios are made (1000 from the worst 100 of 1000: 10 each);
- ``surrogate``: a random-forest regression of score over the parameter space; new
  scenarios minimise the lower confidence bound ``mean - kappa * std`` (low or
  uncertain predicted score) over a candidate pool, picked greedily with a penalty
  near those already picked so that they spread over the weak region instead of
  collapsing onto one point.

Scenarios are compared in the space's *probability coordinates*: each parameter's
value mapped through the cumulative distribution it is sampled from, so the random
design is uniform on the unit cube and distances weigh every parameter alike.
`parameter_effects` reports which parameters drive the errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthscope.params.space import ParameterSpace

__all__ = ["STRATEGIES", "Encoder", "propose", "fit_surrogate", "parameter_effects", "effects_markdown", "effects_figure"]

STRATEGIES = ("random", "worst", "surrogate")
_GRID = 4096


@dataclass(frozen=True)
class Encoder:
    """Scenario -> point in the unit cube (probability coordinates of the space's
    distributions), for the parameters that vary in the space."""

    space: ParameterSpace
    names: tuple
    tables: tuple  # per name: ("num", values, u) or ("cat", {option: u})

    @classmethod
    def of(cls, space: ParameterSpace) -> Encoder:
        u = (np.arange(_GRID) + 0.5) / _GRID
        names, tables = [], []
        for p in space.parameters:
            vals = [p.dist.ppf(float(x)) for x in u]
            if p.options is not None or not p.dist.is_numeric:
                keys = list(dict.fromkeys(vals))
                if len(keys) < 2:
                    continue
                table = ("cat", {k: float(np.mean([ui for ui, v in zip(u, vals, strict=True) if v == k])) for k in keys})
            else:
                v = np.asarray([float(p.cast(x)) for x in vals])
                xs, inv = np.unique(v, return_inverse=True)
                if len(xs) < 2:
                    continue
                us = np.bincount(inv, weights=u) / np.bincount(inv)
                table = ("num", xs, us)
            names.append(p.name)
            tables.append(table)
        return cls(space, tuple(names), tuple(tables))

    @property
    def dim(self) -> int:
        return len(self.names)

    def transform(self, scenarios: Sequence[Mapping]) -> np.ndarray:
        out = np.empty((len(scenarios), self.dim), np.float64)
        for j, (name, table) in enumerate(zip(self.names, self.tables, strict=True)):
            col = [s[name] for s in scenarios]
            if table[0] == "cat":
                out[:, j] = [table[1].get(v, 0.5) for v in col]
            else:
                out[:, j] = np.interp(np.asarray(col, float), table[1], table[2])
        return out


def _history(history) -> tuple[list[dict], np.ndarray]:
    scen = [dict(h[0]) for h in history]
    scores = np.asarray([float(h[1]) for h in history], float)
    if len(scen) == 0:
        raise ValueError("the history is empty: score some samples first")
    if not np.all(np.isfinite(scores)):
        raise ValueError("the history holds non-finite scores")
    return scen, scores


def _worst(space, scen, scores, n, rng, *, worst_fraction, scale, p_resample) -> list[dict]:
    k = max(1, int(round(worst_fraction * len(scen))))
    order = np.argsort(scores, kind="stable")[:k]
    return [space.perturb(scen[order[j % k]], scale, p_resample=p_resample, rng=rng) for j in range(n)]


def fit_surrogate(encoder: Encoder, scenarios: Sequence[Mapping], scores, *, seed: int = 0, trees: int = 200):
    """A random forest of score over probability coordinates (scikit-learn)."""
    from sklearn.ensemble import RandomForestRegressor

    x = encoder.transform(scenarios)
    model = RandomForestRegressor(n_estimators=trees, min_samples_leaf=3, max_features=0.5,
                                  random_state=seed, n_jobs=1)
    model.fit(x, np.asarray(scores, float))
    return model


def _forest_mean_std(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    per_tree = np.stack([t.predict(x) for t in model.estimators_])
    return per_tree.mean(0), per_tree.std(0)


def _surrogate(space, scen, scores, n, rng, *, kappa, worst_fraction, scale, p_resample, pool) -> list[dict]:
    enc = Encoder.of(space)
    model = fit_surrogate(enc, scen, scores, seed=int(rng.integers(2**31)))
    m = max(pool, 20 * n)
    # candidates: half fresh draws over the whole space, half near the worst seen
    cands = space.sample(m - m // 2, rng=rng) + _worst(space, scen, scores, m // 2, rng, worst_fraction=worst_fraction,
                                                       scale=scale, p_resample=p_resample)
    x = enc.transform(cands)
    mu, sd = _forest_mean_std(model, x)
    acq = mu - kappa * sd
    spread = float(np.ptp(acq)) or 1.0
    # local penalisation: each pick raises the acquisition of its neighbours by up to
    # half the acquisition's range, within a radius of a typical perturbation step
    radius = max(0.5 * scale * math.sqrt(max(enc.dim, 1)), 1e-6)
    penalty = np.zeros(len(cands))
    chosen = []
    for _ in range(n):
        j = int(np.argmin(acq + penalty))
        chosen.append(j)
        d2 = ((x - x[j]) ** 2).sum(1)
        penalty += 0.5 * spread * np.exp(-d2 / (2 * radius**2))
        penalty[j] = np.inf
    return [cands[j] for j in chosen]


def propose(space: ParameterSpace, history, n: int, *, strategy: str = "worst", rng=None,
            worst_fraction: float = 0.1, scale: float = 0.1, p_resample: float = 0.2,
            kappa: float = 1.0, pool: int = 4000) -> list[dict]:
    """Propose ``n`` new scenarios of ``space``.

    Parameters
    ----------
    space : ParameterSpace the scenarios come from (and stay in)
    history : sequence of (scenario dict, score) pairs, higher score = better
    n : number of scenarios
    strategy : 'random', 'worst' or 'surrogate'
    rng : np.random.Generator, int or None
    worst_fraction : share of the history taken as the worst (``worst``; ``surrogate``'s
        local candidates)
    scale, p_resample : perturbation of numbers (share of their range) and probability of
        redrawing a categorical value
    kappa : exploration weight of the lower confidence bound (``surrogate``)
    pool : least number of candidates the surrogate scores

    Returns
    -------
    list of ``n`` validated scenario dicts.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 < worst_fraction <= 1:
        raise ValueError(f"worst_fraction must be in (0, 1], got {worst_fraction}")
    rng = np.random.default_rng(rng)
    if strategy == "random":
        out = space.sample(n, rng=rng)
    else:
        scen, scores = _history(history)
        scen = [space.validate_scenario(s) for s in scen]
        if strategy == "worst":
            out = _worst(space, scen, scores, n, rng, worst_fraction=worst_fraction, scale=scale,
                         p_resample=p_resample)
        else:
            out = _surrogate(space, scen, scores, n, rng, kappa=kappa, worst_fraction=worst_fraction,
                             scale=scale, p_resample=p_resample, pool=pool)
    return [space.validate_scenario(s) for s in out]


def parameter_effects(space: ParameterSpace, history, *, bins: int = 5, seed: int = 0) -> list[dict]:
    """Which parameters drive the score: per varying parameter, the permutation
    importance of a random-forest surrogate (drop of its R^2 when the parameter is
    shuffled), the Spearman correlation of value and score, and the value range (one of
    ``bins`` quantile bins, or a category) where the mean score is lowest. Sorted by
    importance, largest first."""
    from scipy.stats import spearmanr
    from sklearn.inspection import permutation_importance

    scen, scores = _history(history)
    enc = Encoder.of(space)
    x = enc.transform(scen)
    model = fit_surrogate(enc, scen, scores, seed=seed)
    imp = permutation_importance(model, x, scores, n_repeats=5, random_state=seed)
    overall = float(scores.mean())
    rows = []
    for j, name in enumerate(enc.names):
        col = [s[name] for s in scen]
        if enc.tables[j][0] == "cat":
            groups = {}
            for v, sc in zip(col, scores, strict=True):
                groups.setdefault(v, []).append(sc)
            worst_key = min(groups, key=lambda k: np.mean(groups[k]))
            where, mean_there, count = f"{worst_key}", float(np.mean(groups[worst_key])), len(groups[worst_key])
        else:
            edges = np.unique(np.quantile(x[:, j], np.linspace(0, 1, bins + 1)))
            idx = np.clip(np.searchsorted(edges, x[:, j], side="right") - 1, 0, max(len(edges) - 2, 0))
            means = [(scores[idx == b].mean(), b) for b in range(max(len(edges) - 1, 1)) if np.any(idx == b)]
            m, b = min(means)
            vals = np.asarray(col, float)[idx == b]
            where, mean_there, count = f"{vals.min():.4g} .. {vals.max():.4g}", float(m), int((idx == b).sum())
        rho = spearmanr(x[:, j], scores).statistic if np.ptp(x[:, j]) > 0 else float("nan")
        rows.append({"parameter": name, "importance": float(imp.importances_mean[j]),
                     "importance_std": float(imp.importances_std[j]),
                     "spearman": float(rho), "worst_range": where, "mean_score_there": mean_there,
                     "samples_there": count, "mean_score": overall})
    rows.sort(key=lambda r: -r["importance"])
    return rows


def effects_markdown(rows: list[dict], *, top: int = 10, score_name: str = "score") -> str:
    lines = ["| parameter | importance | Spearman | worst range | mean " + score_name + " there | overall |",
             "|---|---|---|---|---|---|"]
    for r in rows[:top]:
        lines.append(f"| {r['parameter']} | {r['importance']:.3f} +- {r['importance_std']:.3f} | {r['spearman']:+.2f} | "
                     f"{r['worst_range']} ({r['samples_there']}) | {r['mean_score_there']:.3f} | {r['mean_score']:.3f} |")
    return "\n".join(lines)


def effects_figure(space: ParameterSpace, history, rows: list[dict], *, top: int = 6, panel: int = 220) -> bytes:
    """PNG: for the ``top`` parameters of `parameter_effects`, score against the
    parameter's probability coordinate (one dot per sample), with the mean per bin."""
    import io

    from PIL import Image, ImageDraw

    scen, scores = _history(history)
    enc = Encoder.of(space)
    x = enc.transform(scen)
    names = [r["parameter"] for r in rows[:top]]
    lo, hi = float(min(scores.min(), 0.0)), float(max(scores.max(), 1e-9))
    pad, cols = 28, 3
    nrows = max(1, math.ceil(len(names) / cols))
    im = Image.new("RGB", (cols * panel, nrows * panel), "white")
    dr = ImageDraw.Draw(im)
    for k, name in enumerate(names):
        ox, oy = (k % cols) * panel, (k // cols) * panel
        w = h = panel - 2 * pad
        dr.rectangle([ox + pad, oy + pad, ox + pad + w, oy + pad + h], outline=(120, 120, 120))
        col = x[:, enc.names.index(name)]
        for xi, yi in zip(col, scores, strict=True):
            px, py = ox + pad + xi * w, oy + pad + h - (yi - lo) / (hi - lo) * h
            dr.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=(90, 140, 220))
        edges = np.linspace(0, 1, 9)
        pts = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            sel = (col >= a) & (col <= b)
            if sel.sum() >= 3:
                pts.append((ox + pad + (a + b) / 2 * w, oy + pad + h - (scores[sel].mean() - lo) / (hi - lo) * h))
        if len(pts) > 1:
            dr.line(pts, fill=(220, 50, 30), width=3)
        r = rows[k]
        dr.text((ox + pad, oy + 6), f"{name} (imp. {r['importance']:.2f})", fill=(0, 0, 0))
        dr.text((ox + pad, oy + pad + h + 4), "low  <- sampled range ->  high", fill=(90, 90, 90))
        dr.text((ox + 4, oy + pad - 4), f"{hi:.2g}", fill=(90, 90, 90))
        dr.text((ox + 4, oy + pad + h - 8), f"{lo:.2g}", fill=(90, 90, 90))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
