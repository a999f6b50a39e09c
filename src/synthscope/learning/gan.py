"""Self-supervised GAN pretraining for electron micrographs (restoration pretext tasks).

After Kazimi, Ruzaeva and Sandfeld, "Self-Supervised Learning with Generative
Adversarial Networks for Electron Microscopy" (CVPR 2024 workshops, arXiv:2402.18286):
a Pix2Pix-style conditional GAN -- a U-Net generator and a PatchGAN discriminator,
adversarial plus ``l1_weight`` x L1 loss -- learns to restore clean crops of *unlabeled*
micrographs (and, optionally, synthetic renders) from degraded copies: noise, blur,
downsampling, masked regions. The generator is the segmentation network of
`synthscope.learning.models` with one output channel, so its weights initialise a
segmentation network (`train(..., init=folder)`; the last layer, whose shape differs, is
left at random), or restore images as they are (`restore_image`: denoising,
super-resolution).

The generator predicts a residual: output = input + G(input), which starts at the
identity and converges in CPU minutes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from torch import nn
from torch.utils.data import DataLoader, Dataset

from synthscope.datasets.io import atomic_write_text
from synthscope.learning.models import create_model, normalization, normalize_image
from synthscope.learning.train import _save, check_budget, folder_file
from synthscope.params.space import stage_rng

__all__ = ["PRETEXT_TASKS", "GANConfig", "degrade", "UnlabeledImages", "pretrain", "load_generator",
           "restore_image", "load_unlabeled", "transfer_weights", "psnr", "create_discriminator",
           "pretrained_state", "is_decoder_key"]

log = logging.getLogger(__name__)

PRETEXT_TASKS = ("noise", "blur", "downsample", "mask")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


# ---------------------------------------------------------------- pretext degradations

def degrade(image: np.ndarray, rng: np.random.Generator, tasks: Sequence[str] = PRETEXT_TASKS) -> np.ndarray:
    """A degraded copy of a normalised image (median 0, 1-99 percentile span 2): each
    of ``tasks`` applied with probability 1/2, at least one.

    - ``noise``: Gaussian (sigma 0.05-0.5) or Poisson-like (dose 3-100 counts per 1-99 span);
    - ``blur``: Gaussian, sigma 0.7-2.5 px;
    - ``downsample``: by 2, 3 or 4 (block mean) and back (bilinear);
    - ``mask``: 1-6 rectangles of 4-20 % of the side set to 0 (inpainting).
    """
    bad = [t for t in tasks if t not in PRETEXT_TASKS]
    if bad or not tasks:
        raise ValueError(f"pretext tasks must be among {', '.join(PRETEXT_TASKS)}, got {list(tasks)}")
    x = np.asarray(image, np.float32).copy()
    chosen = [t for t in tasks if rng.random() < 0.5]
    if not chosen:
        chosen = [tasks[int(rng.integers(len(tasks)))]]
    order = [t for t in ("blur", "downsample", "noise", "mask") if t in chosen]
    h, w = x.shape
    for t in order:
        if t == "blur":
            x = ndi.gaussian_filter(x, float(rng.uniform(0.7, 2.5)), mode="reflect")
        elif t == "downsample":
            f = int(rng.choice([2, 3, 4]))
            hh, ww = h // f * f, w // f * f
            small = x[:hh, :ww].reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))
            up = ndi.zoom(small, f, order=1, mode="nearest", grid_mode=True)
            x[:hh, :ww] = up[:hh, :ww]
        elif t == "noise":
            if rng.random() < 0.5:
                x = x + rng.normal(0.0, rng.uniform(0.05, 0.5), x.shape).astype(np.float32)
            else:
                dose = float(np.exp(rng.uniform(np.log(3), np.log(100))))
                lo = float(x.min())
                counts = rng.poisson(np.clip((x - lo) / 2.0 * dose, 0, None))
                x = (counts / dose * 2.0 + lo).astype(np.float32)
        elif t == "mask":
            for _ in range(int(rng.integers(1, 7))):
                rh = int(rng.uniform(0.04, 0.2) * h) + 1
                rw = int(rng.uniform(0.04, 0.2) * w) + 1
                y0, x0 = int(rng.integers(h - rh + 1)), int(rng.integers(w - rw + 1))
                x[y0:y0 + rh, x0:x0 + rw] = 0.0
    return x.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio of ``a`` against reference ``b``, dB."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


# ---------------------------------------------------------------- data

def _image_files(folder: Path) -> list[Path]:
    if (folder / "manifest.json").is_file():  # a generated dataset
        from synthscope.datasets.io import open_dataset

        info = open_dataset(folder)
        return [info.image_path(i) for i in range(len(info))]
    base = folder / "images" if (folder / "images").is_dir() else folder
    return sorted(p for p in base.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def load_unlabeled(folders: Sequence[str | Path], *, hold_out: int = 0) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Grey images of ``folders`` (a real folder with ``images/``, a folder of images,
    or a generated dataset; 2D images only), each normalised. The last ``hold_out``
    images (sorted by name) of every folder are held back.

    Returns (images as float16, paths used, paths held back).
    """
    from synthscope.datasets.io import read_image

    images, used, held = [], [], []
    for f in folders:
        f = Path(f)
        if not f.is_dir():
            raise ValueError(f"{f}: unlabeled image folder not found")
        files = _image_files(f)
        if len(files) <= hold_out:
            raise ValueError(f"{f}: {len(files)} images, need more than --hold-out {hold_out}")
        keep = files[: len(files) - hold_out] if hold_out else files
        held += [str(p) for p in files[len(keep):]]
        for p in keep:
            try:
                img = read_image(p)
            except Exception as err:  # unreadable: name it
                raise ValueError(f"{p}: cannot read image ({err})") from None
            if img.ndim != 2:
                raise ValueError(f"{p}: 2D grey image expected, got shape {img.shape}")
            images.append(normalize_image(img).astype(np.float16))
            used.append(str(p))
    if not images:
        raise ValueError("no unlabeled images found")
    return images, used, held


