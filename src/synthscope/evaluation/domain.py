"""How far apart two image domains are.

- ``domain_auc``: the ROC AUC of a small classifier trained to tell tiles of one from
  tiles of the other (0.5: indistinguishable; 1: fully separable). It saturates at 1 when
  the domains differ in anything the classifier can latch on to (e.g. cell size).
- ``domain_kid``: the kernel inception distance (Binkowski et al. 2018: unbiased squared
  MMD with the kernel (x.y/d + 1)^3) between encoder features of tiles, with the encoder
  of our own GAN pretraining (`synthscope pretrain`) in place of an ImageNet network:
  continuous, 0 for one distribution.

Tiles are normalised as the segmentation networks see them (median and percentile span
of the whole image), so the classifier judges texture, noise, blur and structure, not
global brightness. Images are split in two folds (by image, never tiles of one image on
both sides); the classifier is trained on one fold and scored on the other, both ways,
over ``repeats`` seeds.
"""

from __future__ import annotations

import numpy as np

from synthscope.learning.models import normalize_image

__all__ = ["roc_auc", "domain_auc", "sample_tiles", "kid", "encoder_features", "domain_kid"]


def roc_auc(scores_neg, scores_pos) -> float:
    """Area under the ROC curve, Mann-Whitney form (ties count half)."""
    from scipy.stats import rankdata

    neg, pos = np.asarray(scores_neg, float), np.asarray(scores_pos, float)
    if not len(neg) or not len(pos):
        raise ValueError("roc_auc needs scores of both classes")
    ranks = rankdata(np.concatenate([neg, pos]))
    return float((ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2) / (len(neg) * len(pos)))


def sample_tiles(images, n: int, tile: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``tile`` x ``tile`` crops (each image normalised first; images drawn
    uniformly; smaller images reflect-padded)."""
    norm = [normalize_image(im) for im in images]
    out = np.empty((n, tile, tile), np.float32)
    for k in range(n):
        im = norm[int(rng.integers(len(norm)))]
        h, w = im.shape
        if h < tile or w < tile:
            im = np.pad(im, ((0, max(0, tile - h)), (0, max(0, tile - w))), mode="reflect")
            h, w = im.shape
        y, x = int(rng.integers(h - tile + 1)), int(rng.integers(w - tile + 1))
        out[k] = im[y:y + tile, x:x + tile]
    return out


def domain_auc(images_a, images_b, *, tile: int = 64, tiles: int = 512, steps: int = 300, repeats: int = 2,
               seed: int = 0) -> dict:
    """Domain-classifier AUC between two lists of 2D images (at least 2 each).

    Returns dict with ``auc`` (mean over folds and repeats), ``auc_std`` and ``runs``.
    """
    import torch

    from synthscope.learning.classify import create_classifier, train_classifier

    if len(images_a) < 2 or len(images_b) < 2:
        raise ValueError(f"domain_auc needs >= 2 images per domain, got {len(images_a)} and {len(images_b)}")
    aucs = []
    for rep in range(repeats):
        rng = np.random.default_rng([seed, rep])
        pa, pb = rng.permutation(len(images_a)), rng.permutation(len(images_b))
        folds_a = [[images_a[i] for i in pa[: len(pa) // 2]], [images_a[i] for i in pa[len(pa) // 2:]]]
        folds_b = [[images_b[i] for i in pb[: len(pb) // 2]], [images_b[i] for i in pb[len(pb) // 2:]]]
        for f in (0, 1):
            xa, xb = sample_tiles(folds_a[f], tiles, tile, rng), sample_tiles(folds_b[f], tiles, tile, rng)
            ta, tb = sample_tiles(folds_a[1 - f], tiles, tile, rng), sample_tiles(folds_b[1 - f], tiles, tile, rng)
            torch.manual_seed(int(rng.integers(2**31)))
            model = create_classifier(width=16)
            train_classifier(model, np.concatenate([xa, xb]), np.r_[np.zeros(len(xa)), np.ones(len(xb))].astype(np.int64),
                             steps=steps, batch_size=32, seed=int(rng.integers(2**31)), device="cpu")
            model.eval()
            with torch.no_grad():
                sa, sb = (torch.softmax(model(torch.from_numpy(t)[:, None]), 1)[:, 1].numpy() for t in (ta, tb))
            aucs.append(roc_auc(sa, sb))
    return {"auc": float(np.mean(aucs)), "auc_std": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else 0.0,
            "runs": len(aucs)}


def kid(fa: np.ndarray, fb: np.ndarray, *, subsets: int = 20, subset_size: int = 100, seed: int = 0) -> dict:
    """Kernel inception distance between feature sets (n, d): mean and std over random
    subsets of the unbiased squared MMD with the cubic polynomial kernel."""
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"feature sets must be (n, d) with one d, got {fa.shape} and {fb.shape}")
    m = min(subset_size, len(fa), len(fb))
    if m < 2:
        raise ValueError("kid needs >= 2 features per set")
    d = fa.shape[1]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        x = fa[rng.choice(len(fa), m, replace=False)]
        y = fb[rng.choice(len(fb), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off = ~np.eye(m, dtype=bool)
        vals.append(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())
    return {"kid": float(np.mean(vals)), "kid_std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            "subset_size": m, "subsets": subsets}


def encoder_features(encoder, tiles: np.ndarray, *, batch: int = 32) -> np.ndarray:
    """Features of normalised tiles (n, h, w): the spatial means of the outputs of every
    strided (downsampling) convolution of ``encoder`` -- the encoder path of a U-Net --
    concatenated."""
    import torch

    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d) and max(m.stride) > 1]
    if not convs:
        raise ValueError("encoder has no strided convolutions")
    grabbed: list = []
    hooks = [c.register_forward_hook(lambda _m, _i, o: grabbed.append(o.float().mean(dim=(2, 3)))) for c in convs]
    out = []
    try:
        encoder.eval()
        with torch.no_grad():
            for i in range(0, len(tiles), batch):
                grabbed.clear()
                encoder(torch.from_numpy(np.ascontiguousarray(tiles[i:i + batch], np.float32))[:, None])
                out.append(torch.cat(grabbed, 1).numpy())
    finally:
        for h in hooks:
            h.remove()
    return np.concatenate(out)


def domain_kid(images_a, images_b, encoder, *, tile: int = 128, tiles: int = 300, seed: int = 0) -> dict:
    """KID between ``tiles`` random tiles of each list of images, on ``encoder_features``
    of ``encoder`` (a module, or a `synthscope pretrain` folder)."""
    if not hasattr(encoder, "modules"):
        from synthscope.learning.gan import load_generator

        encoder = load_generator(encoder)
    rng = np.random.default_rng(seed)
    fa = encoder_features(encoder, sample_tiles(images_a, tiles, tile, rng))
    fb = encoder_features(encoder, sample_tiles(images_b, tiles, tile, rng))
    return kid(fa, fb, seed=seed)
