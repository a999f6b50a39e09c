"""Measuring what GAN pretraining buys: few-label fine-tuning (pretrained vs random
initialisation at equal budget, repeated over seeds, paired t-test) and denoising
(PSNR of restored vs noisy held-back images, with classical filters for scale)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from synthscope.evaluation.experiment import compare_runs, run_repeated, summarize_runs

__all__ = ["FewLabelConfig", "run_few_label_experiment", "few_label_markdown", "denoise_evaluation",
           "denoise_markdown"]


@dataclass(frozen=True)
class FewLabelConfig:
    """Fine-tune a segmentation network on ``labelled`` images of ``real`` (indices in
    name order), score on the others; ``pretrained`` vs random initialisation, ``runs``
    seeds each (seed s: same batches and augmentation for both)."""

    real: str
    pretrained: str
    labelled: tuple = (0, 1)
    test: tuple | None = None  # default: every image not labelled
    runs: int = 5
    steps: int = 300
    size: int = 128
    batch: int = 8
    lr: float = 2e-3
    metric: str = "boundary_f1"  # or iou_1, mean_iou
    class_weights: tuple = (1.0, 2.0)
    tta: bool = False
    init_part: str = "all"  # or encoder
    workers: int = 1
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 (a paired t-test), got {self.runs}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.metric not in ("boundary_f1", "iou_1", "mean_iou"):
            raise ValueError(f"metric must be one of boundary_f1, iou_1, mean_iou, got {self.metric!r}")
        if self.init_part not in ("all", "encoder"):
            raise ValueError(f"init_part must be one of all, encoder, got {self.init_part!r}")
        if not self.labelled:
            raise ValueError("labelled: give at least one image index")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labelled"], d["test"] = list(self.labelled), list(self.test) if self.test is not None else None
        d["class_weights"] = list(self.class_weights)
        return d


def _split(cfg: FewLabelConfig):
    from synthscope.datasets.real import RealFolder

    folder = RealFolder(cfg.real)
    n = len(folder)
    bad = [i for i in cfg.labelled if not 0 <= i < n]
    if bad:
        raise ValueError(f"labelled: indices {bad} outside 0..{n - 1} of {cfg.real}")
    test = [i for i in range(n) if i not in cfg.labelled] if cfg.test is None else list(cfg.test)
    if not test:
        raise ValueError(f"{cfg.real}: no image left to test on")
    return folder, list(cfg.labelled), test


def _score(pred, gt, metric):
    from synthscope.evaluation.evaluate import score_pair

    s = score_pair(pred, gt, boundary_class=1, grain_stats=False)
    if metric == "boundary_f1":
        return s["boundary_f1"]
    if metric == "iou_1":
        return s["iou"].get(1, float("nan"))
    return s["mean_iou"]


def _few_label_run(cfg: FewLabelConfig, key: str) -> dict:
    """One run: key = '<pretrained|random>-<seed>'."""
    from synthscope.learning.infer import predict_mask
    from synthscope.learning.train import Stage, TrainConfig, load_model, train

    init_kind, seed = key.rsplit("-", 1)
    folder, lab, test = _split(cfg)
    images = [folder.image(i) for i in lab]
    masks = [folder.mask(i) for i in lab]
    tc = TrainConfig(stages=(Stage(cfg.size, cfg.batch, 1.0),), max_minutes=None, max_steps=cfg.steps, lr=cfg.lr,
                     class_weights=tuple(cfg.class_weights), entropy=int(seed), loader_workers=0, device="cpu",
                     amp=False, checkpoint_every_s=1e9, log_every=50)
    with tempfile.TemporaryDirectory() as tmp:
        summary = train(tmp, tc, pairs=(images, masks), init=cfg.pretrained if init_kind == "pretrained" else None,
                        init_part=cfg.init_part)
        model = load_model(tmp)
        scores = {}
        for i in test:
            pred = predict_mask(model, folder.image(i), tta=cfg.tta, roi_size=256)
            gt = folder.mask(i)
            scores[folder.stem(i)] = _score(pred, gt, cfg.metric)
    return {"init": init_kind, "seed": int(seed), "per_image": scores, "score": float(np.mean(list(scores.values()))),
            "train_seconds": summary["elapsed_s"], "final_loss": summary["final_loss"]}


def run_few_label_experiment(cfg: FewLabelConfig, out: str | Path, *,
                             progress: Callable[[str, int, int], None] | None = None) -> dict:
    keys = [f"{k}-{s}" for s in range(cfg.runs) for k in ("pretrained", "random")]
    cb = (lambda d, t: progress("fine-tuning runs", d, t)) if progress else None
    res = run_repeated(_few_label_run, cfg, keys, out, workers=cfg.workers, progress=cb)
    pre = [res[f"pretrained-{s}"]["score"] for s in range(cfg.runs)]
    rnd = [res[f"random-{s}"]["score"] for s in range(cfg.runs)]
    _, lab, test = _split(cfg)
    return {"config": cfg.to_dict(), "labelled": lab, "test": test,
            "summary": {"pretrained": summarize_runs(pre), "random": summarize_runs(rnd)},
            "test_pretrained_vs_random": compare_runs(pre, rnd), "runs": res}


def few_label_markdown(results: dict) -> str:
    c = results["config"]
    s, t = results["summary"], results["test_pretrained_vs_random"]
    lines = [
        "# Few-label fine-tuning: GAN-pretrained vs random initialisation\n",
        f"Real set `{c['real']}`: labelled images {results['labelled']}, scored on {results['test']} "
        f"({c['metric']}). {c['steps']} steps of {c['batch']} crops of {c['size']} px each; "
        f"pretrained from `{c['pretrained']}` ({c.get('init_part', 'all')} weights).\n",
        "| init | mean | std | 99 % CI of the mean | runs |", "|---|---|---|---|---|",
    ]
    for k in ("pretrained", "random"):
        r = s[k]
        lines.append(f"| {k} | {r['mean']:.4f} | {r['std']:.4f} | {r['ci_low']:.4f} .. {r['ci_high']:.4f} | {r['runs']} |")
    lines.append(f"\nPaired t-test (pretrained - random): mean difference {t['mean_difference']:+.4f}, "
                 f"t = {t['t']:.3f}, p = {t['p']:.3g} over {t['runs']} seeds.\n")
    lines += ["| seed | pretrained | random |", "|---|---|---|"]
    for sd in range(c["runs"]):
        a, b = results["runs"][f"pretrained-{sd}"]["score"], results["runs"][f"random-{sd}"]["score"]
        lines.append(f"| {sd} | {a:.4f} | {b:.4f} |")
    return "\n".join(lines) + "\n"


def denoise_evaluation(generator: str | Path, files, *, sigmas=(10.0, 25.0), seed: int = 0) -> dict:
    """PSNR (8-bit scale) against the clean image of: the noisy image (Gaussian noise of
    ``sigma`` grey levels), a Gaussian filter (sigma 1 px), non-local means, and the
    generator's restoration; per file and mean."""
    from scipy import ndimage as ndi
    from skimage.restoration import denoise_nl_means

    from synthscope.datasets.io import read_image
    from synthscope.learning.gan import load_generator, psnr, restore_image

    gen = load_generator(generator)
    rows = []
    for si, sigma in enumerate(sigmas):
        for fi, f in enumerate(files):
            clean = read_image(Path(f)) * 255.0
            rng = np.random.default_rng([seed, si, fi])
            noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).astype(np.float32)
            est = sigma / 255.0  # the known noise level: the classical filter at its best
            nlm = denoise_nl_means(noisy / 255.0, h=0.8 * est, sigma=est, patch_size=5, patch_distance=6,
                                   fast_mode=True) * 255.0
            rest = np.clip(restore_image(gen, noisy / 255.0), 0, 1) * 255.0
            rows.append({"file": str(f), "sigma": sigma, "noisy": psnr(noisy, clean),
                         "gaussian": psnr(ndi.gaussian_filter(noisy, 1.0), clean), "nl_means": psnr(nlm, clean),
                         "restored": psnr(rest, clean)})
    summary = {}
    for sigma in sigmas:
        rs = [r for r in rows if r["sigma"] == sigma]
        summary[str(sigma)] = {k: float(np.mean([r[k] for r in rs])) for k in ("noisy", "gaussian", "nl_means", "restored")}
        summary[str(sigma)]["gain_db"] = summary[str(sigma)]["restored"] - summary[str(sigma)]["noisy"]
    return {"rows": rows, "summary": summary, "generator": str(generator)}


def denoise_markdown(res: dict) -> str:
    lines = ["# Denoising with the pretrained generator\n",
             f"Generator `{res['generator']}`; PSNR in dB on the 8-bit scale, mean over "
             f"{len({r['file'] for r in res['rows']})} images.\n",
             "| noise sigma (grey levels) | noisy | Gaussian 1 px | non-local means | generator | gain over noisy |",
             "|---|---|---|---|---|---|"]
    for s, v in res["summary"].items():
        lines.append(f"| {s} | {v['noisy']:.2f} | {v['gaussian']:.2f} | {v['nl_means']:.2f} | {v['restored']:.2f} "
                     f"| {v['gain_db']:+.2f} |")
    return "\n".join(lines) + "\n"

