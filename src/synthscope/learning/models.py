"""Networks from MONAI behind a small registry: `create_model(arch, ...)`."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["create_model", "MODELS", "normalize_image", "normalization"]

import numpy as np


def normalization(image: np.ndarray) -> tuple[float, float]:
    """(offset, scale) of `normalize_image`: normalised = (image - offset) * scale."""
    img = np.asarray(image, dtype=np.float32)
    lo, med, hi = np.percentile(img[:: max(1, img.shape[0] // 256), :: max(1, img.shape[1] // 256)], (1, 50, 99))
    span = float(hi - lo)
    if span < 1e-6:
        span = float(img.std()) * 4 or 1.0
    return float(med), 2.0 / span


def normalize_image(image: np.ndarray) -> np.ndarray:
    """Robust per-image standardisation used for training and inference alike:
    median to 0 and the 1-99 percentile span to 2, so real and synthetic images of any
    brightness and contrast reach the network on one scale."""
    img = np.asarray(image, dtype=np.float32)
    offset, scale = normalization(img)
    return ((img - offset) * scale).astype(np.float32)


def _unet(in_channels, out_channels, width=16, depth=5, **kw):
    from monai.networks.nets import UNet

    channels = tuple(width * 2**i for i in range(depth))
    return UNet(
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=channels,
        strides=(2,) * (depth - 1),
        num_res_units=2,  # residual units in encoder and decoder
        norm="INSTANCE",
        **kw,
    )


def _resnet_unet(in_channels, out_channels, backbone="resnet18", **kw):
    from monai.networks.nets import FlexibleUNet

    return FlexibleUNet(in_channels, out_channels, backbone=backbone, pretrained=False, **kw)


MODELS: dict[str, Callable] = {
    "unet": _unet,
    "resnet18-unet": lambda i, o, **kw: _resnet_unet(i, o, backbone="resnet18", **kw),
    "resnet10-unet": lambda i, o, **kw: _resnet_unet(i, o, backbone="resnet10", **kw),
}


def create_model(arch: str = "unet", *, in_channels: int = 1, out_channels: int = 2, **kwargs):
    """A segmentation network by name.

    Parameters
    ----------
    arch : one of MODELS: ``unet`` (MONAI U-Net with residual units), ``resnet10-unet``
        and ``resnet18-unet`` (MONAI FlexibleUNet with a ResNet encoder, from scratch)
    in_channels, out_channels : int
    **kwargs : passed to the constructor (``width``, ``depth`` for ``unet``)
    """
    if arch not in MODELS:
        raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(MODELS)}")
    return MODELS[arch](in_channels, out_channels, **kwargs)
