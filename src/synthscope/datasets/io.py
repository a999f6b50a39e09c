"""Datasets on disk: ``manifest.json``, ``samples.jsonl``, ``images/``, ``masks/``,
``instances/``. Every file is written to a temporary name and renamed into place, and a
sample's metadata line is appended only after its files exist, so an interrupted run
resumes without corrupt or duplicate samples."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from synthscope.datasets.sample import Sample

__all__ = [
    "DatasetInfo",
    "atomic_write_bytes",
    "atomic_write_text",
    "colour_views",
    "encode_png",
    "encode_tiff",
    "read_image",
    "write_sample_files",
    "open_dataset",
    "sample_name",
    "git_hash",
]

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"


def sample_name(index: int) -> str:
    return f"{index:06d}"


def _file_mode() -> int:
    # mkstemp makes 0600 files; give the finished file the usual permissions
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never
    see a half-written file, and an interruption leaves at most a ``.*.tmp`` behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 or uint16 2D array (deterministic for equal input)."""
    import io

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def encode_tiff(array: np.ndarray) -> bytes:
    """zlib-compressed TIFF bytes of an array (any dtype tifffile writes; deterministic)."""
    import io

    buf = io.BytesIO()
    tifffile.imwrite(buf, array, compression="zlib", metadata=None)
    return buf.getvalue()


def image_to_uint(image: np.ndarray, bits: int = 8) -> np.ndarray:
    scale = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * scale).astype(dtype)


def write_sample_files(root: Path, sample: Sample, *, image_format: str = "png8") -> dict:
    """Write a sample's arrays; returns its metadata record (for samples.jsonl)."""
    root = Path(root)
    name = sample_name(sample.index)
    files = {}
    if image_format not in ("png8", "png16", "tiff"):
        raise ValueError(f"image_format must be one of png8, png16, tiff, got {image_format!r}")
    if sample.image.ndim == 3:
        # a stack (serial sections): TIFF stacks, in the requested depth
        files["image"] = f"images/{name}.tif"
        arr = {"png8": lambda a: image_to_uint(a, 8), "png16": lambda a: image_to_uint(a, 16),
               "tiff": lambda a: a.astype(np.float32)}[image_format](sample.image)
        atomic_write_bytes(root / files["image"], encode_tiff(arr))
        files["mask"] = f"masks/{name}.tif"
        atomic_write_bytes(root / files["mask"], encode_tiff(sample.mask))
    else:
        if image_format == "png8":
            files["image"] = f"images/{name}.png"
            atomic_write_bytes(root / files["image"], encode_png(image_to_uint(sample.image, 8)))
        elif image_format == "png16":
            files["image"] = f"images/{name}.png"
            atomic_write_bytes(root / files["image"], encode_png(image_to_uint(sample.image, 16)))
        else:
            files["image"] = f"images/{name}.tif"
            atomic_write_bytes(root / files["image"], encode_tiff(sample.image.astype(np.float32)))
        files["mask"] = f"masks/{name}.png"
        atomic_write_bytes(root / files["mask"], encode_png(sample.mask))
    if sample.instances is not None:
        files["instances"] = f"instances/{name}.tif"
        atomic_write_bytes(root / files["instances"], encode_tiff(sample.instances.astype(np.int32)))
    return {
        "index": int(sample.index),
        "scenario": jsonable(sample.scenario),
        "stats": jsonable(sample.stats),
        "label": sample.label,
        "files": files,
    }


