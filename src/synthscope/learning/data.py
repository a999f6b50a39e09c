"""Torch datasets: samples rendered on the fly from a recipe, or read from a dataset
folder, both augmented and normalised the same way."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from synthscope.datasets.io import open_dataset
from synthscope.imaging.augment import augment_pair
from synthscope.learning.models import normalize_image
from synthscope.params.space import ParameterSpace, stage_rng
from synthscope.recipes.base import Recipe

__all__ = ["RecipeDataset", "FolderDataset", "PairsDataset", "to_tensors"]


def to_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(normalize_image(image))[None]
    y = torch.from_numpy(mask.astype(np.int64))[None]
    return x, y


class RecipeDataset(Dataset):
    """Item ``i`` is sample ``i`` of (recipe, space, entropy), rendered at ``size`` and
    augmented from its own augmentation stream: any item can be regenerated alone.

    Parameters
    ----------
    recipe : Recipe
    space : ParameterSpace or None (the recipe's)
    entropy : int
    size : int, square side of the rendered sample, px
    length : int, nominal length (items are rendered, never stored)
    augment : bool
    scenarios : fixed scenarios instead of draws from ``space``: item ``i`` renders
        ``scenarios[i % len(scenarios)]`` as sample ``i`` (a new realisation each pass)
    refiner : path of a trained sim-to-real refiner (`synthscope refine`): every render
        is refined (labels unchanged) before augmentation
    """

    def __init__(self, recipe: Recipe, space: ParameterSpace | None = None, *, entropy: int = 0,
                 size: int = 256, length: int = 10**9, augment: bool = True, scenarios: list | None = None,
                 refiner=None):
        self.recipe = recipe
        self.space = space or recipe.space
        self.entropy = int(entropy)
        self.size = int(size)
        self.length = int(length)
        self.augment = augment
        if scenarios is not None and len(scenarios) == 0:
            raise ValueError("scenarios: empty list")
        self.scenarios = None if scenarios is None else list(scenarios)
        self.refiner = None if refiner is None else str(refiner)
        self._refiner = None
        if self.refiner is not None:
            from synthscope.learning.refine import refiner_file

            refiner_file(self.refiner)  # fail here, not in a loader worker

    def __len__(self) -> int:
        return self.length

    def sample(self, i: int):
        if self.scenarios is not None:
            return self.recipe.render(self.scenarios[i % len(self.scenarios)], shape=(self.size, self.size), entropy=self.entropy, index=i)
        return self.recipe.render_index(i, entropy=self.entropy, space=self.space, shape=(self.size, self.size))

    def __getitem__(self, i: int):
        s = self.sample(int(i))
        img, mask = s.image, s.mask
        if img.ndim == 3:  # a stack: one of its slices
            j = int(stage_rng(self.entropy, int(i), "slice").integers(img.shape[0]))
            img, mask = img[j], mask[j]
        if self.refiner is not None:
            from synthscope.learning.refine import load_refiner, refine_image

            if self._refiner is None:
                self._refiner = load_refiner(self.refiner)
            img = refine_image(self._refiner, img)
        if self.augment:
            img, mask = augment_pair(img, mask, rng=stage_rng(self.entropy, int(i), "augmentation"))
        return to_tensors(img, mask)


class FolderDataset(Dataset):
    """Random ``size`` crops of a generated dataset folder (item ``i`` uses its own
    stream seeded from (entropy, i)); images smaller than ``size`` are reflect-padded."""

    def __init__(self, root, *, size: int = 256, entropy: int = 0, length: int | None = None, augment: bool = True):
        self.info = open_dataset(root)
        self.size = int(size)
        self.entropy = int(entropy)
        self.augment = augment
        self.length = int(length) if length else 10**9

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        rng = stage_rng(self.entropy, int(i), "augmentation")
        k = int(rng.integers(len(self.info)))
        img, mask = self.info.load(k)
        if img.ndim == 3:  # a stack: one of its slices
            j = int(rng.integers(img.shape[0]))
            img, mask = img[j], mask[j]
        img, mask = random_crop(img, mask, self.size, rng)
        if self.augment:
            img, mask = augment_pair(img, mask, rng=rng)
        return to_tensors(img, mask)


class PairsDataset(Dataset):
    """Random ``size`` crops of image/mask pairs held in memory (a few labelled real
    micrographs), item ``i`` from its own stream seeded from (entropy, i), augmented."""

    def __init__(self, images, masks, *, size: int = 256, entropy: int = 0, length: int = 10**9, augment: bool = True):
        if len(images) != len(masks) or not len(images):
            raise ValueError(f"need as many masks as images (> 0), got {len(images)} and {len(masks)}")
        for k, (a, b) in enumerate(zip(images, masks, strict=True)):
            if a.shape != b.shape:
                raise ValueError(f"pair {k}: image {a.shape} and mask {b.shape} differ in size")
        self.images = [np.asarray(a, np.float32) for a in images]
        self.masks = [np.asarray(b, np.uint8) for b in masks]
        self.size, self.entropy, self.length, self.augment = int(size), int(entropy), int(length), augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        rng = stage_rng(self.entropy, int(i), "augmentation")
        k = int(rng.integers(len(self.images)))
        img, mask = random_crop(self.images[k], self.masks[k], self.size, rng)
        if self.augment:
            img, mask = augment_pair(img, mask, rng=rng)
        return to_tensors(img, mask)


def random_crop(img, mask, size, rng):
    h, w = img.shape
    if h < size or w < size:
        ph, pw = max(0, size - h), max(0, size - w)
        img = np.pad(img, ((0, ph), (0, pw)), mode="reflect")
        mask = np.pad(mask, ((0, ph), (0, pw)), mode="reflect")
        h, w = img.shape
    y = int(rng.integers(h - size + 1))
    x = int(rng.integers(w - size + 1))
    return img[y : y + size, x : x + size], mask[y : y + size, x : x + size]
