"""Folders of real micrographs with optional hand-labelled masks (``images/``, ``masks/``
paired by file stem), as in ``../shared/data/real/<name>/``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from synthscope.datasets.io import GREY_METHODS, read_image

__all__ = ["RealFolder", "IMAGE_SUFFIXES", "list_images"]

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _read_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            arr = np.array(im)
    except Exception as err:
        raise ValueError(f"{path}: cannot read mask ({type(err).__name__})") from None
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr


@dataclass(frozen=True)
class RealFolder:
    """Real images, and masks where present.

    Parameters
    ----------
    path : folder with ``images/`` (and ``masks/``), or a folder of images
    class_map : mapping of mask value to class index (e.g. ``{255: 1}``); values not
        listed keep their own value
    require_masks : bool, every image must have a mask of the same size
    grey : how colour images become grey, one of ``GREY_METHODS`` (``luminance``,
        ``pca``, ``fuse``: colour images as (K, H, W) stacks of colour views)

    Raises
    ------
    ValueError naming the folder or file for a missing/empty folder, an unreadable
    image or mask, or a mask whose size differs from its image.
    """

    path: Path
    class_map: Mapping[int, int] | None = None
    require_masks: bool = False
    grey: str = "luminance"
    images: list = field(default_factory=list, init=False)
    masks: list = field(default_factory=list, init=False)
    classes: dict = field(default_factory=dict, init=False)

    def __post_init__(self):
        root = Path(self.path)
        object.__setattr__(self, "path", root)
        if self.grey not in GREY_METHODS:
            raise ValueError(f"grey must be one of {GREY_METHODS}, got {self.grey!r}")
        if not root.is_dir():
            raise ValueError(f"{root}: no such folder")
        img_dir = root / "images" if (root / "images").is_dir() else root
        images = list_images(img_dir)
        if not images:
            raise ValueError(f"{img_dir}: no images (allowed: {', '.join(IMAGE_SUFFIXES)})")
        mask_dir = root / "masks"
        masks = []
        for img in images:
            cands = [p for p in mask_dir.glob(img.stem + ".*") if p.suffix.lower() in IMAGE_SUFFIXES] if mask_dir.is_dir() else []
            if not cands and self.require_masks:
                raise ValueError(f"{img}: no mask with stem {img.stem!r} in {mask_dir}")
            masks.append(cands[0] if cands else None)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "masks", masks)
        cj = root / "classes.json"
        if cj.is_file():
            try:
                object.__setattr__(self, "classes", {int(k): v for k, v in json.loads(cj.read_text()).items()})
            except (json.JSONDecodeError, ValueError, AttributeError):
                raise ValueError(f"{cj}: malformed (expected {{\"0\": \"name\", ...}})") from None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def has_masks(self) -> bool:
        return all(m is not None for m in self.masks)

    def stem(self, i: int) -> str:
        return self.images[i].stem

    def image(self, i: int) -> np.ndarray:
        return read_image(self.images[i], grey=self.grey)

    def mask(self, i: int) -> np.ndarray | None:
        mp = self.masks[i]
        if mp is None:
            return None
        m = _read_mask(mp)
        if self.class_map:
            out = m.copy()
            for src, dst in self.class_map.items():
                out[m == src] = dst
            m = out
        return m.astype(np.uint8)

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        img = self.image(i)
        m = self.mask(i)
        if m is not None and m.shape != img.shape[-2:]:
            raise ValueError(f"{self.masks[i]}: mask is {m.shape[1]}x{m.shape[0]}, image {self.images[i].name} is {img.shape[1]}x{img.shape[0]}")
        return img, m