def jsonable(d):
    """A copy of ``d`` that json can write strictly: numpy scalars to Python, NaN/inf to None."""
    if isinstance(d, dict):
        return {k: jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [jsonable(v) for v in d]
    if isinstance(d, np.generic):
        return d.item()
    if isinstance(d, float) and not np.isfinite(d):
        return None
    return d


#: how colour images become grey: luminance (ITU-R 601 weights); the projection on the
#: image's first principal colour axis, which keeps hue-only contrast (tint etching);
#: or 'fuse': a stack of the projections on the first two principal axes (see
#: `colour_views`), each segmented and their evidence fused (`synthscope.learning.predict`)
GREY_METHODS = ("luminance", "pca", "fuse")

#: `colour_views` keeps the second principal colour axis only when its std is at least
#: this share of the first's. Below it the axis holds mostly noise and compression
#: residue (grey images stored as RGB have none at all; the third axis of tint-etched
#: sections, at 0.11-0.15, only added false boundaries, while their second is at
#: 0.40-0.76), and a network finds 8-21 % "boundary" pixels in a pure-noise view.
MIN_AXIS_RATIO = 0.25

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luminance weights


def _principal_axes(rgb: np.ndarray):
    """Pixels (N, 3), their mean, the principal axes' stds and directions (rows) and
    the luminance of an RGB array (axes estimated from at most ~50 000 pixels)."""
    rgb = np.asarray(rgb, dtype=np.float64)[..., :3]
    x = rgb.reshape(-1, 3)
    sub = x[:: max(1, len(x) // 50000)]
    mu = sub.mean(0)
    _, sv, vt = np.linalg.svd(sub - mu, full_matrices=False)
    lum = rgb @ _LUMA
    return x, mu, sv / math.sqrt(max(len(sub), 1)), vt, lum


def _projection(x, mu, v, shape, lum=None):
    """Pixels projected on axis ``v``, as an (H, W) array scaled to [0, 1]; with ``lum``
    its sign is chosen so that bright things stay bright, else so that the axis's largest
    component is positive (a fixed, reproducible choice)."""
    proj = (x - mu) @ v
    if lum is not None:
        step = max(1, len(x) // 50000)
        flip = np.corrcoef(proj[::step], lum.ravel()[::step])[0, 1] < 0
    else:
        flip = v[np.argmax(np.abs(v))] < 0
    if flip:
        proj = -proj
    lo, hi = proj.min(), proj.max()
    return ((proj - lo) / ((hi - lo) or 1.0)).reshape(shape)


def colour_views(rgb: np.ndarray, *, max_views: int = 2, min_ratio: float = MIN_AXIS_RATIO) -> np.ndarray:
    """Grey views of a colour image along its principal colour axes.

    Tint-etched micrographs tell neighbouring grains apart by hue as well as brightness;
    any single grey projection loses some of those steps, and the second axis shows the
    ones that the first hides. A network segments each view and
    `synthscope.learning.fuse_probabilities` keeps the strongest evidence.

    Parameters
    ----------
    rgb : (H, W, 3 or 4) array (alpha ignored), any range
    max_views : 1 to 3, the most axes to keep
    min_ratio : an axis after the first is kept only if its std is at least this share
        of the first's

    Returns
    -------
    (K, H, W) float32 in [0, 1], K >= 1; view 0 is `to_grey` (``"pca"``) of the image.
    """
    if not 1 <= max_views <= 3:
        raise ValueError(f"max_views must be 1, 2 or 3, got {max_views}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) colour image, got shape {rgb.shape}")
    x, mu, sd, vt, lum = _principal_axes(rgb)
    views = [_projection(x, mu, vt[0], lum.shape, lum)]
    for k in range(1, max_views):
        if not sd[k] >= min_ratio * sd[0] or sd[0] == 0:
            break
        views.append(_projection(x, mu, vt[k], lum.shape))
    return np.stack(views).astype(np.float32)


def to_grey(rgb: np.ndarray, method: str = "luminance") -> np.ndarray:
    """(H, W, 3) colour array to (H, W) float64 grey, same value range as the input
    (methods 'luminance' and 'pca'; 'fuse' makes several views: `colour_views`)."""
    if method not in GREY_METHODS[:2]:
        raise ValueError(f"grey method must be one of {GREY_METHODS[:2]}, got {method!r}")
    if method == "luminance":  # no need for the principal axes
        return np.asarray(rgb, dtype=np.float64)[..., :3] @ _LUMA
    x, mu, _, vt, lum = _principal_axes(rgb)
    top = 255.0 if np.asarray(rgb)[..., :3].max() > 1.0 else 1.0
    return _projection(x, mu, vt[0], lum.shape, lum) * top


def read_image(path: Path, *, grey: str | None = "luminance") -> np.ndarray:
    """Read PNG/TIFF/JPEG as float32 in [0, 1].

    ``grey`` turns colour into grey: ``"luminance"`` (default) or ``"pca"`` (see
    `to_grey`); ``"fuse"`` gives a colour image as a (K, H, W) stack of `colour_views`
    (K = 2 for most colour images; a grey image, or one whose colours lie along one
    axis, stays (H, W)); ``None`` keeps colour channels. Raises ValueError naming the
    file when it cannot be read.
    """
    path = Path(path)
    if grey is not None and grey not in GREY_METHODS:
        raise ValueError(f"grey must be one of {GREY_METHODS} or None, got {grey!r}")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            arr = tifffile.imread(path)
        else:
            with Image.open(path) as im:
                if im.mode in ("P", "LA", "PA", "CMYK", "YCbCr", "HSV", "RGBA", "1"):
                    im = im.convert("RGB")
                arr = np.array(im)
    except Exception as err:  # PIL raises many kinds for a bad file
        raise ValueError(f"{path}: cannot read image ({type(err).__name__})") from None
    if grey == "fuse" and arr.ndim == 3 and arr.shape[-1] in (3, 4):
        views = colour_views(arr)
        if len(views) > 1:
            return views
        arr = views[0]
    if grey is not None and arr.ndim == 3:
        if arr.shape[-1] in (3, 4):
            dtype = arr.dtype
            arr = to_grey(arr, grey)
            arr = np.clip(np.round(arr), 0, np.iinfo(dtype).max).astype(dtype) if dtype.kind == "u" else arr
        else:
            raise ValueError(f"{path}: expected a 2D image or RGB, got shape {arr.shape}")
    if arr.ndim != 2 and grey is not None:
        raise ValueError(f"{path}: expected a 2D image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return (arr / 255.0).astype(np.float32)
    if arr.dtype == np.uint16:
        return (arr / 65535.0).astype(np.float32)
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: image holds NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        arr = (arr - lo) / ((hi - lo) or 1.0)
    return arr


def git_hash() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except Exception:
        return None


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset folder: its manifest and sample records."""

    root: Path
    manifest: dict
    records: list

    def __len__(self) -> int:
        return len(self.records)

    def image_path(self, i: int) -> Path:
        return self.root / self.records[i]["files"]["image"]

    def mask_path(self, i: int) -> Path:
        return self.root / self.records[i]["files"]["mask"]

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image in [0, 1] and mask of sample i: (H, W), or (D, H, W) for a stack."""
        path = self.image_path(i)
        if path.suffix == ".tif" and self.mask_path(i).suffix == ".tif":
            img = tifffile.imread(path)
            if img.dtype == np.uint8:
                img = img.astype(np.float32) / 255
            elif img.dtype == np.uint16:
                img = img.astype(np.float32) / 65535
            mask = tifffile.imread(self.mask_path(i)).astype(np.uint8)
            return img.astype(np.float32), mask
        img = read_image(path)
        with Image.open(self.mask_path(i)) as im:
            mask = np.array(im).astype(np.uint8)
        return img, mask


def new_manifest(*, recipe: str, space: dict, entropy: int, count: int, size, design: str, version: str) -> dict:
    return {
        "format": "synthscope-dataset/1",
        "recipe": recipe,
        "parameters": space,
        "entropy": int(entropy),
        "count": int(count),
        "size": [int(s) for s in size],
        "design": design,
        "synthscope_version": version,
        "git_hash": git_hash(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def read_records(root: Path) -> list[dict]:
    """Sample records of a (possibly interrupted) dataset; a torn last line is ignored."""
    path = Path(root) / SAMPLES
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interruption; its sample is redone
    return out


def open_dataset(root: str | Path) -> DatasetInfo:
    root = Path(root)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise ValueError(f"{root}: not a synthscope dataset (no {MANIFEST})")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError:
        raise ValueError(f"{mpath}: malformed JSON") from None
    records = sorted(read_records(root), key=lambda r: r["index"])
    if not records:
        raise ValueError(f"{root}: dataset holds no samples")
    return DatasetInfo(root=root, manifest=manifest, records=records)