def _crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    if h < size or w < size:
        img = np.pad(img, ((0, max(0, size - h)), (0, max(0, size - w))), mode="reflect")
        h, w = img.shape
    y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
    out = np.asarray(img[y:y + size, x:x + size], np.float32)
    out = np.rot90(out, int(rng.integers(4)))
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


class UnlabeledImages(Dataset):
    """Item ``i``: a random crop (own stream from (entropy, i)) of an unlabeled image, or
    with probability ``synthetic_fraction`` a render of one of ``recipes``, with its
    degraded copy: returns (degraded, clean), each (1, size, size)."""

    def __init__(self, images: list[np.ndarray], *, size: int = 128, entropy: int = 0,
                 tasks: Sequence[str] = PRETEXT_TASKS, recipes: Sequence[str] = (),
                 synthetic_fraction: float = 0.0, length: int = 10**9):
        if not images and not recipes:
            raise ValueError("no images and no recipes to pretrain on")
        if not 0.0 <= synthetic_fraction <= 1.0:
            raise ValueError(f"synthetic_fraction must be in [0, 1], got {synthetic_fraction}")
        degrade(np.zeros((8, 8), np.float32), np.random.default_rng(0), tasks)  # validates tasks
        self.images, self.size, self.entropy = images, int(size), int(entropy)
        self.tasks, self.recipes = tuple(tasks), tuple(recipes)
        self.synthetic_fraction = synthetic_fraction if recipes else 0.0
        if not images:
            self.synthetic_fraction = 1.0
        self.length = int(length)
        self._recipes = None

    def __len__(self) -> int:
        return self.length

    def clean(self, i: int) -> np.ndarray:
        rng = stage_rng(self.entropy, i, "pretext")
        if self.synthetic_fraction and rng.random() < self.synthetic_fraction:
            if self._recipes is None:
                from synthscope.recipes import get_recipe

                self._recipes = [get_recipe(r) for r in self.recipes]
            r = self._recipes[int(rng.integers(len(self._recipes)))]
            s = r.render_index(i, entropy=self.entropy, shape=(self.size, self.size))
            img = s.image[0] if s.image.ndim == 3 else s.image
            return _crop(normalize_image(img), self.size, rng)
        return _crop(self.images[int(rng.integers(len(self.images)))], self.size, rng)

    def __getitem__(self, i: int):
        i = int(i)
        clean = self.clean(i)
        bad = degrade(clean, stage_rng(self.entropy, i, "degradation"), self.tasks)
        return torch.from_numpy(bad)[None], torch.from_numpy(clean)[None]


