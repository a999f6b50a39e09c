"""Training a segmentation network on synthetic data, streamed or from disk.

Progressive resizing after the paper (small patches first, then larger ones), a loss for
thin structures (class-weighted cross-entropy plus Dice, MONAI's DiceCELoss), AdamW with
a cosine schedule over the time or step budget, checkpoints and resume, CPU by default,
CUDA with mixed precision when present.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from synthscope.datasets.io import atomic_write_text
from synthscope.learning.data import FolderDataset, PairsDataset, RecipeDataset
from synthscope.learning.models import create_model

__all__ = ["TrainConfig", "train", "load_model", "Stage"]

log = logging.getLogger(__name__)


def folder_file(path: str | Path, name: str, missing: str) -> Path:
    """``path`` itself if a file, else ``path/name``; a ValueError saying ``missing`` if
    there is none."""
    p = Path(path)
    if p.is_dir():
        p = p / name
    if not p.is_file():
        raise ValueError(f"{path}: no {name} ({missing})")
    return p


def check_budget(max_minutes: float | None, max_steps: int | None) -> None:
    """A training budget: minutes > 0 and/or steps >= 1 (whichever ends first)."""
    if max_minutes is None and max_steps is None:
        raise ValueError("give max_minutes or max_steps")
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError(f"max_minutes must be > 0, got {max_minutes}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")


@dataclass(frozen=True)
class Stage:
    """One step of progressive resizing: patch side, batch size, share of the budget."""

    size: int
    batch: int
    share: float


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "unet"
    model_kwargs: dict = field(default_factory=lambda: {"width": 16})
    out_channels: int = 2
    classes: tuple = ("background", "foreground")
    stages: tuple = (Stage(128, 16, 0.5), Stage(256, 8, 0.5))
    max_minutes: float | None = 30.0
    max_steps: int | None = None
    lr: float = 2e-3
    weight_decay: float = 1e-4
    class_weights: tuple | None = (1.0, 2.0)
    entropy: int = 0
    loader_workers: int = 1
    threads: int | None = None
    device: str = "auto"
    amp: bool = True
    checkpoint_every_s: float = 120.0
    log_every: int = 20

    def __post_init__(self):
        check_budget(self.max_minutes, self.max_steps)
        if self.class_weights is not None and len(self.class_weights) != self.out_channels:
            if tuple(self.class_weights) == (1.0, 2.0):  # the default: background 1, every other class 2
                object.__setattr__(self, "class_weights", (1.0,) + (2.0,) * (self.out_channels - 1))
            else:
                raise ValueError(f"class_weights needs {self.out_channels} values (one per class), "
                                 f"got {len(self.class_weights)}")
        shares = sum(s.share for s in self.stages)
        if not self.stages or abs(shares - 1.0) > 1e-6:
            raise ValueError(f"stage shares must add up to 1, got {shares}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["stages"] = [asdict(s) for s in self.stages]
        return d

    @classmethod
    def from_json(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["stages"] = tuple(Stage(**s) for s in d["stages"])
        d["classes"] = tuple(d["classes"])
        if d.get("class_weights") is not None:
            d["class_weights"] = tuple(d["class_weights"])
        return cls(**d)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _mixed_precision(device: torch.device, wanted: bool) -> torch.dtype | None:
    """The autocast dtype for ``device``, or None for full float32: float16 (bfloat16
    where supported) on CUDA; bfloat16 on CPUs that compute it natively (AVX512-BF16 or
    AMX), where it trains about 1.6x faster; float32 elsewhere, where it would be
    emulated and slower."""
    if not wanted:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        native = any(getattr(cpu, f, lambda: False)() for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
        return torch.bfloat16 if native else None
    return None


def _save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_model(run: str | Path, *, device: str = "cpu"):
    """The trained network of a run folder (``model.pt``, else the last checkpoint), in
    eval mode, with its metadata (classes, arch) as ``model.synthscope_meta``."""
    run = Path(run)
    path = run / "model.pt" if (run / "model.pt").exists() else run / "checkpoint.pt"
    if not path.exists():
        raise ValueError(f"{run}: no model.pt or checkpoint.pt (not a training run folder)")
    ckpt = torch.load(path, map_location=device, weights_only=False)
    cfg = TrainConfig.from_json(ckpt["config"])
    model = create_model(cfg.arch, out_channels=cfg.out_channels, **cfg.model_kwargs)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    model.synthscope_meta = {"classes": list(cfg.classes), "arch": cfg.arch, "run": str(run),
                             "recipe": ckpt.get("recipe"), "steps": ckpt.get("step"),
                             "class_weights": list(cfg.class_weights) if cfg.class_weights else None,
                             "train_config": cfg.to_json()}
    return model


def run_recipe(run: str | Path) -> str | None:
    """The name of the recipe a run was trained on (None when unknown), from its
    ``config.json``, else from its model or checkpoint."""
    run = Path(run)
    cfg = run / "config.json"
    if cfg.is_file():
        try:
            return json.loads(cfg.read_text()).get("recipe")
        except (json.JSONDecodeError, AttributeError):
            pass
    path = run / "model.pt" if (run / "model.pt").exists() else run / "checkpoint.pt"
    if not path.exists():
        raise ValueError(f"{run}: no model.pt or checkpoint.pt (not a training run folder)")
    return torch.load(path, map_location="cpu", weights_only=False).get("recipe")


def _initialise(model, init: str | Path, config: TrainConfig, part: str = "all") -> None:
    """Weights from a training run / checkpoint (all of them), or from a GAN pretraining
    folder (`synthscope pretrain`: every tensor but the output layer, whose class count
    differs; the architecture must be the same)."""
    ip = Path(init)
    if (ip.is_dir() and (ip / "generator.pt").is_file()) or ip.name == "generator.pt":
        from synthscope.learning.gan import pretrained_state, transfer_weights

        state, gcfg = pretrained_state(ip)
        if gcfg["arch"] != config.arch or gcfg["model_kwargs"] != config.model_kwargs:
            raise ValueError(f"{init}: pretrained {gcfg['arch']} {gcfg['model_kwargs']} does not match "
                             f"--arch {config.arch} {config.model_kwargs}")
        copied, total = transfer_weights(model, state, part=part)
        log.info("initialised %d of %d tensors from %s", copied, total, init)
        return
    ip = ip / "model.pt" if ip.is_dir() else ip
    if not ip.exists():
        raise ValueError(f"{init}: no model.pt, checkpoint or generator.pt to initialise from")
    model.load_state_dict(torch.load(ip, map_location="cpu", weights_only=False)["model"])


def train(
    out: str | Path,
    config: TrainConfig,
    *,
    recipe=None,
    space=None,
    data: str | Path | None = None,
    init: str | Path | None = None,
    scenarios: list | None = None,
    pairs: tuple[list, list] | None = None,
    init_part: str = "all",
    refiner: str | Path | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train a network; writes ``config.json``, ``checkpoint.pt``, ``model.pt``,
    ``metrics.jsonl`` and ``summary.json`` into ``out``. Resumes from ``checkpoint.pt``.

    Parameters
    ----------
    out : run folder
    config : TrainConfig
    recipe, space : stream samples rendered on the fly from this recipe (and space)
    data : or read samples from this dataset folder
    init : run folder or checkpoint whose weights initialise the network (fine-tuning),
        or a GAN pretraining folder (`synthscope pretrain`; all but the output layer)
    init_part : with a pretraining folder, ``all`` or ``encoder`` (decoder left random)
    scenarios : with a recipe, train on these scenarios (cycled) instead of draws from space
    pairs : or train on these (images, masks) held in memory (a few labelled real images)
    refiner : with a recipe, refine every render with this trained refiner (`synthscope refine`)
    progress : callable(dict) with step, stage, loss, elapsed_s, data_wait_fraction

    Returns
    -------
    dict, the summary (steps, elapsed_s, data_wait_fraction, samples_per_s, final loss).
    """
    if sum(x is not None for x in (recipe, data, pairs)) != 1:
        raise ValueError("give one of a recipe (streamed), a data folder or image/mask pairs")
    if refiner is not None and recipe is None:
        raise ValueError("a refiner applies to streamed recipe samples only (refine a folder with `synthscope refine`)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = _device(config.device)
    if device.type == "cpu":
        # leave the loader workers their cores: oversubscribed intra-op threads stall
        n = config.threads or max(1, (os.cpu_count() or 2) - config.loader_workers)
        torch.set_num_threads(n)
    torch.manual_seed(config.entropy)  # weight init only; data randomness is per-sample
    model = create_model(config.arch, out_channels=config.out_channels, **config.model_kwargs).to(device)
    if init is not None:
        _initialise(model, init, config, init_part)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    from monai.losses import DiceCELoss

    weight = torch.tensor(config.class_weights, dtype=torch.float32, device=device) if config.class_weights else None
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, weight=weight)
    amp_dtype = _mixed_precision(device, config.amp)
    use_amp = amp_dtype is not None
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and amp_dtype == torch.float16)

    # the recipe the samples come from: streamed, or named in the dataset's manifest
    recipe_name = getattr(recipe, "name", None)
    if data is not None:
        from synthscope.datasets.io import open_dataset

        recipe_name = open_dataset(data).manifest.get("recipe")
    step, seen, elapsed, waited = 0, 0, 0.0, 0.0
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, seen, elapsed, waited = ck["step"], ck["seen"], ck["elapsed"], ck.get("waited", 0.0)
        log.info("resuming %s at step %d", out, step)
    atomic_write_text(out / "config.json", json.dumps(
        {"train": config.to_json(), "recipe": recipe_name,
         "space": space.to_dict() if space is not None else None, "data": str(data) if data else None,
         "init": str(init) if init else None, "refiner": str(refiner) if refiner else None},
        indent=2))

    budget_s = config.max_minutes * 60.0 if config.max_minutes else math.inf
    budget_steps = config.max_steps or math.inf

    def progress_fraction() -> float:
        return min(1.0, max(elapsed / budget_s, step / budget_steps))

    def lr_at(frac: float) -> float:
        warm = 0.02
        if frac < warm:
            return config.lr * (0.1 + 0.9 * frac / warm)
        return config.lr * 0.5 * (1 + math.cos(math.pi * (frac - warm) / (1 - warm)))

    def save_checkpoint():
        _save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "seen": seen,
               "elapsed": elapsed, "waited": waited, "config": config.to_json(),
               "recipe": recipe_name}, ckpt_path)

    metrics_fh = open(out / "metrics.jsonl", "a", encoding="utf-8")
    last_ckpt = time.perf_counter()
    loss_ema = None
    bounds = []
    acc = 0.0
    for s in config.stages:
        acc += s.share
        bounds.append(acc)
    try:
        for si, stage in enumerate(config.stages):
            if progress_fraction() >= bounds[si] - 1e-9:
                continue
            if recipe is not None:
                ds = RecipeDataset(recipe, space, entropy=config.entropy, size=stage.size, scenarios=scenarios,
                                   refiner=refiner)
            elif pairs is not None:
                ds = PairsDataset(*pairs, size=stage.size, entropy=config.entropy)
            else:
                ds = FolderDataset(data, size=stage.size, entropy=config.entropy)
            sampler = range(seen, len(ds))
            loader = DataLoader(
                ds, batch_size=stage.batch, sampler=sampler, num_workers=config.loader_workers,
                prefetch_factor=4 if config.loader_workers > 0 else None,
                persistent_workers=False, pin_memory=device.type == "cuda",
            )
            it = iter(loader)
            model.train()
            while progress_fraction() < bounds[si] - 1e-9:
                t0 = time.perf_counter()
                x, y = next(it)
                t1 = time.perf_counter()
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                for g in opt.param_groups:
                    g["lr"] = lr_at(progress_fraction())
                with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
                    logits = model(x)
                loss = loss_fn(logits.float(), y)  # softmax, log and Dice sums in float32
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                lv = float(loss.detach())
                t2 = time.perf_counter()
                step += 1
                seen += x.shape[0]
                elapsed += t2 - t0
                waited += t1 - t0
                loss_ema = lv if loss_ema is None else 0.95 * loss_ema + 0.05 * lv
                if step % config.log_every == 0 or step == 1:
                    rec = {"step": step, "stage": si, "size": stage.size, "loss": round(loss_ema, 5),
                           "lr": opt.param_groups[0]["lr"], "elapsed_s": round(elapsed, 2),
                           "data_wait_fraction": round(waited / max(elapsed, 1e-9), 4),
                           "progress": round(progress_fraction(), 4)}
                    metrics_fh.write(json.dumps(rec) + "\n")
                    metrics_fh.flush()
                    if progress:
                        progress(rec)
                if time.perf_counter() - last_ckpt > config.checkpoint_every_s:
                    save_checkpoint()
                    last_ckpt = time.perf_counter()
            del it, loader
    finally:
        metrics_fh.close()
    save_checkpoint()
    _save({"model": model.state_dict(), "config": config.to_json(), "recipe": recipe_name,
           "step": step}, out / "model.pt")
    summary = {
        "steps": step, "samples_seen": seen, "elapsed_s": round(elapsed, 2),
        "data_wait_fraction": round(waited / max(elapsed, 1e-9), 4),
        "samples_per_s": round(seen / max(elapsed, 1e-9), 2), "final_loss": loss_ema,
        "device": str(device), "precision": str(amp_dtype).replace("torch.", "") if use_amp else "float32",
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary
