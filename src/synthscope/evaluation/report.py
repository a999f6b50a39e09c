"""Reports: Markdown + JSON with metric tables, and PNG figures (overlays of image,
truth and prediction; contact sheets). Figures are composed with Pillow alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from synthscope.datasets.io import atomic_write_bytes, atomic_write_text, encode_png, jsonable

__all__ = ["overlay_figure", "overlay_image", "contact_sheet", "write_report", "to_rgb8"]

_COLOURS = np.array([[0, 0, 0], [255, 60, 40], [40, 200, 255], [255, 220, 0], [160, 80, 255]], np.uint8)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, np.float32)
    lo, hi = np.percentile(img, (0.5, 99.5))
    img = np.clip((img - lo) / ((hi - lo) or 1.0), 0, 1)
    g = (img * 255).astype(np.uint8)
    return np.stack([g, g, g], -1)


def _overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    rgb = to_rgb8(image).astype(np.float32)
    m = np.asarray(mask)
    col = _COLOURS[np.clip(m, 0, len(_COLOURS) - 1)].astype(np.float32)
    on = (m > 0)[..., None]
    return np.where(on, (1 - alpha) * rgb + alpha * col, rgb).astype(np.uint8)


def overlay_image(image: np.ndarray, mask: np.ndarray, *, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) uint8: the image in grey (its first view if it has several) with every
    class above 0 painted in its colour (1 red, 2 cyan, 3 yellow, 4 violet)."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[0]
    if img.shape != np.shape(mask):
        raise ValueError(f"image {img.shape} and mask {np.shape(mask)} differ in shape")
    return _overlay(img, mask, alpha)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(tile)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 7 * len(text) + 6, 14], fill=(0, 0, 0))
    d.text((3, 1), text, fill=(255, 255, 255))
    return np.array(im)


def overlay_figure(image: np.ndarray, truth: np.ndarray | None, pred: np.ndarray, *, max_side: int = 384) -> bytes:
    """PNG bytes: image | truth overlay | prediction overlay, side by side."""
    tiles = [_label(to_rgb8(image), "image")]
    if truth is not None:
        tiles.append(_label(_overlay(image, truth), "truth"))
    tiles.append(_label(_overlay(image, pred), "prediction"))
    fig = np.concatenate([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles], 1)
    im = Image.fromarray(fig)
    scale = max_side / max(image.shape)
    if scale < 1:
        im = im.resize((int(im.width * scale), int(im.height * scale)), Image.BILINEAR)
    return _png(im)


def _png(im: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def contact_sheet(rows: list[tuple[str, list[np.ndarray]]], *, tile: int = 192) -> bytes:
    """PNG bytes of labelled rows of tiles (grey images or RGB arrays)."""
    n_cols = max(len(t) for _, t in rows)
    sheet = np.full((len(rows) * (tile + 18), n_cols * (tile + 4), 3), 255, np.uint8)
    for r, (title, tiles) in enumerate(rows):
        y = r * (tile + 18)
        head = Image.fromarray(sheet[y : y + 16])
        ImageDraw.Draw(head).text((2, 2), title, fill=(0, 0, 0))
        sheet[y : y + 16] = np.array(head)
        for c, t in enumerate(tiles):
            rgb = t if t.ndim == 3 else to_rgb8(t)
            im = Image.fromarray(rgb).resize((tile, tile), Image.BILINEAR)
            sheet[y + 16 : y + 16 + tile, c * (tile + 4) : c * (tile + 4) + tile] = np.array(im)
    return _png(Image.fromarray(sheet))


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def write_report(out: Path, results: list, *, title: str, meta: dict, figures: dict[str, list[str]]) -> Path:
    """Write ``report.md`` and ``report.json`` for a list of `FolderScores`."""
    out = Path(out)
    lines = [f"# {title}", ""]
    for k, v in meta.items():
        lines.append(f"- **{k}**: {v}")
    lines.append("")
    def get(scores, k):
        if k.startswith("iou_"):
            return scores.get("iou", {}).get(int(k[4:]))
        return scores.get(k)

    def present(keys, rows):
        return [k for k in keys if any(_fmt(get(r, k)) != "n/a" for r in rows)]

    models = [r.model for r in results]
    classes = sorted({int(c) for m in models for c in m.get("iou", {}) if int(c) > 0})
    keys = present(["boundary_f1", "boundary_precision", "boundary_recall", "boundary_f1_unthinned",
                    *(f"iou_{c}" for c in classes),
                    "mean_iou", "dice", "pixel_error", "instance_ap50", "instance_count_error", "instance_size_ks"],
                   models + [b for r in results for b in (*r.baselines.values(), *r.references.values())])
    lines += ["## Summary", "", "| dataset | method | " + " | ".join(keys) + " |",
              "|---|---|" + "---|" * len(keys)]
    for r in results:
        lines.append(f"| {r.name} | **model** | " + " | ".join(_fmt(get(r.model, k)) for k in keys) + " |")
        for ref in sorted(r.references):
            lines.append(f"| {r.name} | {ref} | " + " | ".join(_fmt(get(r.references[ref], k)) for k in keys) + " |")
        for b in sorted(r.baselines):
            star = " (best)" if b == r.best_baseline else ""
            lines.append(f"| {r.name} | {b}{star} | " + " | ".join(_fmt(get(r.baselines[b], k)) for k in keys) + " |")
    lines.append("")
    gkeys = present(["grain_count_pred", "grain_count_true", "mean_grain_area_pred", "mean_grain_area_true",
                     "astm_pred", "astm_true", "grain_size_ks"], models)
    if gkeys:
        lines += ["## Grain statistics (model, mean over images)", "",
                  "| dataset | " + " | ".join(gkeys) + " |", "|---|" + "---|" * len(gkeys)]
        for r in results:
            lines.append(f"| {r.name} | " + " | ".join(_fmt(r.model.get(k)) for k in gkeys) + " |")
        lines.append("")
    for r in results:
        pkeys = present(["boundary_f1", "mean_iou", "pixel_error", "instance_ap50",
                         *(k for k in r.per_image[0] if any(k.startswith(f"{ref}_") for ref in r.references))],
                        r.per_image)
        lines += [f"## {r.name}", "", "| image | " + " | ".join(pkeys) + " |", "|---|" + "---|" * len(pkeys)]
        for p in r.per_image:
            lines.append(f"| {p['stem']} | " + " | ".join(_fmt(p.get(k)) for k in pkeys) + " |")
        lines.append("")
        for f in figures.get(r.name, []):
            lines.append(f"![{f}]({f})")
        lines.append("")
    atomic_write_text(out / "report.md", "\n".join(lines))
    data = {"title": title, "meta": meta, "datasets": [
        {"name": r.name, "model": r.model, "baselines": r.baselines, "best_baseline": r.best_baseline,
         "references": r.references, "per_image": r.per_image} for r in results]}
    atomic_write_text(out / "report.json", json.dumps(jsonable(data), indent=2, allow_nan=False))
    return out / "report.md"


def save_png(path: Path, array: np.ndarray) -> None:
    atomic_write_bytes(Path(path), encode_png(array))
