"""Exemplar-based texture synthesis: image quilting from a dictionary of real patches.

Efros & Freeman, "Image quilting for texture synthesis and transfer", SIGGRAPH 2001,
the patch-based variant of the exemplar inpainting in Trampert et al., Crystals 2021,
11, 258, section 3.1: a tile is filled in raster order with dictionary patches whose
overlap with what is already there has a low sum of squared differences (SSD), and
each patch is cut into place along the minimum-error path through the overlap. The SSD
against the whole dictionary is one matrix-vector product per placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage as ndi

__all__ = ["TextureDictionary", "quilt_texture"]


@dataclass(frozen=True)
class TextureDictionary:
    """Square patches of (standardised) real images, flattened for fast matching.

    Attributes
    ----------
    patches : (N, P, P) float32, each source image scaled to zero mean, unit std
    sources : (N,) int32, index of the image each patch came from
    """

    patches: np.ndarray
    sources: np.ndarray

    def __post_init__(self):
        if self.patches.ndim != 3 or self.patches.shape[1] != self.patches.shape[2] or len(self.patches) < 2:
            raise ValueError(f"patches must be (N >= 2, P, P), got {self.patches.shape}")

    @property
    def patch_px(self) -> int:
        return int(self.patches.shape[1])

    def __len__(self) -> int:
        return len(self.patches)

    @classmethod
    def from_images(
        cls,
        images: list[np.ndarray],
        masks: list[np.ndarray | None] | None = None,
        *,
        patch_px: int = 32,
        stride_px: int = 8,
        exclude_px: int = 6,
        max_patches: int = 3000,
        flatten_px: float = 24.0,
        rng: np.random.Generator | int | None = None,
    ) -> TextureDictionary:
        """Cut patches from ``images``, avoiding any pixel within ``exclude_px`` of a
        nonzero ``masks`` pixel (the cracks: the dictionary must be crack-free).

        Each image is flattened (its Gaussian blur of ``flatten_px`` subtracted: uneven
        illumination would make patches of different brightness that show as blocks)
        and standardised (zero mean, unit std), so that the patches of differently
        exposed images fit each other; at most ``max_patches`` are kept (a random
        subset). ``flatten_px=0`` keeps the low frequencies.
        """
        rng = np.random.default_rng(rng)
        if not images:
            raise ValueError("no images to build a texture dictionary from")
        masks = masks or [None] * len(images)
        out, src = [], []
        for k, (img, m) in enumerate(zip(images, masks, strict=False)):
            img = np.asarray(img, np.float32)
            if img.ndim != 2:
                raise ValueError(f"image {k}: expected a 2D grey image, got shape {img.shape}")
            if flatten_px > 0:
                img = img - ndi.gaussian_filter(img, flatten_px, mode="reflect")
            sd = float(img.std()) or 1.0
            img = (img - img.mean()) / sd
            h, w = img.shape
            if h < patch_px or w < patch_px:
                continue
            bad = np.zeros((h, w), bool)
            if m is not None:
                bad = ndi.binary_dilation(np.asarray(m) != 0, np.ones((3, 3), bool), iterations=exclude_px)
            # a patch is bad when any pixel is: box sum of the bad map
            ii = np.pad(bad.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
            for y in range(0, h - patch_px + 1, stride_px):
                for x in range(0, w - patch_px + 1, stride_px):
                    n_bad = ii[y + patch_px, x + patch_px] - ii[y, x + patch_px] - ii[y + patch_px, x] + ii[y, x]
                    if n_bad == 0:
                        out.append(img[y:y + patch_px, x:x + patch_px])
                        src.append(k)
        if len(out) < 2:
            raise ValueError(f"fewer than 2 crack-free {patch_px}x{patch_px} patches in the images")
        patches = np.stack(out).astype(np.float32)
        sources = np.asarray(src, np.int32)
        if len(patches) > max_patches:
            keep = np.sort(rng.choice(len(patches), max_patches, replace=False))
            patches, sources = patches[keep], sources[keep]
        return cls(patches=np.ascontiguousarray(patches), sources=sources)


@numba.njit(cache=True, nogil=True)
def _min_cut(err):
    """Column index, per row, of the minimum-error top-to-bottom path through ``err``
    (H, W): dynamic programming over 8-connected paths."""
    h, w = err.shape
    cost = err.copy()
    for i in range(1, h):
        for j in range(w):
            best = cost[i - 1, j]
            if j > 0 and cost[i - 1, j - 1] < best:
                best = cost[i - 1, j - 1]
            if j < w - 1 and cost[i - 1, j + 1] < best:
                best = cost[i - 1, j + 1]
            cost[i, j] += best
    cut = np.empty(h, np.int64)
    j = 0
    for k in range(1, w):
        if cost[h - 1, k] < cost[h - 1, j]:
            j = k
    cut[h - 1] = j
    for i in range(h - 2, -1, -1):
        jb = j
        for k in (j - 1, j + 1):
            if 0 <= k < w and cost[i, k] < cost[i, jb]:
                jb = k
        j = jb
        cut[i] = j
    return cut


class _Matcher:
    """SSD of a target's overlap region against every dictionary patch, as
    ``sum(P^2) - 2 P . T + sum(T^2)`` over the overlap pixels only (a gathered copy of
    the dictionary per overlap shape: left, top, both)."""

    def __init__(self, d: TextureDictionary, overlap: int):
        p = d.patch_px
        flat = d.patches.reshape(len(d), -1)
        self.index, self.sub, self.energy = {}, {}, {}
        for left in (False, True):
            for top in (False, True):
                if not (left or top):
                    continue
                m = np.zeros((p, p), bool)
                if left:
                    m[:, :overlap] = True
                if top:
                    m[:overlap, :] = True
                idx = np.flatnonzero(m.ravel())
                sub = np.ascontiguousarray(flat[:, idx])
                self.index[(left, top)] = idx
                self.sub[(left, top)] = sub
                self.energy[(left, top)] = np.einsum("ij,ij->i", sub, sub)

    def ssd(self, target, left, top):
        t = target.ravel()[self.index[(left, top)]]
        return self.energy[(left, top)] - 2.0 * (self.sub[(left, top)] @ t) + float(t @ t)


def quilt_texture(
    shape: tuple[int, int],
    dictionary: TextureDictionary,
    *,
    overlap_px: int | None = None,
    tolerance: float = 0.3,
    feather_px: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Synthesise a texture of ``shape`` by image quilting.

    Parameters
    ----------
    shape : (H, W)
    dictionary : TextureDictionary
    overlap_px : int, overlap of neighbouring patches (default: a quarter patch)
    tolerance : float >= 0
        Patches with an overlap SSD within ``(1 + tolerance) * best`` are candidates,
        one chosen at random (variety without visible mismatch).
    feather_px : float >= 0
        Gaussian softening of the cut, px (0: a hard cut as in the paper).
    rng : Generator, int or None

    Returns
    -------
    (H, W) float32, zero mean and unit std.
    """
    rng = np.random.default_rng(rng)
    p = dictionary.patch_px
    ov = max(1, p // 4) if overlap_px is None else int(overlap_px)
    if not 0 < ov < p:
        raise ValueError(f"overlap_px must be in [1, {p - 1}], got {overlap_px}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    h, w = shape
    step = p - ov
    ny = max(1, math.ceil((h - ov) / step))
    nx = max(1, math.ceil((w - ov) / step))
    H, W = ny * step + ov, nx * step + ov
    canvas = np.zeros((H, W), np.float32)
    matcher = _Matcher(dictionary, ov)
    n = len(dictionary)
    for i in range(ny):
        for j in range(nx):
            y, x = i * step, j * step
            if i == 0 and j == 0:
                patch = dictionary.patches[rng.integers(n)]
                canvas[y:y + p, x:x + p] = patch
                continue
            target = canvas[y:y + p, x:x + p]
            left, top = j > 0, i > 0
            ssd = matcher.ssd(target, left, top)
            cand = np.flatnonzero(ssd <= (1.0 + tolerance) * max(float(ssd.min()), 1e-6))
            patch = dictionary.patches[cand[rng.integers(len(cand))]]
            keep_new = np.ones((p, p), bool)
            if left:
                err = (patch[:, :ov] - target[:, :ov]) ** 2
                cut = _min_cut(err)
                keep_new[:, :ov] &= np.arange(ov)[None, :] >= cut[:, None]
            if top:
                err = (patch[:ov, :] - target[:ov, :]) ** 2
                cut = _min_cut(np.ascontiguousarray(err.T))
                keep_new[:ov, :] &= (np.arange(ov)[:, None] >= cut[None, :])
            if feather_px > 0:
                # soften the cut over a pixel or so: no one-pixel step along the seam
                alpha = ndi.gaussian_filter(keep_new.astype(np.float32), feather_px, mode="nearest")
                alpha[ov:, ov:] = 1.0  # only the overlap blends; the rest is new
                if not left:
                    alpha[:, :ov] = np.where(np.arange(p)[:, None] >= ov, 1.0, alpha[:, :ov])
                canvas[y:y + p, x:x + p] = target + alpha * (patch - target)
            else:
                canvas[y:y + p, x:x + p] = np.where(keep_new, patch, target)
    out = canvas[:h, :w]
    sd = float(out.std()) or 1.0
    return ((out - out.mean()) / sd).astype(np.float32)
