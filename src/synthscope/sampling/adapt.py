"""The adaptive loop: score a trained model on a synthetic validation set, propose new
scenarios with a strategy, render them on the fly, fine-tune, score again.

One round writes into its folder: ``validation.jsonl`` (index, scenario, score of the
model it started from), ``proposals.jsonl`` (the proposed scenarios), ``effects.json``
and ``effects.md`` (which parameters drive the errors), the fine-tuned run
(``model.pt``, ``config.json``, ``metrics.jsonl``), ``validation_after.jsonl`` and
``summary.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from synthscope.datasets.io import atomic_write_bytes, atomic_write_text, jsonable
from synthscope.evaluation.metrics import iou
from synthscope.params.space import ParameterSpace, check_ranges, stage_rng
from synthscope.recipes.base import Recipe
from synthscope.sampling.strategies import (
    STRATEGIES,
    effects_figure,
    effects_markdown,
    parameter_effects,
    propose,
)

__all__ = ["AdaptConfig", "score_scenarios", "validation_scenarios", "finetune", "adapt_round", "adapt"]


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of one adaptive round.

    strategy : 'random', 'worst' or 'surrogate'
    budget : scenarios proposed (the new training data)
    validation : synthetic validation samples scored to find the weak spots (paper: 1000)
    size : side of rendered validation and training samples, px
    steps, batch, lr : fine-tuning
    replay : share of fresh random scenarios mixed into fine-tuning (guards what the
        model already does well); the same for every strategy
    worst_fraction, scale, p_resample, kappa : see `sampling.propose`
    validation_entropy : entropy of the validation set (kept apart from training data)
    entropy : fine-tuning data and proposal randomness
    """

    strategy: str = "worst"
    budget: int = 1000
    validation: int = 1000
    size: int = 256
    steps: int = 300
    batch: int = 8
    lr: float = 3e-4
    replay: float = 0.5
    worst_fraction: float = 0.1
    scale: float = 0.1
    p_resample: float = 0.2
    kappa: float = 1.0
    validation_entropy: int = 1_000_003
    entropy: int = 1
    threads: int | None = None
    loader_workers: int = 1

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        checks = {"budget": (1, 10**7), "validation": (10, 10**7), "size": (32, 4096), "steps": (1, 10**8),
                  "batch": (1, 4096), "replay": (0.0, 0.95), "worst_fraction": (1e-4, 1.0), "scale": (0.0, 1.0),
                  "p_resample": (0.0, 1.0), "kappa": (0.0, 100.0)}
        check_ranges(self, checks)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def _write_jsonl(path: Path, rows) -> None:
    atomic_write_text(path, "".join(json.dumps(jsonable(r)) + "\n" for r in rows))


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def validation_scenarios(space: ParameterSpace, n: int, entropy: int) -> list[dict]:
    """The validation set's scenarios: sample ``i`` of (space, entropy), as in a dataset."""
    return [space.sample_one(entropy, i) for i in range(n)]


def _sample_score(pred: np.ndarray, mask: np.ndarray, classes: int) -> float:
    vals = [iou(pred, mask, c) for c in range(1, classes)]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else 1.0  # nothing to find and nothing found