# ---------------------------------------------------------------- networks

def create_discriminator(in_channels: int = 2, channels: int = 32, layers: int = 3) -> nn.Module:
    """MONAI's PatchGAN discriminator (70x70 receptive field for 3 layers)."""
    from monai.networks.nets import PatchDiscriminator

    return PatchDiscriminator(spatial_dims=2, channels=channels, in_channels=in_channels, out_channels=1,
                              num_layers_d=layers, norm="INSTANCE")


def _d(disc: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = disc(x)
    return out[-1] if isinstance(out, list | tuple) else out


def is_decoder_key(name: str) -> bool:
    """Whether a MONAI U-Net parameter belongs to the decoder (the "up" block, index 2,
    of a level's Sequential(down, SkipConnection, up))."""
    import re

    return re.search(r"(^model|submodule)\.2\.", name) is not None


def transfer_weights(model: nn.Module, state: dict, *, part: str = "all") -> tuple[int, int]:
    """Copy every tensor of ``state`` whose name and shape match into ``model``
    (``part="encoder"``: the U-Net's encoder path only; the decoder stays random).
    Returns (tensors copied, tensors of the model)."""
    if part not in ("all", "encoder"):
        raise ValueError(f"part must be one of all, encoder, got {part!r}")
    own = model.state_dict()
    ok = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape
          and (part == "all" or not is_decoder_key(k))}
    own.update(ok)
    model.load_state_dict(own)
    return len(ok), len(own)


@dataclass(frozen=True)
class GANConfig:
    arch: str = "unet"
    model_kwargs: dict = field(default_factory=lambda: {"width": 16})
    size: int = 128
    batch: int = 8
    max_minutes: float | None = 10.0
    max_steps: int | None = None
    lr: float = 2e-4
    l1_weight: float = 100.0
    adversarial_weight: float = 1.0
    disc_channels: int = 32
    tasks: tuple = PRETEXT_TASKS
    entropy: int = 0
    loader_workers: int = 1
    device: str = "auto"
    amp: bool = True
    checkpoint_every_s: float = 120.0
    log_every: int = 20

    def __post_init__(self):
        check_budget(self.max_minutes, self.max_steps)
        if self.size < 32 or self.size % 16:
            raise ValueError(f"size must be a multiple of 16, >= 32, got {self.size}")
        degrade(np.zeros((8, 8), np.float32), np.random.default_rng(0), self.tasks)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> GANConfig:
        d = dict(d)
        d["tasks"] = tuple(d["tasks"])
        return cls(**d)


