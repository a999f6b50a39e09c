"""The adaptive-sampling experiment of Trampert et al., Crystals 2021, 11, 258 (section
3.3, Table 2), widened by the surrogate strategy: from one base model, fine-tune with
data of equal size proposed by each strategy, repeated over seeds 1..N, scored on the
synthetic validation set (IoU) and on real development sets (boundary F1 at 2 px);
mean +- std, confidence intervals of the mean and paired two-tailed t-tests against
``random``. Runs go through the shared repeated-run runner
(`synthscope.evaluation.experiment.run_repeated`): parallel, resumable.

For every run and strategy, the fine-tuning seed and the replayed random scenarios are
the same; only the proposed scenarios differ, so the pairing isolates the strategy.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import yaml

from synthscope.datasets.io import atomic_write_bytes, atomic_write_text, jsonable
from synthscope.evaluation.experiment import compare_runs, run_repeated, summarize_runs
from synthscope.params.space import check_ranges
from synthscope.recipes.base import get_recipe
from synthscope.sampling.adapt import (
    AdaptConfig,
    _read_jsonl,
    _write_jsonl,
    finetune,
    score_scenarios,
    validation_scenarios,
)
from synthscope.sampling.strategies import (
    STRATEGIES,
    effects_figure,
    effects_markdown,
    parameter_effects,
    propose,
)

__all__ = ["AdaptiveExperiment", "load_adaptive_experiment", "run_adaptive_experiment", "adaptive_report_markdown"]


@dataclass(frozen=True)
class AdaptiveExperiment:
    """Settings (YAML keys of the same names; ``protocol: adaptive``)."""

    base: str
    recipe: str = "grain_boundaries"
    strategies: tuple = STRATEGIES
    runs: int = 10
    budget: int = 300
    validation: int = 300
    size: int = 256
    steps: int = 100
    batch: int = 8
    lr: float = 3e-4
    replay: float = 0.5
    worst_fraction: float = 0.1
    scale: float = 0.1
    p_resample: float = 0.2
    kappa: float = 1.0
    real: tuple = ()
    workers: int = 1
    entropy: int = 0
    confidence: float = 0.99
    keep_models: bool = False
    parameters: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "real", tuple(str(r) for r in self.real))
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            raise ValueError(f"strategies must be a list of {', '.join(STRATEGIES)}, got {list(self.strategies)}")
        if "random" not in self.strategies:
            raise ValueError("strategies must include 'random' (the control every strategy is compared with)")
        checks = {"runs": (2, 10000), "workers": (1, 256), "confidence": (0.5, 0.9999)}
        check_ranges(self, checks)
        self.adapt_config("random", 1)  # validates the shared settings

    def adapt_config(self, strategy: str, run: int) -> AdaptConfig:
        return AdaptConfig(strategy=strategy, budget=self.budget, validation=self.validation, size=self.size,
                           steps=self.steps, batch=self.batch, lr=self.lr, replay=self.replay,
                           worst_fraction=self.worst_fraction, scale=self.scale, p_resample=self.p_resample,
                           kappa=self.kappa, validation_entropy=1_000_003 + self.entropy, entropy=self.entropy * 100003 + run,
                           threads=max(1, (os.cpu_count() or 1) // self.workers), loader_workers=0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["strategies"], d["real"] = list(self.strategies), list(self.real)
        return d


def load_adaptive_experiment(path: str | Path, data: dict | None = None) -> AdaptiveExperiment:
    """Read an adaptive experiment YAML (relative folders are taken from the file's folder
    when they exist there); unknown keys and bad values raise ValueError naming the file."""
    path = Path(path)
    if data is None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise ValueError(f"{path}: cannot read ({err.strerror})") from None
        except yaml.YAMLError:
            raise ValueError(f"{path}: malformed YAML") from None
    data = dict(data)
    data.pop("protocol", None)
    allowed = [f.name for f in fields(AdaptiveExperiment)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}; allowed: protocol, {', '.join(allowed)}")
    if "base" not in data:
        raise ValueError(f"{path}: missing key 'base' (the run folder of the model to fine-tune)")

    def resolve(p):
        p = Path(str(p))
        return str((path.parent / p).resolve()) if not p.is_absolute() and (path.parent / p).exists() else str(p)

    data["base"] = resolve(data["base"])
    real = data.get("real") or []
    data["real"] = [resolve(r) for r in ([real] if isinstance(real, str) else real)]
    try:
        return AdaptiveExperiment(**data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def _real_scores(model, folders) -> dict:
    from synthscope.datasets.real import RealFolder
    from synthscope.evaluation.evaluate import evaluate_folder
    from synthscope.learning.infer import predict_mask
    from synthscope.recipes import get_recipe

    try:  # colour micrographs as the model's recipe reads them (Recipe.grey)
        grey = get_recipe(model.synthscope_meta.get("recipe") or "").grey
    except ValueError:
        grey = "luminance"
    out = {}
    for f in folders:
        res = evaluate_folder(RealFolder(Path(f), require_masks=True, grey=grey), lambda img: predict_mask(model, img),
                              grain_stats=False, baselines=False)
        out[Path(f).name] = res.model["boundary_f1"]
    return out


def _adaptive_run(context: dict, key: str) -> dict:
    """One (strategy, run): propose from the base model's validation scores, fine-tune,
    score on the validation set and the real sets."""
    from synthscope.learning.train import load_model

    cfg: AdaptiveExperiment = context["cfg"]
    strategy, run = key.rsplit("-", 1)
    ac = cfg.adapt_config(strategy, int(run))
    recipe = get_recipe(cfg.recipe)
    space = recipe.space.with_overrides(cfg.parameters)
    history = list(zip(context["validation"], context["scores"], strict=True))
    from synthscope.params.space import stage_rng

    # the proposal stream differs per strategy; fine-tuning data otherwise identical
    rng = stage_rng(ac.entropy * 10 + STRATEGIES.index(strategy), 0, "propose")
    proposals = propose(space, history, ac.budget, strategy=strategy, rng=rng, worst_fraction=ac.worst_fraction,
                        scale=ac.scale, p_resample=ac.p_resample, kappa=ac.kappa)
    rdir = Path(context["out"]) / "models" / key
    if rdir.exists():
        shutil.rmtree(rdir)  # a run interrupted mid-training starts over
    finetune(cfg.base, rdir, recipe, space, proposals, ac)
    model = load_model(rdir)
    after = score_scenarios(model, recipe, context["validation"], entropy=ac.validation_entropy, size=ac.size)
    real = _real_scores(model, cfg.real)
    if not cfg.keep_models:
        shutil.rmtree(rdir, ignore_errors=True)
    k = max(1, int(round(ac.worst_fraction * len(after))))
    worst = np.argsort(np.asarray(context["scores"]), kind="stable")[:k]
    return {"strategy": strategy, "run": int(run), "validation_iou": float(after.mean()),
            "worst_validation_iou": float(after[worst].mean()), "real_f1": real}


def run_adaptive_experiment(cfg: AdaptiveExperiment, out: str | Path, *,
                            progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Run the experiment into ``out`` (resumable) and return the results."""
    from synthscope.learning.train import load_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def tick(stage, d, t):
        if progress:
            progress(stage, d, t)

    recipe = get_recipe(cfg.recipe)
    space = recipe.space.with_overrides(cfg.parameters)
    ac = cfg.adapt_config("random", 1)
    val = validation_scenarios(space, cfg.validation, ac.validation_entropy)
    vpath = out / "validation.jsonl"
    base_model = load_model(cfg.base)
    if vpath.exists():
        scores = np.asarray([r["score"] for r in _read_jsonl(vpath)])
    else:
        scores = score_scenarios(base_model, recipe, val, entropy=ac.validation_entropy, size=cfg.size,
                                 progress=lambda d, t: tick("validate the base model", d, t))
        _write_jsonl(vpath, [{"index": i, "scenario": s, "score": float(v)} for i, (s, v) in enumerate(zip(val, scores, strict=True))])
    bpath = out / "base.json"
    if bpath.exists():
        base = json.loads(bpath.read_text())
    else:
        k = max(1, int(round(cfg.worst_fraction * len(scores))))
        base = {"validation_iou": float(scores.mean()),
                "worst_validation_iou": float(np.sort(scores)[:k].mean()),
                "real_f1": _real_scores(base_model, cfg.real)}
        atomic_write_text(bpath, json.dumps(base, indent=1))
    effects = parameter_effects(space, list(zip(val, scores, strict=True)))
    atomic_write_bytes(out / "effects.png", effects_figure(space, list(zip(val, scores, strict=True)), effects))
    context = {"cfg": cfg, "validation": val, "scores": scores.tolist(), "out": str(out)}
    keys = [f"{s}-{r:03d}" for r in range(1, cfg.runs + 1) for s in cfg.strategies]
    per_run = run_repeated(_adaptive_run, context, keys, out, workers=cfg.workers,
                           progress=lambda d, t: tick("fine-tune and score (runs)", d, t))

    metrics = ["validation_iou", "worst_validation_iou"] + [f"real_f1:{Path(r).name}" for r in cfg.real]

    def values(strategy, metric):
        rows = [per_run[f"{strategy}-{r:03d}"] for r in range(1, cfg.runs + 1)]
        if metric.startswith("real_f1:"):
            return [row["real_f1"][metric.split(":", 1)[1]] for row in rows]
        return [row[metric] for row in rows]

    summary = {m: {s: summarize_runs(values(s, m), confidence=cfg.confidence) for s in cfg.strategies} for m in metrics}
    tests = {m: {f"{s}_vs_random": compare_runs(values(s, m), values("random", m))
                 for s in cfg.strategies if s != "random"} for m in metrics}
    if {"worst", "surrogate"} <= set(cfg.strategies):
        for m in metrics:
            tests[m]["surrogate_vs_worst"] = compare_runs(values("surrogate", m), values("worst", m))
    return {"config": cfg.to_dict(), "base": base, "metrics": metrics, "summary": summary, "tests": tests,
            "effects": effects, "per_run": per_run}