def score_scenarios(model, recipe: Recipe, scenarios: Sequence[dict], *, entropy: int, size: int = 256,
                    batch: int = 16, predictor: Callable | None = None,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Render scenario ``i`` as sample ``i`` of ``entropy`` at ``size`` px and score the
    model's class map against its mask: IoU of the foreground class (mean over
    foreground classes when there are several; 1 when truth and prediction are both
    empty). ``predictor(images (N, H, W)) -> class maps`` replaces the model (tests)."""
    import torch

    from synthscope.learning.infer import decide_classes
    from synthscope.learning.models import normalize_image

    n_classes = len(recipe.classes)
    weights = None
    if model is not None:
        weights = getattr(model, "synthscope_meta", {}).get("class_weights")
        dev = next(model.parameters()).device
        model.eval()
    scores = np.empty(len(scenarios))
    for start in range(0, len(scenarios), batch):
        idx = range(start, min(start + batch, len(scenarios)))
        samples = [recipe.render(scenarios[i], shape=(size, size), entropy=entropy, index=i) for i in idx]
        images = np.stack([s.image for s in samples])
        if predictor is not None:
            preds = predictor(images)
        else:
            x = torch.from_numpy(np.stack([normalize_image(im) for im in images]))[:, None].to(dev)
            with torch.no_grad():
                p = torch.softmax(model(x).float(), 1).cpu().numpy()
            preds = [decide_classes(pi, weights) for pi in p]
        for i, s, pr in zip(idx, samples, preds, strict=True):
            scores[i] = _sample_score(np.asarray(pr), s.mask, n_classes)
        if progress:
            progress(idx[-1] + 1, len(scenarios))
    return scores


def finetune(base: str | Path, out: str | Path, recipe: Recipe, space: ParameterSpace, scenarios: list[dict],
             cfg: AdaptConfig, *, progress: Callable[[dict], None] | None = None) -> dict:
    """Fine-tune the model of run ``base`` on ``scenarios`` (cycled; each pass renders new
    realisations) mixed with ``cfg.replay`` fresh random scenarios of ``space``."""
    from synthscope.learning.train import Stage, TrainConfig, load_model, train

    meta = load_model(base).synthscope_meta
    base_cfg = json.loads((Path(base) / "config.json").read_text())["train"] if (Path(base) / "config.json").exists() else {}
    n_replay = int(round(len(scenarios) * cfg.replay / (1 - cfg.replay)))
    # the replay scenarios depend on the entropy only: equal for every strategy of a run
    replay = space.sample(n_replay, rng=stage_rng(cfg.entropy, 0, "replay")) if n_replay else []
    mixed = list(scenarios) + replay
    order = stage_rng(cfg.entropy, 0, "order").permutation(len(mixed))
    mixed = [mixed[i] for i in order]
    tc = TrainConfig(arch=meta["arch"], model_kwargs=base_cfg.get("model_kwargs", {"width": 16}),
                     out_channels=len(meta["classes"]), classes=tuple(meta["classes"]),
                     class_weights=tuple(meta["class_weights"]) if meta.get("class_weights") else None,
                     stages=(Stage(cfg.size, cfg.batch, 1.0),), max_minutes=None, max_steps=cfg.steps, lr=cfg.lr,
                     entropy=cfg.entropy, threads=cfg.threads, loader_workers=cfg.loader_workers,
                     checkpoint_every_s=1e9)
    return train(out, tc, recipe=recipe, space=space, scenarios=mixed, init=base, progress=progress)


def adapt_round(base: str | Path, out: str | Path, recipe: Recipe, space: ParameterSpace, cfg: AdaptConfig, *,
                progress: Callable[[str, int, int], None] | None = None) -> dict:
    """One round: validate ``base``, propose ``cfg.budget`` scenarios, fine-tune into
    ``out``, validate again. Steps already done in ``out`` are read back, not redone."""
    from synthscope.learning.train import load_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def tick(stage, d, t):
        if progress:
            progress(stage, d, t)

    val = validation_scenarios(space, cfg.validation, cfg.validation_entropy)
    vpath = out / "validation.jsonl"
    if vpath.exists():
        before = np.asarray([r["score"] for r in _read_jsonl(vpath)])
    else:
        before = score_scenarios(load_model(base), recipe, val, entropy=cfg.validation_entropy, size=cfg.size,
                                 progress=lambda d, t: tick("validate", d, t))
        _write_jsonl(vpath, [{"index": i, "scenario": s, "score": float(v)} for i, (s, v) in enumerate(zip(val, before, strict=True))])
    history = list(zip(val, before, strict=True))
    effects = parameter_effects(space, history)
    atomic_write_text(out / "effects.json", json.dumps(jsonable(effects), indent=1))
    atomic_write_text(out / "effects.md", "# What the model gets wrong\n\nValidation IoU against each parameter "
                      "(random-forest permutation importance; the value range with the lowest mean IoU).\n\n"
                      + effects_markdown(effects, score_name="IoU") + "\n\n![IoU against the top parameters](effects.png)\n")
    atomic_write_bytes(out / "effects.png", effects_figure(space, history, effects))
    ppath = out / "proposals.jsonl"
    if ppath.exists():
        proposals = [r["scenario"] for r in _read_jsonl(ppath)]
    else:
        proposals = propose(space, history, cfg.budget, strategy=cfg.strategy, rng=stage_rng(cfg.entropy, 0, "propose"),
                            worst_fraction=cfg.worst_fraction, scale=cfg.scale, p_resample=cfg.p_resample,
                            kappa=cfg.kappa)
        _write_jsonl(ppath, [{"index": i, "scenario": s} for i, s in enumerate(proposals)])
    if not (out / "model.pt").exists():
        finetune(base, out, recipe, space, proposals, cfg,
                 progress=lambda r: tick("fine-tune", int(r["progress"] * cfg.steps), cfg.steps))
    apath = out / "validation_after.jsonl"
    if apath.exists():
        after = np.asarray([r["score"] for r in _read_jsonl(apath)])
    else:
        after = score_scenarios(load_model(out), recipe, val, entropy=cfg.validation_entropy, size=cfg.size,
                                progress=lambda d, t: tick("validate again", d, t))
        _write_jsonl(apath, [{"index": i, "score": float(v)} for i, v in enumerate(after)])
    k = max(1, int(round(cfg.worst_fraction * len(before))))
    worst = np.argsort(before, kind="stable")[:k]
    summary = {"base": str(base), "config": asdict(cfg), "recipe": recipe.name,
               "validation_iou_before": float(before.mean()), "validation_iou_after": float(after.mean()),
               "worst_iou_before": float(before[worst].mean()), "worst_iou_after": float(after[worst].mean()),
               "top_effects": [e["parameter"] for e in effects[:5]]}
    atomic_write_text(out / "summary_adapt.json", json.dumps(summary, indent=2))
    return summary


def adapt(base: str | Path, out: str | Path, recipe: Recipe, space: ParameterSpace, cfg: AdaptConfig, *,
          rounds: int = 1, progress: Callable[[str, int, int], None] | None = None) -> list[dict]:
    """``rounds`` rounds, each starting from the model of the one before; ``out`` ends as
    a run folder of the last model (``model.pt``), the rounds under ``out/round-<r>``."""
    import shutil

    out = Path(out)
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    summaries, current = [], Path(base)
    for r in range(1, rounds + 1):
        rdir = out / f"round-{r}"
        s = adapt_round(current, rdir, recipe, space, replace(cfg, entropy=cfg.entropy * 1000 + r),
                        progress=None if progress is None else (lambda st, d, t, r=r: progress(f"round {r}: {st}", d, t)))
        summaries.append(s)
        current = rdir
    for f in ("model.pt", "config.json"):
        tmp = out / f".{f}.tmp"
        shutil.copyfile(current / f, tmp)
        tmp.replace(out / f)
    atomic_write_text(out / "adapt.json", json.dumps(summaries, indent=2))
    return summaries
