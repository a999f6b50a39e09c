"""Rendering many samples into a dataset folder: a local process pool, resumable and
deterministic (sample i depends only on (entropy, i), never on the worker count)."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from synthscope import __version__
from synthscope.datasets.io import (
    MANIFEST,
    SAMPLES,
    atomic_write_text,
    new_manifest,
    read_records,
    write_sample_files,
)
from synthscope.params.space import DESIGNS, ParameterSpace
from synthscope.recipes.base import Recipe

__all__ = ["generate", "design_scenarios"]

log = logging.getLogger(__name__)

#: spawn key of the whole-dataset design stream (quasi-random designs); far from any
#: sample index, so it never collides with a sample's own stream
_DESIGN_KEY = 2**31 - 1


def design_scenarios(space: ParameterSpace, n: int, *, entropy: int, design: str = "random") -> list[dict]:
    """The scenarios of samples 0..n-1. For ``random`` each comes from its own stream;
    Sobol and LHS designs are drawn once for the whole dataset from ``entropy``."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    if design == "random":
        return [space.sample_one(entropy, i) for i in range(n)]
    rng = np.random.default_rng(np.random.SeedSequence(int(entropy), spawn_key=(_DESIGN_KEY,)))
    return space.sample(n, design=design, rng=rng)


def _start_method() -> str:
    """``fork`` where it is safe (POSIX, no torch threads in this process): no re-import
    of the caller's script, so plain scripts without a main guard work; else ``spawn``."""
    import sys

    if "fork" in mp.get_all_start_methods() and "torch" not in sys.modules and sys.platform != "darwin":
        return "fork"
    return "spawn"


def _render_chunk(recipe: Recipe, items: list, shape, entropy: int, root: str, image_format: str) -> list[dict]:
    out = []
    for index, scenario in items:
        sample = recipe.render(scenario, shape=shape, entropy=entropy, index=index)
        out.append(write_sample_files(Path(root), sample, image_format=image_format))
    return out


def _check_existing(root: Path, manifest: dict) -> None:
    old = json.loads((root / MANIFEST).read_text())
    for key in ("recipe", "parameters", "entropy", "count", "size", "design"):
        if old.get(key) != manifest.get(key):
            raise ValueError(
                f"{root}: holds a dataset with another {key} ({old.get(key)!r}); "
                "use another --out or the same settings to resume"
            )


def generate(
    recipe: Recipe,
    n: int,
    out: str | Path,
    *,
    space: ParameterSpace | None = None,
    entropy: int = 0,
    size: tuple[int, int] | None = None,
    workers: int = 1,
    design: str = "random",
    image_format: str = "png8",
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 4,
) -> Path:
    """Render ``n`` samples of ``recipe`` into the dataset folder ``out``.

    Parameters
    ----------
    recipe : Recipe
    n : int >= 1
    out : folder; created, or resumed when it holds an interrupted run of the same settings
    space : ParameterSpace, default the recipe's
    entropy : int, the dataset's one seed
    size : (H, W), or (D, H, W) for a recipe of stacks; default the recipe's default size
    workers : int >= 1, processes
    design : 'random', 'sobol' or 'lhs'
    image_format : 'png8', 'png16' or 'tiff' (float32)
    progress : callable(done, total), called as samples finish
    chunk : samples per task

    Returns
    -------
    Path of the dataset folder.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if image_format not in ("png8", "png16", "tiff"):
        raise ValueError(f"image_format must be one of png8, png16, tiff, got {image_format!r}")
    space = space or recipe.space
    shape = tuple(int(s) for s in (size or recipe.default_size))
    stacks = len(recipe.default_size) == 3
    if len(shape) == 3 and stacks:
        if not 1 <= shape[0] <= 4096 or min(shape[1:]) < 16 or max(shape[1:]) > 16384:
            raise ValueError(f"size must be D H W with D in [1, 4096] and H, W in [16, 16384], got {list(shape)}")
    elif len(shape) != 2 or min(shape) < 16 or max(shape) > 16384:
        what = "two numbers H W (or D H W for a stack recipe)" if stacks else "two numbers H W"
        raise ValueError(f"size must be {what} in [16, 16384], got {size}")
    root = Path(out)
    manifest = new_manifest(
        recipe=recipe.name, space=space.to_dict(), entropy=entropy, count=n, size=shape,
        design=design, version=__version__,
    )
    scenarios = design_scenarios(space, n, entropy=entropy, design=design)

    created = False
    if (root / MANIFEST).exists():
        _check_existing(root, manifest)
        for stray in root.rglob(".*.tmp"):
            stray.unlink(missing_ok=True)
    else:
        if root.exists() and any(root.iterdir()):
            raise ValueError(f"{root}: folder exists and is not a synthscope dataset; choose another --out")
        created = not root.exists()
        for sub in ("images", "masks", "instances"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=2))

    try:
        done = {r["index"] for r in read_records(root)}
        todo = [(i, scenarios[i]) for i in range(n) if i not in done]
        total, count = n, len(done)
        if progress:
            progress(count, total)
        with open(root / SAMPLES, "a", encoding="utf-8") as log_fh:
            # a line torn by an interruption: start on a fresh line
            if log_fh.tell() > 0 and not (root / SAMPLES).read_bytes().endswith(b"\n"):
                log_fh.write("\n")

            def record(recs):
                nonlocal count
                for rec in recs:
                    log_fh.write(json.dumps(rec, sort_keys=True) + "\n")
                log_fh.flush()
                os.fsync(log_fh.fileno())
                count += len(recs)
                if progress:
                    progress(count, total)

            chunks = [todo[k : k + chunk] for k in range(0, len(todo), chunk)]
            if workers == 1 or len(chunks) <= 1:
                for c in chunks:
                    record(_render_chunk(recipe, c, shape, entropy, str(root), image_format))
            else:
                ctx = mp.get_context(_start_method())
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    futs = [
                        pool.submit(_render_chunk, recipe, c, shape, entropy, str(root), image_format)
                        for c in chunks
                    ]
                    for f in as_completed(futs):
                        record(f.result())
    except BaseException:
        if created and not read_records(root):
            shutil.rmtree(root, ignore_errors=True)  # nothing worth resuming
        raise

    # final, canonical order: identical files whatever the worker count or interruptions
    recs = {r["index"]: r for r in read_records(root)}
    lines = "".join(json.dumps(recs[i], sort_keys=True) + "\n" for i in sorted(recs))
    atomic_write_text(root / SAMPLES, lines)
    log.info("wrote %d samples to %s", len(recs), root)
    return root
