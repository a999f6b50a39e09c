"""The `Sample`: one labelled image with the scenario that made it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Sample"]


@dataclass(frozen=True)
class Sample:
    """One rendered sample.

    Attributes
    ----------
    image : (H, W) float32 in [0, 1], or (D, H, W) for a stack of serial sections
    mask : uint8 class map of the image's shape, 0 = background
    instances : (H, W) int32 or None
    label : int or None, for classification
    scenario : dict, the concrete parameter values
    index : int, position in its dataset
    stats : dict, structure statistics
    """

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray | None = None
    label: int | None = None
    scenario: dict = field(default_factory=dict)
    index: int = 0
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.image.dtype != np.float32:
            raise ValueError(f"image must be float32, got {self.image.dtype}")
        if self.mask.dtype != np.uint8 or self.mask.shape != self.image.shape:
            raise ValueError("mask must be uint8 with the image's shape")