def pretrain(out: str | Path, config: GANConfig, *, images: list[np.ndarray], recipes: Sequence[str] = (),
             synthetic_fraction: float = 0.0, sources: dict | None = None, init: str | Path | None = None,
             progress: Callable[[dict], None] | None = None) -> dict:
    """Pix2Pix pretraining on restoration pretext tasks; writes ``generator.pt`` (the
    restoration network, loadable by `load_generator` and usable as ``init`` of `train`),
    ``checkpoint.pt`` (resumed), ``metrics.jsonl`` (losses, L1 of degraded vs restored
    crops) and ``summary.json`` into ``out``.

    Parameters
    ----------
    out : folder
    config : GANConfig
    images : normalised unlabeled images (`load_unlabeled`)
    recipes, synthetic_fraction : also restore renders of these recipes, this share of crops
    sources : recorded in the checkpoint (folders, held-back files)
    init : a pretraining folder whose generator starts this run: fine-tuning a pretrained
        generator for one task (e.g. ``tasks=("noise",)`` for a denoiser); same architecture
    progress : callable(dict) with step, losses, elapsed_s, progress
    """
    from synthscope.learning.train import _device, _mixed_precision

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = _device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - config.loader_workers))
    torch.manual_seed(config.entropy)
    gen = create_model(config.arch, out_channels=1, **config.model_kwargs).to(device)
    disc = create_discriminator(2, config.disc_channels).to(device)
    if init is not None:
        state, icfg = pretrained_state(init)
        if icfg["arch"] != config.arch or icfg["model_kwargs"] != config.model_kwargs:
            raise ValueError(f"{init}: pretrained {icfg['arch']} {icfg['model_kwargs']} does not match "
                             f"{config.arch} {config.model_kwargs}")
        gen.load_state_dict(state)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.5, 0.999))
    amp_dtype = _mixed_precision(device, config.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and amp_dtype == torch.float16)
    step, elapsed, waited = 0, 0.0, 0.0
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        gen.load_state_dict(ck["generator"])
        disc.load_state_dict(ck["discriminator"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        step, elapsed, waited = ck["step"], ck["elapsed"], ck.get("waited", 0.0)
    meta = {"kind": "gan-pretrain", "config": config.to_json(), "sources": sources or {},
            "init": str(init) if init else None,
            "recipes": list(recipes), "synthetic_fraction": synthetic_fraction}
    atomic_write_text(out / "config.json", json.dumps(meta, indent=2))
    budget_s = config.max_minutes * 60.0 if config.max_minutes else math.inf
    budget_steps = config.max_steps or math.inf

    def frac() -> float:
        return min(1.0, max(elapsed / budget_s, step / budget_steps))

    def save_checkpoint():
        _save({"generator": gen.state_dict(), "discriminator": disc.state_dict(), "opt_g": opt_g.state_dict(),
               "opt_d": opt_d.state_dict(), "step": step, "elapsed": elapsed, "waited": waited, **meta}, ckpt_path)

    ds = UnlabeledImages(images, size=config.size, entropy=config.entropy, tasks=config.tasks,
                         recipes=recipes, synthetic_fraction=synthetic_fraction)
    loader = DataLoader(ds, batch_size=config.batch, sampler=range(step * config.batch, len(ds)),
                        num_workers=config.loader_workers,
                        prefetch_factor=4 if config.loader_workers > 0 else None)
    it = iter(loader)
    mse = nn.MSELoss()
    ema: dict[str, float] = {}
    last_ckpt = time.perf_counter()
    gen.train()
    disc.train()
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as fh:
        while frac() < 1.0:
            t0 = time.perf_counter()
            bad, clean = next(it)
            t1 = time.perf_counter()
            bad, clean = bad.to(device), clean.to(device)
            lr = config.lr * (1.0 if frac() < 0.5 else max(0.0, 2.0 * (1.0 - frac())))  # pix2pix: linear decay
            for o in (opt_g, opt_d):
                for g in o.param_groups:
                    g["lr"] = lr
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                fake = bad + gen(bad)
                # discriminator: real pairs (degraded, clean) -> 1, restored pairs -> 0 (least squares)
                d_real = _d(disc, torch.cat([bad, clean], 1)).float()
                d_fake = _d(disc, torch.cat([bad, fake.detach()], 1)).float()
            loss_d = 0.5 * (mse(d_real, torch.ones_like(d_real)) + mse(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad(set_to_none=True)
            scaler.scale(loss_d).backward()
            scaler.step(opt_d)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                d_gen = _d(disc, torch.cat([bad, fake], 1)).float()
            loss_adv = mse(d_gen, torch.ones_like(d_gen))
            loss_l1 = (fake.float() - clean).abs().mean()
            loss_g = config.adversarial_weight * loss_adv + config.l1_weight * loss_l1
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            scaler.step(opt_g)
            scaler.update()
            t2 = time.perf_counter()
            step += 1
            elapsed += t2 - t0
            waited += t1 - t0
            vals = {"loss_d": float(loss_d.detach()), "loss_adv": float(loss_adv.detach()),
                    "l1_restored": float(loss_l1.detach()), "l1_degraded": float((bad - clean).abs().mean())}
            for k, v in vals.items():
                ema[k] = v if k not in ema else 0.95 * ema[k] + 0.05 * v
            if not all(math.isfinite(v) for v in vals.values()):
                raise FloatingPointError(f"GAN training diverged at step {step} ({vals}); "
                                         "resume from the last checkpoint with a lower lr")
            if step % config.log_every == 0 or step == 1:
                from synthscope.learning.refine import diversity_ratio

                # restored crops as varied as the clean ones (about 1), not collapsed to one look
                div = diversity_ratio(clean, fake.detach()) if clean.shape[0] > 1 else float("nan")
                rec = {"step": step, **{k: round(v, 5) for k, v in ema.items()}, "diversity_ratio": round(div, 4), "lr": lr,
                       "elapsed_s": round(elapsed, 2), "data_wait_fraction": round(waited / max(elapsed, 1e-9), 4),
                       "progress": round(frac(), 4)}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                if progress:
                    progress(rec)
            if time.perf_counter() - last_ckpt > config.checkpoint_every_s:
                save_checkpoint()
                last_ckpt = time.perf_counter()
    del it, loader
    save_checkpoint()
    _save({"generator": gen.state_dict(), **meta, "step": step}, out / "generator.pt")
    summary = {"steps": step, "elapsed_s": round(elapsed, 2), "data_wait_fraction": round(waited / max(elapsed, 1e-9), 4),
               **{k: round(v, 5) for k, v in ema.items()}, "device": str(device)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def _generator_file(path: str | Path) -> Path:
    return folder_file(path, "generator.pt", "not a pretraining folder")


def load_generator(path: str | Path, *, device: str = "cpu") -> nn.Module:
    """The restoration generator of a `pretrain` folder, in eval mode, with its
    metadata as ``model.synthscope_meta``."""
    ck = torch.load(_generator_file(path), map_location=device, weights_only=False)
    cfg = GANConfig.from_json(ck["config"])
    gen = create_model(cfg.arch, out_channels=1, **cfg.model_kwargs)
    gen.load_state_dict(ck["generator"])
    gen.to(device).eval()
    gen.synthscope_meta = {k: ck.get(k) for k in ("kind", "sources", "recipes", "step")} | {"config": cfg.to_json()}
    return gen


def pretrained_state(path: str | Path) -> tuple[dict, dict]:
    """(generator state dict, config dict) of a pretraining folder or generator.pt."""
    ck = torch.load(_generator_file(path), map_location="cpu", weights_only=False)
    return ck["generator"], ck["config"]


@torch.no_grad()
def restore_image(gen: nn.Module, image: np.ndarray, *, scale: int = 1, roi_size: int = 256,
                  overlap: float = 0.25) -> np.ndarray:
    """Restored image in the input's intensity scale: normalise, (upsample by ``scale``,
    bicubic, for super-resolution), add the generator's residual over sliding windows,
    undo the normalisation."""
    from monai.inferers import sliding_window_inference
    from skimage.transform import rescale

    img = np.asarray(image, np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be 2D, got shape {img.shape}")
    if scale not in (1, 2, 3, 4):
        raise ValueError(f"scale must be 1, 2, 3 or 4, got {scale}")
    if scale > 1:
        img = rescale(img, scale, order=3, mode="reflect", anti_aliasing=False).astype(np.float32)
    offset, factor = normalization(img)
    z = ((img - offset) * factor).astype(np.float32)
    dev = next(gen.parameters()).device
    x = torch.from_numpy(z)[None, None].to(dev)
    r = sliding_window_inference(x, roi_size=(roi_size, roi_size), sw_batch_size=4, predictor=gen,
                                 overlap=overlap, mode="gaussian")
    y = (x + r)[0, 0].float().cpu().numpy()
    return (y / factor + offset).astype(np.float32)
