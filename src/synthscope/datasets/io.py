"""Datasets on disk: ``manifest.json``, ``samples.jsonl``, ``images/``, ``masks/``,
``instances/``. Every file is written to a temporary name and renamed into place, and a
sample's metadata line is appended only after its files exist, so an interrupted run
resumes without corrupt or duplicate samples."""

from __future__ import annotations

import json
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
    "encode_png",
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


def _encode_tiff(array: np.ndarray) -> bytes:
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
        atomic_write_bytes(root / files["image"], _encode_tiff(arr))
        files["mask"] = f"masks/{name}.tif"
        atomic_write_bytes(root / files["mask"], _encode_tiff(sample.mask))
    else:
        if image_format == "png8":
            files["image"] = f"images/{name}.png"
            atomic_write_bytes(root / files["image"], encode_png(image_to_uint(sample.image, 8)))
        elif image_format == "png16":
            files["image"] = f"images/{name}.png"
            atomic_write_bytes(root / files["image"], encode_png(image_to_uint(sample.image, 16)))
        else:
            files["image"] = f"images/{name}.tif"
            atomic_write_bytes(root / files["image"], _encode_tiff(sample.image.astype(np.float32)))
        files["mask"] = f"masks/{name}.png"
        atomic_write_bytes(root / files["mask"], encode_png(sample.mask))
    if sample.instances is not None:
        files["instances"] = f"instances/{name}.tif"
        atomic_write_bytes(root / files["instances"], _encode_tiff(sample.instances.astype(np.int32)))
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


#: how colour images become grey: luminance (ITU-R 601 weights), or the projection on
#: the image's first principal colour axis, which keeps hue-only contrast (tint etching)
GREY_METHODS = ("luminance", "pca")


def to_grey(rgb: np.ndarray, method: str = "luminance") -> np.ndarray:
    """(H, W, 3) colour array to (H, W) float64 grey, same value range as the input."""
    if method not in GREY_METHODS:
        raise ValueError(f"grey method must be one of {GREY_METHODS}, got {method!r}")
    rgb = np.asarray(rgb, dtype=np.float64)[..., :3]
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    if method == "luminance":
        return lum
    x = rgb.reshape(-1, 3)
    sub = x[:: max(1, len(x) // 50000)]
    mu = sub.mean(0)
    _, _, vt = np.linalg.svd(sub - mu, full_matrices=False)
    v = vt[0]
    proj = (x - mu) @ v
    if np.corrcoef(proj[:: max(1, len(x) // 50000)], lum.ravel()[:: max(1, len(x) // 50000)])[0, 1] < 0:
        proj = -proj  # keep bright things bright
    proj = proj.reshape(lum.shape)
    lo, hi = proj.min(), proj.max()
    top = 255.0 if rgb.max() > 1.0 else 1.0
    return (proj - lo) / ((hi - lo) or 1.0) * top


def read_image(path: Path, *, grey: str | None = "luminance") -> np.ndarray:
    """Read PNG/TIFF/JPEG as float32 in [0, 1].

    ``grey`` turns colour into grey: ``"luminance"`` (default) or ``"pca"`` (see
    `to_grey`); ``None`` keeps colour channels. Raises ValueError naming the file when it
    cannot be read.
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
