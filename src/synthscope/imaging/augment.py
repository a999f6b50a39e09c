"""Training-time augmentation (paper, section 2.3): flips, rotations, stretch/squish and
intensity jitter. Random parameters are drawn first, then applied deterministically to
image and mask alike (nearest-neighbour for the mask)."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

__all__ = ["augment_pair"]


def augment_pair(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    stretch_range: tuple[float, float] = (0.8, 1.25),
    rotate: bool = True,
    intensity_jitter: float = 0.1,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Augment a 2D image and its mask together.

    Parameters
    ----------
    image : (H, W) float32 in [0, 1]
    mask : (H, W) uint8
    stretch_range : (low, high)
        Range of the independent x and y scale factors; ``(1, 1)`` turns stretching off.
    rotate : bool
        Random rotation by any angle (plus the 8 flips/quarter turns).
    intensity_jitter : float >= 0
        Std of random gain and offset, and max |gamma - 1|.
    rng : Generator, int or None

    Returns
    -------
    image, mask of the same shapes and dtypes.
    """
    rng = np.random.default_rng(rng)
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    sy, sx = np.exp(rng.uniform(*np.log(stretch_range), size=2))
    angle = rng.uniform(0, 2 * math.pi) if rotate else 0.0
    gain = 1.0 + intensity_jitter * rng.standard_normal()
    offset = intensity_jitter * 0.5 * rng.standard_normal()
    gamma = math.exp(intensity_jitter * rng.uniform(-1, 1))

    img = np.rot90(image, k)
    msk = np.rot90(mask, k)
    if flip:
        img, msk = img[:, ::-1], msk[:, ::-1]
    if angle or sy != 1 or sx != 1:
        h, w = img.shape
        c, s = math.cos(angle), math.sin(angle)
        # output coordinate -> input coordinate: rotate, then scale
        mat = np.array([[c / sy, -s / sy], [s / sx, c / sx]])
        centre = np.array([(h - 1) / 2, (w - 1) / 2])
        off = centre - mat @ centre
        img = ndi.affine_transform(np.ascontiguousarray(img), mat, off, order=1, mode="reflect")
        msk = ndi.affine_transform(np.ascontiguousarray(msk), mat, off, order=0, mode="reflect")
    img = np.clip(img, 0.0, 1.0) ** np.float32(gamma)
    img = np.clip(gain * img + offset, 0.0, 1.0).astype(np.float32)
    return img, np.ascontiguousarray(msk, dtype=np.uint8)
