"""The `Specimen`: ground truth of one synthetic sample before imaging.

Label maps (what a network must predict) plus the material maps an imaging model turns
into pixels, and summary statistics of the structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Specimen"]


@dataclass(frozen=True)
class Specimen:
    """Ground truth of one sample.

    Attributes
    ----------
    labels : (H, W) uint8
        Class map, 0 = background.
    instances : (H, W) int32 or None
        Instance map, 0 = none.
    maps : dict of str to (H, W) float32
        Material maps for the imaging model, e.g. ``tint`` (material brightness in
        [0, 1]) and ``height`` (topography in units of the groove depth).
    stats : dict
        Summary statistics (grain count, mean grain area, ...), JSON-serialisable.
    """

    labels: np.ndarray
    instances: np.ndarray | None = None
    maps: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.labels.dtype != np.uint8 or self.labels.ndim not in (2, 3):
            raise ValueError(f"labels must be a 2D/3D uint8 array, got {self.labels.dtype} {self.labels.shape}")
        if self.instances is not None and self.instances.shape != self.labels.shape:
            raise ValueError("instances must have the shape of labels")
        for name, m in self.maps.items():
            if m.shape != self.labels.shape:
                raise ValueError(f"map {name!r} has shape {m.shape}, labels have {self.labels.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.labels.shape

    def with_maps(self, **maps: np.ndarray) -> Specimen:
        return replace(self, maps={**self.maps, **maps})

    def with_stats(self, **stats) -> Specimen:
        return replace(self, stats={**self.stats, **stats})

    def magnified(self, shape: tuple[int, int]) -> Specimen:
        """This 2D specimen enlarged to ``shape`` (a higher magnification of the same
        structure): material maps by linear interpolation, labels and instances by
        nearest neighbour, so classes stay exact. Statistics are kept as they are (in
        the pixels of the unmagnified grid)."""
        if self.labels.ndim != 2:
            raise ValueError(f"magnified: a 2D specimen is needed, got shape {self.labels.shape}")
        from scipy import ndimage as ndi

        h, w = (int(v) for v in shape)
        if (h, w) == self.labels.shape:
            return self
        z = (h / self.labels.shape[0], w / self.labels.shape[1])

        def up(a, order):
            return ndi.zoom(a, z, order=order, grid_mode=True, mode="nearest")

        return replace(
            self,
            labels=up(self.labels, 0),
            instances=None if self.instances is None else up(self.instances, 0),
            maps={k: up(np.asarray(m, np.float32), 1) for k, m in self.maps.items()},
        )
