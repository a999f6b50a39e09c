"""The crack-classification protocol of Trampert et al., Crystals 2021, 11, 258
(section 3.1, Table 1): three models per run (synthetic only, real only, mixed =
synthetic pretraining then fine-tuning on the real tiles), repeated over seeds, error
rates with Agresti-Coull intervals and a paired t-test of real only against mixed, on
a real test split and on all real tiles.

The real images are split by image (sorted stems: the first ``train_fraction`` train,
the rest test). The texture dictionary and the fitted crack statistics come from the
training images only, so nothing the synthetic data is built from is tested on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import yaml

from synthscope.datasets.real import RealFolder
from synthscope.evaluation.experiment import run_repeated
from synthscope.evaluation.stats import error_rate, paired_ttest
from synthscope.params.space import check_ranges
from synthscope.recipes.surface_cracks import MIN_CRACK_FRACTION, make_surface_cracks, tile_class
from synthscope.structures.cracks import CrackMeasurements, fit_crack_model, measure_cracks
from synthscope.structures.exemplar import TextureDictionary

__all__ = ["CrackExperiment", "tile_image", "split_folder", "fit_cracks_scenario", "run_crack_experiment", "crack_report_markdown",
           "load_crack_experiment"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrackExperiment:
    """Settings of a crack-classification experiment (YAML keys of the same names)."""

    real: str
    crack_class: int = 1
    train_fraction: float = 0.5
    runs: int = 10
    tile_px: int = 128
    train_stride_px: int = 64
    test_stride_px: int = 128
    min_crack_fraction: float = MIN_CRACK_FRACTION
    synthetic_tiles: int = 2000
    steps_synthetic: int = 600
    steps_real: int = 300
    steps_finetune: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    finetune_lr: float = 3e-4
    width: int = 16
    entropy: int = 0
    confidence: float = 0.99
    textures: bool = True
    fit: bool = True
    workers: int = 2
    run_workers: int = 1
    parameters: dict = field(default_factory=dict)

    def __post_init__(self):
        checks = {"train_fraction": (0.05, 0.95), "runs": (2, 10000), "tile_px": (32, 1024),
                  "train_stride_px": (8, 1024), "test_stride_px": (8, 1024), "min_crack_fraction": (1e-5, 1.0),
                  "synthetic_tiles": (10, 10**7), "steps_synthetic": (1, 10**7), "steps_real": (1, 10**7),
                  "steps_finetune": (1, 10**7), "batch_size": (2, 4096), "width": (4, 256),
                  "confidence": (0.5, 0.9999), "workers": (1, 256), "run_workers": (1, 256), "crack_class": (1, 255)}
        check_ranges(self, checks)
        if not (self.lr > 0 and self.finetune_lr > 0):
            raise ValueError("lr and finetune_lr must be > 0")

    def to_dict(self) -> dict:
        return asdict(self)


def load_crack_experiment(path: str | Path) -> CrackExperiment:
    """Read an experiment YAML; unknown keys and bad values raise ValueError naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    except yaml.YAMLError:
        raise ValueError(f"{path}: malformed YAML") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    data = {k: v for k, v in data.items() if not (k == "protocol" and v == "cracks")}
    allowed = [f.name for f in fields(CrackExperiment)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    if "real" not in data:
        raise ValueError(f"{path}: missing key 'real' (folder of real images and masks)")
    real = Path(str(data["real"]))
    if not real.is_absolute():
        real = (path.parent / real).resolve() if (path.parent / real).exists() else real
    data["real"] = str(real)
    try:
        return CrackExperiment(**data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def tile_image(image: np.ndarray, mask: np.ndarray, *, tile_px: int = 128, stride_px: int = 128,
               crack_class: int = 1, min_crack_fraction: float = MIN_CRACK_FRACTION):
    """Cut ``image`` into tiles on a grid of ``stride_px``; label each by the tile rule
    (`recipes.surface_cracks.tile_class`) on ``mask == crack_class`` and drop the
    ambiguous ones. Returns (tiles (N, t, t) float32, labels (N,) int64, crack masks
    (N, t, t) uint8)."""
    h, w = image.shape
    tiles, labels, masks = [], [], []
    for y in range(0, h - tile_px + 1, stride_px):
        for x in range(0, w - tile_px + 1, stride_px):
            m = (mask[y:y + tile_px, x:x + tile_px] == crack_class).astype(np.uint8)
            c = tile_class(m, min_fraction=min_crack_fraction)
            if c < 0:
                continue
            tiles.append(image[y:y + tile_px, x:x + tile_px])
            labels.append(c)
            masks.append(m)
    t = tile_px
    if not tiles:
        return np.zeros((0, t, t), np.float32), np.zeros(0, np.int64), np.zeros((0, t, t), np.uint8)
    return np.stack(tiles).astype(np.float32), np.asarray(labels, np.int64), np.stack(masks)


def split_folder(folder: RealFolder, train_fraction: float) -> tuple[list[int], list[int]]:
    """Image indices of the training and test parts (sorted stems, first part trains)."""
    n = len(folder)
    k = min(max(1, int(round(n * train_fraction))), n - 1)
    if n < 2:
        raise ValueError(f"{folder.path}: needs at least 2 labelled images to split, has {n}")
    return list(range(k)), list(range(k, n))


def fit_cracks_scenario(images: list[np.ndarray | None], masks: list[np.ndarray], *, crack_class: int = 1) -> dict:
    """Measure the cracks of ``masks`` (value ``crack_class``), fit the crack model and
    return the scenario parameters for recipe ``surface_cracks`` (constants, and a
    truncated normal for the contrast when images are given), plus a ``measured``
    summary (counts and means) for the report."""
    ms = [measure_cracks(m == crack_class, img) for img, m in zip(images, masks, strict=False)]
    meas = CrackMeasurements.concat(ms)
    model, contrast = fit_crack_model(meas)
    params = {k: round(float(v), 4) for k, v in model.to_dict().items() if k != "roughness_px"}
    # sub-tolerance jaggedness is not measured (the polygon fit removes it): keep a little
    params["roughness_px"] = 0.5
    if contrast["n"] >= 2 and math.isfinite(contrast["mean"]):
        mu, sd = contrast["mean"], max(contrast["std"], 0.1)
        mu = float(np.clip(mu, -19.0, 19.0))
        lo, hi = max(mu - 2 * sd, -20.0), min(mu + 2 * sd, 20.0)
        # a crack must keep the sign of the measured contrast and stay (faintly) visible
        if mu > 0:
            lo = max(lo, 0.2)
        else:
            hi = min(hi, -0.2)
        params["crack_contrast"] = f"truncnormal({mu:.4g}, {sd:.4g}, {lo:.4g}, {hi:.4g})"
    measured = {"paths": int(len(meas.segments)), "segments": int(meas.segments.sum()),
                "junctions": meas.junctions, "contrast": contrast}
    return {"parameters": params, "measured": measured}


def _real_tiles(folder, idx, cfg, stride):
    tiles, labels = [], []
    for i in idx:
        img, m = folder.pair(i)
        t, lab, _ = tile_image(img, m, tile_px=cfg.tile_px, stride_px=stride, crack_class=cfg.crack_class,
                               min_crack_fraction=cfg.min_crack_fraction)
        tiles.append(t)
        labels.append(lab)
    return np.concatenate(tiles), np.concatenate(labels)


def _crack_run(context: dict, key: str) -> dict:
    """One run of the protocol (seed = the run number): the three classifiers and their
    error counts on the test and all-real tiles."""
    import torch

    from synthscope.learning.classify import (
        clone,
        create_classifier,
        predict_classes,
        train_classifier,
    )

    cfg = context["cfg"]
    run = int(key.rsplit("-", 1)[1])
    (syn_n, syn_y), (train_n, train_y) = context["sets"]["synthetic"], context["sets"]["real"]
    torch.manual_seed(cfg.entropy * 100003 + run)
    syn = create_classifier(width=cfg.width)
    train_classifier(syn, syn_n, syn_y, steps=cfg.steps_synthetic, batch_size=cfg.batch_size, lr=cfg.lr, seed=run)
    torch.manual_seed(cfg.entropy * 100003 + run)
    real = create_classifier(width=cfg.width)
    train_classifier(real, train_n, train_y, steps=cfg.steps_real, batch_size=cfg.batch_size, lr=cfg.lr, seed=run)
    mixed = train_classifier(clone(syn), train_n, train_y, steps=cfg.steps_finetune, batch_size=cfg.batch_size,
                             lr=cfg.finetune_lr, seed=run)
    out = {}
    for name, model in (("synthetic", syn), ("real", real), ("mixed", mixed)):
        out[name] = {w: int((predict_classes(model, context["sets"][w][0]) != context["sets"][w][1]).sum())
                     for w in ("test", "all")}
    log.info("%s: %s", key, {k: v["test"] for k, v in out.items()})
    return out


def run_crack_experiment(cfg: CrackExperiment, out: Path, *,
                         progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Run the protocol; writes the synthetic dataset under ``out / 'synthetic'`` and
    each run's error counts under ``out / 'runs'`` (finished runs are not redone), and
    returns the results (see `crack_report_markdown`)."""
    from synthscope.datasets.io import open_dataset
    from synthscope.engine import generate

    def tick(stage, done, total):
        if progress:
            progress(stage, done, total)

    folder = RealFolder(Path(cfg.real), require_masks=True)
    train_idx, test_idx = split_folder(folder, cfg.train_fraction)
    train_x, train_y = _real_tiles(folder, train_idx, cfg, cfg.train_stride_px)
    test_x, test_y = _real_tiles(folder, test_idx, cfg, cfg.test_stride_px)
    # "all real data" as in the paper: every image, tiled on the test grid
    grid_x, grid_y = _real_tiles(folder, train_idx, cfg, cfg.test_stride_px)
    all_x, all_y = np.concatenate([grid_x, test_x]), np.concatenate([grid_y, test_y])
    for name, y in (("training", train_y), ("test", test_y)):
        if len(np.unique(y)) < 2:
            raise ValueError(f"{folder.path}: the {name} tiles hold only one class; change train_fraction or the tile rule")

    # the synthetic side, built from the training images only
    pairs = [folder.pair(i) for i in train_idx]
    fitted = fit_cracks_scenario([p[0] for p in pairs], [p[1] for p in pairs], crack_class=cfg.crack_class) if cfg.fit else None
    dictionary = None
    if cfg.textures:
        dictionary = TextureDictionary.from_images([p[0] for p in pairs], [p[1] == cfg.crack_class for p in pairs],
                                                   rng=cfg.entropy)
    recipe = make_surface_cracks(dictionary)
    overrides = dict(fitted["parameters"]) if fitted else {}
    overrides.update(cfg.parameters or {})
    space = recipe.space.with_overrides(overrides)
    synth_root = Path(out) / "synthetic"
    generate(recipe, cfg.synthetic_tiles, synth_root, space=space, entropy=cfg.entropy,
             size=(cfg.tile_px, cfg.tile_px), workers=cfg.workers,
             progress=lambda d, t: tick("render synthetic tiles", d, t))
    info = open_dataset(synth_root)
    syn_x = np.stack([info.load(i)[0] for i in range(len(info))])
    syn_y = np.asarray([int(r["label"]) for r in info.records], np.int64)

    # torch only now: the render pool above can then fork instead of spawning
    from synthscope.learning.classify import normalize_tiles

    context = {"cfg": cfg, "sets": {"synthetic": (normalize_tiles(syn_x), syn_y), "real": (normalize_tiles(train_x), train_y),
                                    "test": (normalize_tiles(test_x), test_y), "all": (normalize_tiles(all_x), all_y)}}
    keys = [f"run-{r:03d}" for r in range(1, cfg.runs + 1)]
    per_run = run_repeated(_crack_run, context, keys, out, workers=cfg.run_workers,
                           progress=lambda d, t: tick("train classifiers (runs)", d, t))
    errors = {m: {w: [per_run[k][m][w] for k in keys] for w in ("test", "all")} for m in ("synthetic", "real", "mixed")}

    results = {"config": cfg.to_dict(), "split": {
        "train_images": [folder.stem(i) for i in train_idx], "test_images": [folder.stem(i) for i in test_idx],
        "train_tiles": {"n": int(len(train_y)), "crack": int(train_y.sum())},
        "test_tiles": {"n": int(len(test_y)), "crack": int(test_y.sum())},
        "all_tiles": {"n": int(len(all_y)), "crack": int(all_y.sum())},
        "synthetic_tiles": {"n": int(len(syn_y)), "crack": int(syn_y.sum())},
        "tile_rule": f"crack if >= {cfg.min_crack_fraction:.2%} of the tile is crack, no crack if none, else left out",
    }, "fitted": fitted, "texture_patches": len(dictionary) if dictionary is not None else 0,
        "errors": errors, "rates": {}, "tests": {}}
    for where, n in (("test", len(test_y)), ("all", len(all_y))):
        results["rates"][where] = {m: error_rate(errors[m][where], n, confidence=cfg.confidence).to_dict()
                                   for m in errors}
        r = np.asarray(errors["real"][where], float) / n
        x = np.asarray(errors["mixed"][where], float) / n
        t, p = paired_ttest(r, x)
        results["tests"][where] = {"real_vs_mixed": {"t": t, "p": p, "mean_difference": float((r - x).mean())}}
    return results


def crack_report_markdown(results: dict) -> str:
    cfg = results["config"]
    sp = results["split"]
    lines = ["# Crack classification: synthetic, real and mixed training", "",
             f"Real data: `{cfg['real']}` (crack class {cfg['crack_class']}). {cfg['runs']} runs "
             f"(seeds 1..{cfg['runs']}), error rates as mean +- std over runs and the "
             f"{cfg['confidence']:.0%} Agresti-Coull interval of all runs' decisions pooled.", "",
             f"- split by image: train {', '.join(sp['train_images'])}; test {', '.join(sp['test_images'])}",
             f"- tile rule: {sp['tile_rule']} ({cfg['tile_px']} px tiles; train stride {cfg['train_stride_px']} px, "
             f"test stride {cfg['test_stride_px']} px)",
             f"- tiles: train {sp['train_tiles']['n']} ({sp['train_tiles']['crack']} crack), test {sp['test_tiles']['n']} "
             f"({sp['test_tiles']['crack']} crack), all real {sp['all_tiles']['n']} ({sp['all_tiles']['crack']} crack), "
             f"synthetic {sp['synthetic_tiles']['n']} ({sp['synthetic_tiles']['crack']} crack)",
             f"- texture dictionary: {results['texture_patches']} crack-free patches of the training images"
             if results["texture_patches"] else "- textures: procedural", ""]
    for where, title in (("test", "Test split"), ("all", "All real tiles")):
        lines += [f"## {title}", "", "| model | error rate | std | interval |", "|---|---|---|---|"]
        for m in ("synthetic", "real", "mixed"):
            r = results["rates"][where][m]
            lines.append(f"| {m} | {r['mean']:.4f} | {r['std']:.4f} | [{r['ci_low']:.4f}, {r['ci_high']:.4f}] |")
        tt = results["tests"][where]["real_vs_mixed"]
        lines += ["", f"Paired two-tailed t-test, real only vs mixed: t = {tt['t']:.3f}, p = {tt['p']:.3g} "
                  f"(mean difference {tt['mean_difference']:+.4f}).", ""]
    if results.get("fitted"):
        lines += ["## Fitted crack model (training masks)", "", "```yaml",
                  yaml.safe_dump(results["fitted"]["parameters"], sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)
