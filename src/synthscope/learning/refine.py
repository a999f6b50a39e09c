"""Sim-to-real refinement: unpaired translation of rendered images toward the look of a
user's real micrographs, labels unchanged (CycleGAN, Zhu et al. 2017).

Two generators (synthetic -> real, real -> synthetic) and two PatchGAN discriminators,
least-squares adversarial losses, a cycle loss and an identity loss. The generators are
small U-Nets predicting a residual (output = input + G(input)), so they start as the
identity and, with the cycle and identity losses, change appearance (noise, texture,
contrast, blur) rather than move structures: the refined image still matches the
synthetic mask. ``structure_weight`` adds an L1 between the low-pass (Gaussian,
``structure_sigma``) input and output, which penalises moving edges or inventing
objects more directly.

Mode collapse is watched with a diversity ratio: the mean pairwise L1 distance between
refined crops of a fixed batch over that between the same crops unrefined (about 1 is
healthy; near 0 means every input maps to a similar output). It is logged with the
losses in ``metrics.jsonl`` and reported in ``summary.json``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthscope.datasets.io import atomic_write_text
from synthscope.learning.gan import _crop, _d, create_discriminator
from synthscope.learning.models import create_model, normalization, normalize_image
from synthscope.learning.train import _save, check_budget, folder_file
from synthscope.params.space import stage_rng

__all__ = ["RefineConfig", "train_refiner", "load_refiner", "refine_image", "refiner_file", "diversity_ratio"]


@dataclass(frozen=True)
class RefineConfig:
    width: int = 16
    depth: int = 4
    size: int = 128
    batch: int = 4
    max_minutes: float | None = 10.0
    max_steps: int | None = None
    lr: float = 2e-4
    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    structure_weight: float = 5.0
    structure_sigma: float = 4.0
    disc_channels: int = 32
    entropy: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_every_s: float = 120.0
    log_every: int = 20

    def __post_init__(self):
        check_budget(self.max_minutes, self.max_steps)
        if self.size % 2 ** (self.depth - 1) or self.size < 32:
            raise ValueError(f"size must be a multiple of {2 ** (self.depth - 1)}, >= 32, got {self.size}")
        for k in ("cycle_weight", "identity_weight", "structure_weight"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be >= 0, got {getattr(self, k)}")


def _generator(cfg: RefineConfig) -> nn.Module:
    return create_model("unet", out_channels=1, width=cfg.width, depth=cfg.depth)


class _Crops:
    """Random normalised crops of a list of normalised images, from one stream."""

    def __init__(self, images: list[np.ndarray], size: int, rng: np.random.Generator):
        if not images:
            raise ValueError("no images")
        self.images, self.size, self.rng = images, size, rng

    def batch(self, n: int) -> torch.Tensor:
        out = [_crop(self.images[int(self.rng.integers(len(self.images)))], self.size, self.rng) for _ in range(n)]
        return torch.from_numpy(np.stack(out))[:, None]


def diversity_ratio(inputs: torch.Tensor, outputs: torch.Tensor) -> float:
    """Mean pairwise L1 distance between ``outputs`` over that between ``inputs`` (N, 1, H, W)."""
    def pairwise(t):
        f = t.flatten(1).float()
        d = (f[:, None, :] - f[None, :, :]).abs().mean(-1)
        n = f.shape[0]
        return d.sum() / max(1, n * (n - 1))

    return float(pairwise(outputs) / pairwise(inputs).clamp_min(1e-12))


def _lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = nn.functional.pad(x, (r, r, r, r), mode="reflect")
    x = nn.functional.conv2d(x, k.view(1, 1, 1, -1))
    return nn.functional.conv2d(x, k.view(1, 1, -1, 1))


def train_refiner(out: str | Path, config: RefineConfig, *, synthetic: list[np.ndarray], real: list[np.ndarray],
                  sources: dict | None = None, progress: Callable[[dict], None] | None = None) -> dict:
    """Train a CycleGAN refiner; writes ``refiner.pt`` (synthetic -> real generator and
    the real images' intensity statistics), ``checkpoint.pt`` (resumed), ``metrics.jsonl``
    and ``summary.json`` into ``out``.

    Parameters
    ----------
    synthetic, real : grey images in [0, 1], any size (smaller than ``config.size``: padded)
    sources : recorded with the refiner
    """
    from synthscope.learning.train import _device, _mixed_precision

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = _device(config.device)
    torch.manual_seed(config.entropy)
    g_sr, g_rs = _generator(config).to(dev), _generator(config).to(dev)
    d_r, d_s = create_discriminator(1, config.disc_channels).to(dev), create_discriminator(1, config.disc_channels).to(dev)
    opt_g = torch.optim.Adam(list(g_sr.parameters()) + list(g_rs.parameters()), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(d_r.parameters()) + list(d_s.parameters()), lr=config.lr, betas=(0.5, 0.999))
    # the real images' brightness and contrast, to write refined images on their scale
    norms = np.array([normalization(r) for r in real])
    real_scale = {"offset": float(np.median(norms[:, 0])), "factor": float(np.median(norms[:, 1]))}
    meta = {"kind": "refiner", "config": asdict(config), "real_scale": real_scale, "sources": sources or {}}
    step, elapsed = 0, 0.0
    ckpt_path = out / "checkpoint.pt"
    nets = {"g_sr": g_sr, "g_rs": g_rs, "d_r": d_r, "d_s": d_s}
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        for k, m in nets.items():
            m.load_state_dict(ck[k])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        step, elapsed = ck["step"], ck["elapsed"]
    atomic_write_text(out / "config.json", json.dumps(meta, indent=2))
    rng = stage_rng(config.entropy, step, "refiner")
    syn = _Crops([normalize_image(s) for s in synthetic], config.size, rng)
    rea = _Crops([normalize_image(r) for r in real], config.size, rng)
    probe = _Crops(syn.images, config.size, stage_rng(config.entropy, 2**32 - 1, "refiner")).batch(16).to(dev)
    budget_s = config.max_minutes * 60.0 if config.max_minutes else math.inf
    budget_steps = config.max_steps or math.inf
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    amp_dtype = _mixed_precision(dev, config.amp) if dev.type == "cuda" else None  # CPU: float32
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    def autocast():
        return torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)

    def frac():
        return min(1.0, max(elapsed / budget_s, step / budget_steps))

    def adv(disc, x, target):
        with autocast():
            p = _d(disc, x).float()
        return mse(p, torch.full_like(p, target))

    def save_checkpoint():
        _save({**{k: m.state_dict() for k, m in nets.items()}, "opt_g": opt_g.state_dict(),
               "opt_d": opt_d.state_dict(), "step": step, "elapsed": elapsed, **meta}, ckpt_path)

    ema: dict[str, float] = {}
    last_ckpt = time.perf_counter()
    diversity = float("nan")
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as fh:
        while frac() < 1.0:
            t0 = time.perf_counter()
            lr = config.lr * (1.0 if frac() < 0.5 else max(0.0, 2.0 * (1.0 - frac())))
            for o in (opt_g, opt_d):
                for g in o.param_groups:
                    g["lr"] = lr
            s, r = syn.batch(config.batch).to(dev), rea.batch(config.batch).to(dev)
            with autocast():
                fake_r = (s + g_sr(s)).float()
                fake_s = (r + g_rs(r)).float()
                back_s, back_r = (fake_r + g_rs(fake_r)).float(), (fake_s + g_sr(fake_s)).float()
                id_r, id_s = (r + g_sr(r)).float(), (s + g_rs(s)).float()
            loss_adv = adv(d_r, fake_r, 1.0) + adv(d_s, fake_s, 1.0)
            loss_cyc = l1(back_s, s) + l1(back_r, r)
            loss_id = l1(id_r, r) + l1(id_s, s)
            loss_struct = (l1(_lowpass(fake_r, config.structure_sigma), _lowpass(s, config.structure_sigma))
                           if config.structure_weight else torch.zeros((), device=dev))
            loss_g = (loss_adv + config.cycle_weight * loss_cyc + config.identity_weight * loss_id
                      + config.structure_weight * loss_struct)
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            scaler.step(opt_g)
            loss_d = 0.5 * (adv(d_r, r, 1.0) + adv(d_r, fake_r.detach(), 0.0)
                            + adv(d_s, s, 1.0) + adv(d_s, fake_s.detach(), 0.0))
            opt_d.zero_grad(set_to_none=True)
            scaler.scale(loss_d).backward()
            scaler.step(opt_d)
            scaler.update()
            step += 1
            elapsed += time.perf_counter() - t0
            vals = {k: float(v.detach()) for k, v in (("loss_d", loss_d), ("loss_adv", loss_adv), ("loss_cycle", loss_cyc),
                                                      ("loss_identity", loss_id), ("loss_structure", loss_struct))}
            if not all(math.isfinite(v) for v in vals.values()):
                raise FloatingPointError(f"refiner training diverged at step {step} ({vals}); "
                                         "resume from the last checkpoint with a lower lr")
            for k, v in vals.items():
                ema[k] = v if k not in ema else 0.95 * ema[k] + 0.05 * v
            if step % config.log_every == 0 or step == 1:
                with torch.no_grad():
                    g_sr.eval()
                    diversity = diversity_ratio(probe, probe + g_sr(probe))
                    g_sr.train()
                rec = {"step": step, **{k: round(v, 5) for k, v in ema.items()}, "diversity_ratio": round(diversity, 4),
                       "lr": lr, "elapsed_s": round(elapsed, 2), "progress": round(frac(), 4)}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                if progress:
                    progress(rec)
            if time.perf_counter() - last_ckpt > config.checkpoint_every_s:
                save_checkpoint()
                last_ckpt = time.perf_counter()
    save_checkpoint()
    with torch.no_grad():
        g_sr.eval()
        diversity = diversity_ratio(probe, probe + g_sr(probe))
    _save({"generator": g_sr.state_dict(), **meta, "step": step}, out / "refiner.pt")
    summary = {"steps": step, "elapsed_s": round(elapsed, 2), **{k: round(v, 5) for k, v in ema.items()},
               "diversity_ratio": round(diversity, 4), "device": str(dev)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def refiner_file(path: str | Path) -> Path:
    return folder_file(path, "refiner.pt", "train one with `synthscope refine`")


def load_refiner(path: str | Path, *, device: str = "cpu") -> nn.Module:
    """The synthetic -> real generator of a refiner, in eval mode; ``synthscope_meta``
    holds the real images' intensity scale."""
    ck = torch.load(refiner_file(path), map_location=device, weights_only=False)
    cfg = RefineConfig(**ck["config"])
    g = _generator(cfg)
    g.load_state_dict(ck["generator"])
    g.to(device).eval()
    g.synthscope_meta = {"real_scale": ck["real_scale"], "sources": ck.get("sources"), "step": ck.get("step"),
                         "config": ck["config"]}
    return g


@torch.no_grad()
def refine_image(refiner: nn.Module, image: np.ndarray, *, roi_size: int = 256) -> np.ndarray:
    """A synthetic image (2D, [0, 1]) refined toward the real domain, on the real images'
    intensity scale, clipped to [0, 1]; the same shape (labels stay valid)."""
    from monai.inferers import sliding_window_inference

    img = np.asarray(image, np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be 2D, got shape {img.shape}")
    x = torch.from_numpy(normalize_image(img))[None, None].to(next(refiner.parameters()).device)
    r = sliding_window_inference(x, roi_size=(roi_size, roi_size), sw_batch_size=4, predictor=refiner,
                                 overlap=0.25, mode="gaussian")
    y = (x + r)[0, 0].float().cpu().numpy()
    sc = refiner.synthscope_meta["real_scale"]
    return np.clip(y / sc["factor"] + sc["offset"], 0.0, 1.0).astype(np.float32)


def refine_dataset(refiner_path: str | Path, src: str | Path, out: str | Path, *,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Write a refined copy of dataset ``src`` into the (empty, new) folder ``out``:
    images refined (8-bit PNG / TIFF stacks refined slice by slice), masks, instances and
    records copied unchanged, the manifest extended with ``refined``."""
    import shutil

    from synthscope.datasets.io import (
        atomic_write_bytes,
        encode_png,
        encode_tiff,
        image_to_uint,
        open_dataset,
    )

    info = open_dataset(src)
    g = load_refiner(refiner_path)
    out = Path(out)
    for sub in ("images", "masks", "instances"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for k in range(len(info)):
        img, _ = info.load(k)
        ref = np.stack([refine_image(g, s) for s in img]) if img.ndim == 3 else refine_image(g, img)
        rel = info.records[k]["files"]["image"]
        if rel.endswith(".tif"):
            atomic_write_bytes(out / rel, encode_tiff(image_to_uint(ref, 8)))
        else:
            atomic_write_bytes(out / rel, encode_png(image_to_uint(ref, 8)))
        for key in ("mask", "instances"):
            r = info.records[k]["files"].get(key)
            if r:
                shutil.copy2(info.root / r, out / r)
        if progress:
            progress(k + 1, len(info))
    shutil.copy2(info.root / "samples.jsonl", out / "samples.jsonl")
    manifest = dict(info.manifest)
    manifest["refined"] = {"from": str(src), "refiner": str(refiner_file(refiner_path)),
                           "real": g.synthscope_meta.get("sources", {}).get("real")}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return manifest