def adaptive_report_markdown(results: dict) -> str:
    cfg = results["config"]
    lines = ["# Adaptive sampling: fine-tuning with proposed against random data", "",
             f"Base model `{cfg['base']}`, recipe `{cfg['recipe']}`. {cfg['runs']} runs (seeds 1..{cfg['runs']}) per "
             f"strategy; each fine-tunes the base model for {cfg['steps']} steps of {cfg['batch']} samples "
             f"({cfg['size']} px) on {cfg['budget']} proposed scenarios mixed with "
             f"{cfg['replay']:.0%} random replay (the same replay and seed for every strategy of a run). "
             f"Synthetic validation: {cfg['validation']} samples, scored by boundary IoU; 'worst' = the base "
             f"model's worst {cfg['worst_fraction']:.0%} of them. Real sets: boundary F1 at 2 px. "
             f"Mean +- std over runs, [{cfg['confidence']:.0%} t-interval of the mean].", "",
             "| metric | base | " + " | ".join(cfg["strategies"]) + " |",
             "|---|---|" + "---|" * len(cfg["strategies"])]
    base = results["base"]
    for m in results["metrics"]:
        b = base["real_f1"].get(m.split(":", 1)[1]) if m.startswith("real_f1:") else base.get(m)
        cells = [f"{r['mean']:.4f} +- {r['std']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
                 for r in (results["summary"][m][s] for s in cfg["strategies"])]
        lines.append(f"| {m} | {b:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "Paired two-tailed t-tests (positive t: the first strategy scores higher):", "",
              "| metric | comparison | mean difference | t | p |", "|---|---|---|---|---|"]
    for m in results["metrics"]:
        for name, tt in results["tests"][m].items():
            lines.append(f"| {m} | {name.replace('_', ' ')} | {tt['mean_difference']:+.4f} | {tt['t']:.3f} | {tt['p']:.3g} |")
    lines += ["", "## Parameters that drive the base model's errors", "",
              effects_markdown(results["effects"], score_name="IoU"), "",
              "![validation IoU against the top parameters](effects.png)", ""]
    return "\n".join(lines)


def write_adaptive_results(results: dict, out: Path) -> None:
    atomic_write_text(out / "results.json", json.dumps(jsonable(results), indent=1))
    atomic_write_text(out / "report.md", adaptive_report_markdown(results))
