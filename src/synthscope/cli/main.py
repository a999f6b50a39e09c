"""The ``synthscope`` command: parse, build configs, call the library, show progress.

Bad input ends with one line ``error: ...`` naming the file or key, exit code 2, and no
partial output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic training data for microscopy image analysis.")
console = Console(stderr=True)


class UserError(Exception):
    """Bad input: reported as one line, exit code 2."""


def fail(msg: str):
    raise UserError(msg)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    disable=not console.is_terminal and os.environ.get("SYNTHSCOPE_PROGRESS") != "1")


def _stage_progress(p: Progress):
    """A ``progress(stage, done, total)`` callback that shows one bar per stage."""
    tasks = {}

    def cb(stage, done, total):
        if stage not in tasks:
            tasks[stage] = p.add_task(stage, total=total)
        p.update(tasks[stage], completed=done, total=total)

    return cb


@contextmanager
def _staged_output(out: Path):
    """Write into a temporary sibling folder, rename onto ``out`` on success only."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        fail(f"{out}: output folder exists and is not empty; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)


def _texture_recipe(recipe_name: str, textures: Path, crack_class: int = 1):
    """Recipe ``surface_cracks`` with a texture dictionary cut from the images in
    ``textures`` (pixels of mask value ``crack_class`` and their surroundings left out)."""
    from synthscope.datasets import RealFolder
    from synthscope.recipes.surface_cracks import make_surface_cracks
    from synthscope.structures.exemplar import TextureDictionary

    if recipe_name != "surface_cracks":
        fail(f"--textures applies to recipe surface_cracks only, not {recipe_name!r}")
    folder = RealFolder(textures)
    pairs = [folder.pair(i) for i in range(len(folder))]
    masks = [None if m is None else m == crack_class for _, m in pairs]
    try:
        d = TextureDictionary.from_images([im for im, _ in pairs], masks, rng=0)
    except ValueError as err:
        fail(f"{textures}: {err}")
    return make_surface_cracks(d)


def _space(recipe_name: str | None, scenario: Path | None, sets: list[str] | None, textures: Path | None = None):
    from synthscope.recipes import get_recipe, load_scenario_file

    overrides = {}
    if scenario is not None:
        named, overrides = load_scenario_file(scenario)
        if recipe_name and named and named != recipe_name:
            fail(f"{scenario}: names recipe {named!r} but the command names {recipe_name!r}")
        recipe_name = recipe_name or named
    if not recipe_name:
        fail("no recipe given (name one, or set 'recipe:' in the scenario file)")
    recipe = get_recipe(recipe_name) if textures is None else _texture_recipe(recipe_name, textures)
    try:
        space = recipe.space.with_overrides(overrides)
    except ValueError as err:
        fail(f"{scenario}: {err}" if scenario else str(err))
    try:
        space = space.with_sets(sets)
    except ValueError as err:
        fail(f"--set {err}")
    return recipe, space


def _size(size: tuple[int, int] | None, default):
    if not size or tuple(size) == (0, 0):
        return tuple(default)
    if len(size) != 2 or min(size) < 16 or max(size) > 16384:
        fail(f"--size takes two numbers H W in [16, 16384], got {list(size)}")
    return tuple(int(s) for s in size)


# ---------------------------------------------------------------------------------------
@app.command()
def recipes(name: Annotated[str | None, typer.Argument(help="show this recipe's parameters")] = None):
    """List recipes, or show one recipe's parameters."""
    from rich.table import Table

    from synthscope.recipes import get_recipe, list_recipes

    out = Console(width=None if sys.stdout.isatty() else 200)
    if name is None:
        for n in list_recipes():
            out.print(f"[bold]{n}[/]: {get_recipe(n).description}")
        return
    r = get_recipe(name)
    t = Table(title=f"{r.name}: {r.description}")
    t.add_column("parameter", no_wrap=True)
    for col in ("default distribution", "allowed", "meaning"):
        t.add_column(col)
    for d in r.space.describe():
        t.add_row(d["name"], d["distribution"], d["allowed"], d["doc"])
    out.print(t)


@app.command()
def generate(
    recipe: Annotated[str, typer.Argument(help="recipe name (see `synthscope recipes`)")],
    out: Annotated[Path, typer.Option(help="dataset folder")],
    n: Annotated[int, typer.Option(help="number of samples")] = 100,
    size: Annotated[tuple[int, int], typer.Option(help="image size H W (px); default the recipe's")] = (0, 0),
    entropy: Annotated[int, typer.Option(help="the dataset's seed")] = 0,
    workers: Annotated[int, typer.Option(help="processes")] = 1,
    scenario: Annotated[Path | None, typer.Option(help="scenario YAML overriding parameters")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help='override, e.g. n_grains="uniform(20,120)"')] = None,
    design: Annotated[str, typer.Option(help="random, sobol or lhs")] = "random",
    image_format: Annotated[str, typer.Option("--format", help="png8, png16 or tiff")] = "png8",
    textures: Annotated[Path | None, typer.Option(help="surface_cracks: quilt textures from the crack-free parts of these images")] = None,
    slices: Annotated[int, typer.Option(help="stack recipes (fibsem_porous): slices per stack; 0 the recipe's")] = 0,
):
    """Render N labelled samples into a dataset folder (resumes an interrupted run)."""
    from synthscope.engine import generate as run

    r, space = _space(recipe, scenario, set_, textures)
    stacks = len(r.default_size) == 3
    if slices and not stacks:
        fail(f"--slices: recipe {r.name} renders single images, not stacks")
    if slices < 0:
        fail(f"--slices must be >= 0, got {slices}")
    shape = _size(size, r.default_size[-2:])
    if stacks:
        shape = (slices or r.default_size[0], *shape)
    if n < 1:
        fail(f"--n must be >= 1, got {n}")
    with _progress() as p:
        task = p.add_task(f"generate {r.name}", total=n)
        root = run(r, n, out, space=space, entropy=entropy, size=shape, workers=workers, design=design,
                   image_format=image_format, progress=lambda d, t: p.update(task, completed=d, total=t))
    console.print(f"wrote {n} samples to {root}")


@app.command()
def preview(
    recipe: Annotated[str, typer.Argument(help="recipe name")],
    out: Annotated[Path, typer.Option(help="PNG contact sheet to write")],
    real: Annotated[Path | None, typer.Option(help="folder of real images to show beside")] = None,
    n: Annotated[int, typer.Option(help="synthetic samples")] = 8,
    size: Annotated[tuple[int, int], typer.Option(help="image size H W (px); default the recipe's")] = (0, 0),
    entropy: Annotated[int, typer.Option()] = 0,
    scenario: Annotated[Path | None, typer.Option()] = None,
    set_: Annotated[list[str] | None, typer.Option("--set")] = None,
    textures: Annotated[Path | None, typer.Option(help="surface_cracks: quilt textures from the crack-free parts of these images")] = None,
):
    """A contact sheet: synthetic images and their masks, real images beside them."""
    from synthscope.datasets import RealFolder
    from synthscope.evaluation.report import _overlay, contact_sheet

    r, space = _space(recipe, scenario, set_, textures)
    shape = _size(size, (256, 256))
    rows = []
    if real is not None:
        folder = RealFolder(real)
        imgs = [folder.pair(i) for i in range(min(n, len(folder)))]
        rows.append((f"real: {real}", [im for im, _ in imgs]))
        if all(m is not None for _, m in imgs):
            rows.append(("real, truth", [_overlay(im, m) for im, m in imgs]))
    samples = [r.render_index(i, entropy=entropy, space=space, shape=shape) for i in range(n)]
    rows.append((f"synthetic: {r.name}", [s.image for s in samples]))
    rows.append(("synthetic, truth", [_overlay(s.image, s.mask) for s in samples]))
    from synthscope.datasets.io import atomic_write_bytes

    if out.suffix.lower() != ".png":
        fail(f"--out must name a .png file, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, contact_sheet(rows))
    console.print(f"wrote {out}")
    if real is not None:
        _print_noise_comparison(folder, [im for im, _ in imgs], samples, r, entropy, space, shape)


def _print_noise_comparison(folder, shown, samples, recipe, entropy, space, shape, *, n=24):
    """One line: pixel noise of the real images (those ``shown`` on the sheet, then more of
    ``folder`` up to ``n``) against the renders' (24 or more), and a hint where the renders
    are noisier than every real image."""
    from synthscope.evaluation.noise import compare_noise

    real = list(shown) + [folder.pair(i)[0] for i in range(len(shown), min(len(folder), n))]
    renders = [sm.image for sm in samples] + [recipe.render_index(i, entropy=entropy, space=space, shape=shape).image
                                             for i in range(len(samples), n)]
    c = compare_noise(real, renders)
    console.print(f"pixel noise (std / signal span): real {c['real_median']:.3f} ({c['real_min']:.3f}-{c['real_max']:.3f}), "
                  f"renders {c['renders_median']:.3f} ({c['renders_min']:.3f}-{c['renders_max']:.3f}); "
                  f"{100 * c['renders_within_real']:.0f}% of {len(renders)} renders within the real range")
    if c["renders_cleaner_than_real_max"] < 0.2 and "dose_e_per_px" in space:
        console.print("  the renders are noisier than all of your images; a higher dose renders cleaner ones, e.g. "
                      "--set dose_e_per_px=\"loguniform(30,20000)\"")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="run folder (resumed if it holds a checkpoint)")],
    recipe: Annotated[str | None, typer.Option(help="stream samples from this recipe")] = None,
    data: Annotated[Path | None, typer.Option(help="or train from this dataset folder")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="time budget")] = 30.0,
    max_steps: Annotated[int | None, typer.Option(help="step budget (whichever ends first)")] = None,
    arch: Annotated[str, typer.Option(help="unet, resnet10-unet, resnet18-unet")] = "unet",
    width: Annotated[int, typer.Option(help="unet base channels")] = 16,
    depth: Annotated[int | None, typer.Option(help="unet levels (each halves the resolution; 6 sees about twice as far as 5); default: the recipe's, else 5")] = None,
    entropy: Annotated[int, typer.Option()] = 0,
    scenario: Annotated[Path | None, typer.Option()] = None,
    set_: Annotated[list[str] | None, typer.Option("--set")] = None,
    init: Annotated[Path | None, typer.Option(help="initialise from this run, checkpoint or pretrain folder")] = None,
    init_part: Annotated[str, typer.Option(help="with a pretrain folder: all, or encoder (decoder random)")] = "all",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
    loader_workers: Annotated[int, typer.Option(help="data-loading processes")] = 1,
    stages: Annotated[str, typer.Option(help="progressive resizing: size:batch:share,...")] = "128:16:0.4,256:8:0.6",
    amp: Annotated[bool, typer.Option(help="mixed precision: CUDA, or bfloat16 on CPUs that have it natively")] = True,
    textures: Annotated[Path | None, typer.Option(help="surface_cracks: quilt textures from the crack-free parts of these images")] = None,
    real: Annotated[list[Path] | None, typer.Option(help="or train on labelled real images (a folder with images/ and masks/; repeat to pool several)")] = None,
    labelled: Annotated[int | None, typer.Option(help="with --real: use only the first N images (by name) of each folder")] = None,
    refiner: Annotated[Path | None, typer.Option(help="with --recipe: refine every render with this refiner (synthscope refine)")] = None,
):
    """Train a segmentation network on streamed or generated synthetic data (or a few
    labelled real images). ``--init`` takes a run, a checkpoint or a ``pretrain`` folder."""
    from synthscope.learning import Stage, TrainConfig
    from synthscope.learning import train as run

    if sum(x is not None for x in (data, real, recipe or scenario)) > 1 or ((data or real) and (set_ or textures)):
        fail("give one of --data (a generated dataset folder), --real (labelled images) or --recipe/--scenario/--set")
    if data is None and real is None and recipe is None and scenario is None:
        fail("give --recipe (streamed), --data (a generated dataset folder) or --real (labelled images)")
    if refiner is not None and (data is not None or real is not None):
        fail("--refiner applies to --recipe only; refine a dataset folder with `synthscope refine`")
    if labelled is not None and real is None:
        fail("--labelled goes with --real")
    if init_part not in ("all", "encoder"):
        fail(f"--init-part must be one of all, encoder, got {init_part!r}")
    try:
        st = tuple(Stage(int(a), int(b), float(c)) for a, b, c in (x.split(":") for x in stages.split(",")))
    except ValueError:
        fail(f"--stages must look like 128:16:0.4,256:8:0.6, got {stages!r}")
    r = space = pairs = None
    classes = ("background", "foreground")
    if real is not None:
        from synthscope.datasets.real import RealFolder

        images, masks, names = [], [], None
        for path in real:
            folder = RealFolder(path)
            if not folder.has_masks:
                fail(f"{path}: no masks/ folder; --real needs labelled images")
            n = len(folder) if labelled is None else labelled
            if not 1 <= n <= len(folder):
                fail(f"--labelled must be in 1..{len(folder)} for {path}, got {labelled}")
            got = [folder.pair(i) for i in range(n)]
            images += [g[0] for g in got]
            masks += [g[1] for g in got]
            here = tuple(folder.classes[k] for k in sorted(folder.classes)) if folder.classes else ()
            names = here if names is None or len(here) > len(names) else names
        pairs = (images, masks)
        top = max(int(m.max()) for m in masks)
        classes = names
        if len(classes) < 2 or top >= len(classes):
            classes = tuple(f"class{c}" for c in range(max(2, top + 1)))
    elif data is not None:
        from synthscope.datasets import open_dataset
        from synthscope.recipes import get_recipe

        info = open_dataset(data)
        try:
            made_by = get_recipe(info.manifest["recipe"])
            classes = made_by.classes
            depth = made_by.model_depth if depth is None else depth
        except ValueError:
            pass
    else:
        r, space = _space(recipe, scenario, set_, textures)
        classes = r.classes
        depth = r.model_depth if depth is None else depth
    depth = 5 if depth is None else depth
    if not 2 <= depth <= 8:
        fail(f"--depth must be in 2..8, got {depth}")
    cfg = TrainConfig(arch=arch, model_kwargs=({"width": width} | ({"depth": depth} if depth != 5 else {}))
                      if arch == "unet" else {},
                      out_channels=len(classes), classes=tuple(classes), stages=st,
                      max_minutes=max_minutes, max_steps=max_steps, entropy=entropy, device=device,
                      loader_workers=loader_workers, amp=amp)
    with _progress() as p:
        total = max_steps if max_steps and not max_minutes else 1000
        task = p.add_task("train", total=total)

        def cb(rec):
            p.update(task, completed=int(rec["progress"] * total),
                     description=f"train step {rec['step']} size {rec['size']} loss {rec['loss']:.3f}")

        summary = run(out, cfg, recipe=r, space=space, data=data, init=init, pairs=pairs, refiner=refiner, init_part=init_part,
                      progress=cb)
        p.update(task, completed=total)
    console.print(json.dumps(summary))


def _csv_list(text: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        fail(f"{option} takes a comma-separated list of {', '.join(allowed)}, got {text!r}")
    return items


@app.command()
def pretrain(
    unlabeled: Annotated[list[Path], typer.Option(help="folders of unlabeled images (repeat); real folders, image folders or datasets")],
    out: Annotated[Path, typer.Option(help="pretraining folder (resumed if it holds a checkpoint)")],
    synthetic: Annotated[list[str] | None, typer.Option(help="also restore renders of this recipe (repeat)")] = None,
    synthetic_fraction: Annotated[float, typer.Option(help="share of crops rendered from --synthetic recipes")] = 0.3,
    tasks: Annotated[str, typer.Option(help="pretext degradations: noise,blur,downsample,mask")] = "noise,blur,downsample,mask",
    hold_out: Annotated[int, typer.Option(help="hold back the last N images of every folder (for evaluation)")] = 0,
    max_minutes: Annotated[float | None, typer.Option(help="time budget")] = 10.0,
    max_steps: Annotated[int | None, typer.Option(help="step budget (whichever ends first)")] = None,
    preset: Annotated[str, typer.Option(help="small (CPU minutes: 128 px, batch 8, width 16) or full (GPU: 256 px, batch 16, width 32)")] = "small",
    size: Annotated[int | None, typer.Option(help="crop side, px (default from --preset)")] = None,
    batch: Annotated[int | None, typer.Option(help="default from --preset")] = None,
    width: Annotated[int | None, typer.Option(help="U-Net base channels, as train --width (default from --preset)")] = None,
    l1_weight: Annotated[float, typer.Option(help="weight of the L1 loss against the adversarial loss")] = 100.0,
    entropy: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
    amp: Annotated[bool, typer.Option(help="mixed precision on CUDA")] = True,
    init: Annotated[Path | None, typer.Option(help="fine-tune the generator of this pretraining folder (e.g. --tasks noise for a denoiser)")] = None,
):
    """Self-supervised GAN pretraining (Pix2Pix: U-Net generator, PatchGAN discriminator)
    on unlabeled micrographs: restore clean crops from noisy, blurred, downsampled or
    masked ones. Use the result with ``train --init`` or ``restore``."""
    from synthscope.learning.gan import PRETEXT_TASKS, GANConfig, load_unlabeled
    from synthscope.learning.gan import pretrain as run
    from synthscope.recipes import get_recipe

    for r in synthetic or ():
        get_recipe(r)  # unknown recipe: one-line error
    if not 0.0 <= synthetic_fraction <= 1.0:
        fail(f"--synthetic-fraction must be in [0, 1], got {synthetic_fraction}")
    if hold_out < 0:
        fail(f"--hold-out must be >= 0, got {hold_out}")
    presets = {"small": (128, 8, 16), "full": (256, 16, 32)}
    if preset not in presets:
        fail(f"--preset must be one of small, full, got {preset!r}")
    size, batch, width = (v if v is not None else d for v, d in zip((size, batch, width), presets[preset], strict=True))
    cfg = GANConfig(model_kwargs={"width": width}, size=size, batch=batch, max_minutes=max_minutes,
                    max_steps=max_steps, l1_weight=l1_weight, tasks=_csv_list(tasks, PRETEXT_TASKS, "--tasks"),
                    entropy=entropy, device=device, amp=amp)
    if init is not None:
        from synthscope.learning.gan import pretrained_state

        pretrained_state(init)  # not a pretraining folder: one-line error before work starts
    images, used, held = load_unlabeled(unlabeled, hold_out=hold_out)
    console.print(f"{len(images)} unlabeled images" + (f", {len(held)} held back" if held else ""))
    with _progress() as p:
        total = 1000
        task = p.add_task("pretrain", total=total)

        def cb(rec):
            p.update(task, completed=int(rec["progress"] * total),
                     description=f"pretrain step {rec['step']} L1 {rec['l1_restored']:.3f} (input {rec['l1_degraded']:.3f})")

        summary = run(out, cfg, images=images, recipes=tuple(synthetic or ()), synthetic_fraction=synthetic_fraction,
                      sources={"unlabeled": [str(u) for u in unlabeled], "used": used, "held_out": held},
                      init=init, progress=cb)
        p.update(task, completed=total)
    console.print(json.dumps(summary))


@app.command()
def restore(
    pretrained: Annotated[Path, typer.Argument(help="pretraining folder (synthscope pretrain)")],
    inputs: Annotated[list[Path], typer.Argument(help="images or folders of images")],
    out: Annotated[Path, typer.Option(help="output folder: <stem>.png (8-bit) restored images")],
    scale: Annotated[int, typer.Option(help="super-resolution factor (1: denoise/deblur only)")] = 1,
    evaluate_noise: Annotated[str | None, typer.Option(help="instead: add Gaussian noise of these sigmas (grey levels, e.g. 10,25) and report PSNR")] = None,
):
    """Restore micrographs with a pretrained generator (denoising, deblurring, inpainting;
    ``--scale`` for super-resolution), or measure it (``--evaluate-noise``)."""
    import numpy as np

    from synthscope.datasets.io import (
        atomic_write_bytes,
        atomic_write_text,
        encode_png,
        image_to_uint,
        read_image,
    )
    from synthscope.learning.gan import load_generator, restore_image

    if scale not in (1, 2, 3, 4):
        fail(f"--scale must be 1, 2, 3 or 4, got {scale}")
    files = _input_files(inputs, images_subfolder=True)
    gen = load_generator(pretrained)
    if evaluate_noise is not None:
        from synthscope.evaluation.gan_experiments import denoise_evaluation, denoise_markdown

        try:
            sigmas = tuple(float(x) for x in evaluate_noise.split(","))
        except ValueError:
            fail(f"--evaluate-noise takes numbers like 10,25, got {evaluate_noise!r}")
        for f in files:
            read_image(f)
        with _staged_output(out) as tmp:
            res = denoise_evaluation(pretrained, files, sigmas=sigmas)
            atomic_write_text(tmp / "denoise.json", json.dumps(res, indent=2))
            md = denoise_markdown(res)
            atomic_write_text(tmp / "report.md", md)
        print(md)
        return
    images = [read_image(f) for f in files]  # fails on an unreadable file before writing
    with _staged_output(out) as tmp, _progress() as p:
        task = p.add_task("restore", total=len(files))
        for f, img in zip(files, images, strict=True):
            res = np.clip(restore_image(gen, img, scale=scale), 0.0, 1.0)
            atomic_write_bytes(tmp / f"{f.stem}.png", encode_png(image_to_uint(res, 8)))
            p.advance(task)
    console.print(f"{len(files)} restored images in {out}")


@app.command()
def refine(
    real: Annotated[Path, typer.Option(help="real micrographs to look like (images/ or a folder of images)")],
    data: Annotated[Path, typer.Option(help="synthetic dataset folder to refine")],
    out: Annotated[Path, typer.Option(help="new folder: the refined dataset (masks unchanged)")],
    refiner: Annotated[Path | None, typer.Option(help="use this trained refiner instead of training one")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="refiner training time")] = 10.0,
    max_steps: Annotated[int | None, typer.Option(help="refiner step budget (whichever ends first)")] = None,
    preset: Annotated[str, typer.Option(help="small (CPU minutes: U-Nets of width 16, 128 px) or full (GPU: width 32, 256 px)")] = "small",
    size: Annotated[int | None, typer.Option(help="crop side for refiner training, px (default from --preset)")] = None,
    entropy: Annotated[int, typer.Option()] = 0,
    measure: Annotated[bool, typer.Option(help="domain distance synthetic vs real before and after (classifier AUC; KID with --encoder)")] = False,
    encoder: Annotated[Path | None, typer.Option(help="with --measure: a pretrain folder whose encoder gives KID features")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
):
    """Sim-to-real refinement (CycleGAN): train a refiner from the synthetic dataset to the
    real images, write the refined dataset (same format, same masks), a figure sheet
    (synthetic / refined / real) and, with ``--measure``, the domain distance."""
    from synthscope.datasets.io import atomic_write_bytes, atomic_write_text, open_dataset
    from synthscope.datasets.real import RealFolder
    from synthscope.evaluation.report import contact_sheet
    from synthscope.learning.refine import (
        RefineConfig,
        load_refiner,
        refine_dataset,
        refine_image,
        train_refiner,
    )

    info = open_dataset(data)
    folder = RealFolder(real)
    if refiner is not None:
        load_refiner(refiner)
    if encoder is not None:
        from synthscope.learning.gan import load_generator

        load_generator(encoder)
    presets = {"small": {"width": 16, "depth": 4, "size": 128}, "full": {"width": 32, "depth": 5, "size": 256}}
    if preset not in presets:
        fail(f"--preset must be one of small, full, got {preset!r}")
    pre = {**presets[preset], **({"size": size} if size is not None else {})}
    cfg = RefineConfig(**pre, max_minutes=max_minutes, max_steps=max_steps, entropy=entropy, device=device)
    real_images = [folder.image(i) for i in range(len(folder))]
    with _staged_output(out) as tmp:
        if refiner is None:
            n = min(len(info), 200)
            syn = [info.load(k)[0] for k in range(n)]
            syn = [s[len(s) // 2] if s.ndim == 3 else s for s in syn]
            with _progress() as p:
                task = p.add_task("train refiner", total=1000)

                def cb(rec):
                    p.update(task, completed=int(rec["progress"] * 1000),
                             description=f"refiner step {rec['step']} cycle {rec['loss_cycle']:.3f} "
                                         f"diversity {rec['diversity_ratio']:.2f}")

                summary = train_refiner(tmp / "refiner", cfg, synthetic=syn, real=real_images,
                                        sources={"real": str(real), "data": str(data)}, progress=cb)
            console.print(json.dumps(summary))
            refiner_path = out / "refiner" / "refiner.pt"
            src_refiner = tmp / "refiner"
        else:
            refiner_path = src_refiner = refiner
        with _progress() as p:
            task = p.add_task("refine", total=len(info))
            refine_dataset(src_refiner, data, tmp, progress=lambda d, t: p.update(task, completed=d, total=t))
        # the manifest names the refiner where it will live after the rename
        mf = json.loads((tmp / "manifest.json").read_text())
        mf["refined"]["refiner"] = str(refiner_path)
        atomic_write_text(tmp / "manifest.json", json.dumps(mf, indent=2))
        g = load_refiner(src_refiner)
        k = min(6, len(info))
        syn_imgs = [info.load(i)[0] for i in range(k)]
        syn_imgs = [s[len(s) // 2] if s.ndim == 3 else s for s in syn_imgs]
        rows = [("synthetic", syn_imgs), ("refined (same masks)", [refine_image(g, s) for s in syn_imgs]),
                ("real", real_images[:k])]
        atomic_write_bytes(tmp / "sheet.png", contact_sheet(rows))
        if measure:
            rep = {"before": _domain_distance(data, real_images, encoder),
                   "after": _domain_distance(tmp, real_images, encoder)}
            atomic_write_text(tmp / "refine_report.json", json.dumps(rep, indent=2))
            for k in ("before", "after"):
                console.print(f"{k} refinement: " + _distance_line(rep[k]))
    console.print(f"refined dataset: {out} (figure: {out / 'sheet.png'})")


def _domain_distance(data: Path, real_images: list, encoder: Path | None, samples: int = 60) -> dict:
    from synthscope.datasets.io import open_dataset
    from synthscope.evaluation.domain import domain_auc, domain_kid

    info = open_dataset(data)
    imgs = [info.load(i)[0] for i in range(min(len(info), samples))]
    imgs = [s[len(s) // 2] if s.ndim == 3 else s for s in imgs]
    out = {"data": str(data), "samples": len(imgs), "real_images": len(real_images),
           "domain_auc": domain_auc(imgs, real_images)}
    if encoder is not None:
        out["kid"] = domain_kid(imgs, real_images, encoder)
        out["encoder"] = str(encoder)
    return out


def _distance_line(d: dict) -> str:
    a = d["domain_auc"]
    line = f"domain classifier AUC {a['auc']:.4f} +- {a['auc_std']:.4f}"
    if "kid" in d:
        line += f", KID {d['kid']['kid']:.4f} +- {d['kid']['kid_std']:.4f}"
    return line


@app.command("domain-distance")
def domain_distance(
    real: Annotated[Path, typer.Option(help="real micrographs (images/ or a folder of images)")],
    data: Annotated[list[Path], typer.Option(help="synthetic dataset folders to compare with them (repeat)")],
    encoder: Annotated[Path | None, typer.Option(help="a pretrain folder whose encoder gives KID features")] = None,
    samples: Annotated[int, typer.Option(help="synthetic images per dataset")] = 60,
    out: Annotated[Path | None, typer.Option(help="also write the figures to this JSON file")] = None,
):
    """How far synthetic datasets are from real images: domain-classifier AUC (0.5 =
    indistinguishable) and, with --encoder, KID on our own pretrained encoder's features."""
    from synthscope.datasets.io import atomic_write_text
    from synthscope.datasets.real import RealFolder

    folder = RealFolder(real)
    real_images = [folder.image(i) for i in range(len(folder))]
    if encoder is not None:
        from synthscope.learning.gan import load_generator

        load_generator(encoder)
    res = [_domain_distance(d, real_images, encoder, samples) for d in data]
    for r in res:
        console.print(f"{r['data']}: " + _distance_line(r))
    if out is not None:
        atomic_write_text(out, json.dumps(res, indent=2))


def _real_default() -> list[Path]:
    here = Path.cwd()
    for base in (here / ".." / "shared" / "data" / "real", Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "real"):
        if base.is_dir():
            return [base.resolve() / n for n in ("isbi2012-em-membrane", "mpunet-grain-boundary-mini", "tbm-grain-boundaries") if (base / n).is_dir()]
    return []


SCALE_HELP = ("resample images by this factor before the network (0.5 for micrographs at twice the renders' "
              "magnification); several, e.g. 1,0.7,0.5, average the predictions at each; 'pyramid': 1, 1/2, ... "
              "until the image fits one window; 'auto': the run's recipe's choice (1 for most, pyramid for "
              "coating_cross_section)")


def _parse_scale(text: str) -> float | tuple[float, ...] | str:
    """``--scale``: 'auto', 'pyramid', one factor, or comma-separated factors, each in [0.05, 4]."""
    if str(text) in ("auto", "pyramid"):
        return str(text)
    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        vals = ()
    if not vals or not all(0.05 <= v <= 4 for v in vals):  # also catches NaN
        fail(f"--scale takes auto, pyramid, or factors in [0.05, 4], one or comma-separated (e.g. 1,0.7,0.5); "
             f"got {text!r}")
    return vals[0] if len(vals) == 1 else vals


def _recipe_choice(recipe_name: str | None, attr: str, default: str) -> str:
    """`synthscope.recipes.base.recipe_choice`, imported when first needed (the CLI
    starts without loading the recipes)."""
    from synthscope.recipes.base import recipe_choice

    return recipe_choice(recipe_name, attr, default)


def _resolve_scale(scale, recipe_name: str | None):
    """'auto' -> the recipe's `Recipe.inference_scale` (1 for runs of unknown recipes)."""
    if scale != "auto":
        return scale
    return _parse_scale(_recipe_choice(recipe_name, "inference_scale", "1"))


GREY_HELP = ("colour images: luminance, pca (first principal colour axis), fuse (segment the first two "
             "colour axes and keep the evidence of both: tint-etched sections), or auto: the recipe's choice")


DECISION_HELP = ("probabilities to classes: calibrated (divide by the training class weights: the most probable "
                 "class), raw (the network's argmax, leaning towards weighted classes: regions scored by IoU), "
                 "or auto: the recipe's choice (raw for coating_cross_section, calibrated otherwise)")


def _check_decision(decision: str) -> str:
    from synthscope.learning.infer import DECISIONS

    if decision not in DECISIONS:
        fail(f"--decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
    return decision


def _resolve_grey(grey: str, run: Path) -> str:
    """'auto' -> the grey method of the run's recipe (`Recipe.grey`; luminance for runs
    of unknown recipes); other values are checked against GREY_METHODS."""
    from synthscope.datasets.io import GREY_METHODS

    if grey != "auto":
        if grey not in GREY_METHODS:
            fail(f"--grey must be one of auto, {', '.join(GREY_METHODS)}; got {grey!r}")
        return grey
    from synthscope.learning.train import run_recipe

    try:
        name = run_recipe(run)
    except ValueError as err:
        fail(str(err))
    return _recipe_choice(name, "grey", "luminance")


REAL_ONLY, FINETUNED = "real_only_cv", "finetuned_cv"


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="training run folder")],
    real: Annotated[list[Path], typer.Option(help="real folder(s) with images/ and masks/")],
    out: Annotated[Path, typer.Option(help="report folder")],
    tolerance_px: Annotated[float, typer.Option(help="boundary match tolerance")] = 2.0,
    tta: Annotated[bool, typer.Option(help="flip test-time augmentation")] = True,
    roi: Annotated[int, typer.Option(help="sliding-window side, px")] = 256,
    scale: Annotated[str, typer.Option(help=SCALE_HELP)] = "auto",
    grey: Annotated[str, typer.Option(help=GREY_HELP)] = "auto",
    class_map: Annotated[str | None, typer.Option(help="mask values to classes, e.g. 1:0,2:1 (crack is value 2)")] = None,
    decision: Annotated[str, typer.Option(help=DECISION_HELP)] = "auto",
    real_only_minutes: Annotated[float, typer.Option(
        help="also train networks of the run's size on the real images alone, k-fold cross-validated "
             "(each image scored by a network that never saw it), this many minutes per fold; 0: off")] = 0.0,
    finetune_minutes: Annotated[float, typer.Option(
        help="also fine-tune the run's network on the real images (at --finetune-lr-factor times its "
             "learning rate), k-fold cross-validated as --real-only-minutes, this many minutes per fold; 0: off")] = 0.0,
    finetune_lr_factor: Annotated[float | None, typer.Option(
        help="--finetune-minutes trains at this times the run's learning rate; default a tenth "
             "(synthscope.evaluation.real_only.FINETUNE_LR_FACTOR), which keeps the synthetic network where the real images teach little; "
             "1.0 learns faster from them")] = None,
    cv_folds: Annotated[int, typer.Option(help="folds of --real-only-minutes and --finetune-minutes "
                                                "(at most the number of images)")] = 5,
):
    """Score a trained model and the Otsu / k-means baselines on real labelled images
    (and, when asked, networks trained or fine-tuned on the real images, cross-validated)."""
    from synthscope.datasets import RealFolder

    factors = _parse_scale(scale)
    decision = _check_decision(decision)
    cmap = _class_map(class_map)
    grey = _resolve_grey(grey, run)
    folders = [RealFolder(p, require_masks=True, grey=grey, class_map=cmap) for p in real]
    for f in folders:  # read everything first: a bad file fails before anything is written
        for i in range(len(f)):
            f.pair(i)
    if finetune_lr_factor is not None and not (math.isfinite(finetune_lr_factor) and finetune_lr_factor > 0):
        fail(f"--finetune-lr-factor must be a number > 0, got {finetune_lr_factor}")
    cv = {}
    for option, minutes, name, init in (("--real-only-minutes", real_only_minutes, REAL_ONLY, None),
                                        ("--finetune-minutes", finetune_minutes, FINETUNED, run)):
        if not (math.isfinite(minutes) and minutes >= 0):
            fail(f"{option} must be a number >= 0 (0: off), got {minutes}")
        if minutes > 0:
            if cv_folds < 2:
                fail(f"--cv-folds must be at least 2, got {cv_folds}")
            for f in folders:
                if len(f) < 2:
                    fail(f"{f.path}: {option} cross-validates and needs at least 2 labelled images, found {len(f)}")
            cv[name] = (minutes, init, finetune_lr_factor if init is not None else None)
    _evaluate(run, folders, out, tolerance_px=tolerance_px, tta=tta, roi=roi, scale=factors, grey=grey,
              decision=decision, cross_validated=cv, cv_folds=cv_folds)


def _class_map(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        pairs = [tuple(int(v) for v in item.split(":")) for item in text.split(",")]
        if any(len(p) != 2 or not (0 <= p[0] <= 255 and 0 <= p[1] <= 255) for p in pairs):
            raise ValueError
    except ValueError:
        fail(f"--class-map takes VALUE:CLASS pairs in [0, 255], e.g. 1:0,2:1; got {text!r}")
    return dict(pairs)


def _scoring(recipe_name: str | None) -> str:
    """The recipe's `Recipe.scoring`; 'boundaries' for runs of unknown recipes."""
    return _recipe_choice(recipe_name, "scoring", "boundaries")


def _evaluate(run, folders, out, *, tolerance_px=2.0, tta=True, roi=256, scale=1.0, grey="luminance", decision="auto",
              cross_validated=None, cv_folds=5):
    """``cross_validated``: {name: (minutes per fold, init run or None, learning rate as a
    factor of the run's, None: `train_real_only`'s default)} of networks trained on the real images themselves
    (`train_real_only`), scored beside the model."""
    import numpy as np

    from synthscope.evaluation import evaluate_folder
    from synthscope.evaluation.report import overlay_figure, write_report
    from synthscope.learning import load_model, predict_mask
    from synthscope.learning.infer import decision_weights

    model = load_model(run)
    recipe = model.synthscope_meta.get("recipe")
    scale = _resolve_scale(scale, recipe)
    weights = decision_weights(model, decision)
    # particle recipes: region classes and instances; the others: a boundary class
    scoring = _scoring(recipe)
    particles = scoring != "boundaries"  # region classes, not boundaries
    boundary_class = None if particles else 1
    results, fold_predictors = [], []
    with _staged_output(out) as tmp, _progress() as p:
        figures = {}
        for f in folders:
            task = p.add_task(f"evaluate {f.path.name}", total=len(f))
            figs = figures.setdefault(f.path.name, [])

            def on_image(stem, img, gt, pred, _f=f, _figs=figs, _task=task):
                name = f"{_f.path.name}__{stem}.png"
                (tmp / name).write_bytes(overlay_figure(img, gt, pred))
                _figs.append(name)
                p.advance(_task)

            references = {}
            for name, (minutes, init, lr_factor) in (cross_validated or {}).items():
                references[name] = _real_only_predictor(model, f, p, minutes, cv_folds, init=init, name=name,
                                                        lr_factor=lr_factor,
                                                        roi=roi, tta=tta, scale=scale, decision=decision)
                fold_predictors.append((name, f, references[name]))
            results.append(evaluate_folder(
                f, lambda im: predict_mask(model, im, roi_size=roi, tta=tta, scale=scale, class_weights=weights),
                name=f.path.name,
                boundary_class=boundary_class, tolerance_px=tolerance_px, on_image=on_image,
                grain_stats=recipe in (None, "grain_boundaries"), instance_class=1 if scoring == "instances" else None,
                key="mean_iou" if particles else "boundary_f1", references=references))
        meta = {"run": str(run), "tolerance_px": tolerance_px, "tta": tta, "scale": scale, "grey": grey,
                "class_weights_divided": weights,
                "model_steps": model.synthscope_meta.get("steps"), "recipe": model.synthscope_meta.get("recipe")}
        from synthscope.learning import TrainConfig

        run_lr = TrainConfig.from_json(model.synthscope_meta["train_config"]).lr
        for name, (minutes, init, _) in (cross_validated or {}).items():
            what = "fine-tuned on the real images" if init else "trained on the real images alone"
            lrs = sorted({fn.lr for n, f, fn in fold_predictors if n == name})
            meta[name] = (f"the run's network {what}, {minutes:g} min per fold at learning rate "
                          f"{', '.join(f'{x:g}' for x in lrs)} (the run's: {run_lr:g}), "
                          f"{cv_folds}-fold cross-validation (at most one fold per image)")
            meta[f"{name}_steps"] = {f.path.name: fn.steps for n, f, fn in fold_predictors if n == name}
        write_report(tmp, results, title="synthscope evaluation", meta=meta, figures=figures)
    for r in results:
        b = r.baselines[r.best_baseline]
        if particles:
            iou1 = r.model["iou"].get(1, float("nan"))
            # the baseline best at class 1 (the report's best baseline is the best by mean IoU)
            b1 = max(r.baselines, key=lambda k: np.nan_to_num(r.baselines[k]["iou"].get(1, float("nan")), nan=-1.0))
            console.print(f"{r.name}: IoU of class 1 {iou1:.3f} (best baseline at class 1: {b1} "
                          f"{r.baselines[b1]['iou'].get(1, float('nan')):.3f}; by mean IoU: {r.best_baseline} "
                          f"{b['mean_iou']:.3f}), mean IoU {r.model['mean_iou']:.3f}"
                          + (f", instance AP50 {r.model['instance_ap50']:.3f}" if "instance_ap50" in r.model else ""))
        else:
            console.print(f"{r.name}: boundary F1 {r.model['boundary_f1']:.3f} (best baseline {r.best_baseline} "
                          f"{b['boundary_f1']:.3f}; on unthinned lines {r.model['boundary_f1_unthinned']:.3f}), "
                          f"mean IoU {r.model['mean_iou']:.3f}")
        for name, ro in r.references.items():
            key = "mean_iou" if particles else "boundary_f1"
            what = "fine-tuned" if name == FINETUNED else "real only"
            console.print(f"{r.name}: {what} (cross-validated) {key.replace('_', ' ')} {ro[key]:.3f}")
    console.print(f"report: {Path(out) / 'report.md'}")
    return results


def _real_only_predictor(model, folder, progress, minutes, folds, *, init=None, name=REAL_ONLY, lr_factor=None,
                         roi, tta, scale, decision):
    """Train the cross-validated networks of one folder on its real images (`train_real_only`;
    from ``init``'s weights if given); returns fn(index, image) -> class map, each image
    read by its own fold's network, with the steps of each fold as ``.steps``."""
    from synthscope.evaluation.real_only import train_real_only
    from synthscope.learning import TrainConfig, predict_mask
    from synthscope.learning.infer import decision_weights

    config = TrainConfig.from_json(model.synthscope_meta["train_config"])
    pairs = [folder.pair(i) for i in range(len(folder))]
    k = min(folds, len(folder))
    label = f"{name} {folder.path.name}"
    task = progress.add_task(label, total=k * 1000)

    def cb(fold, _k, rec):
        progress.update(task, completed=int((fold + rec["progress"]) * 1000),
                        description=f"{label} fold {fold + 1}/{_k} step {rec['step']}")

    try:
        fold_of, nets = train_real_only([x for x, _ in pairs], [y for _, y in pairs], config,
                                        minutes=minutes, folds=folds, init=init,
                                        lr=None if lr_factor is None else config.lr * lr_factor,
                                        progress=cb)
    except ValueError as err:
        fail(f"{folder.path}: {err}")
    progress.update(task, completed=k * 1000)
    weights = [decision_weights(n, decision) for n in nets]

    def predict(i, image):
        f = fold_of[i]
        return predict_mask(nets[f], image, roi_size=roi, tta=tta, scale=scale, class_weights=weights[f])

    predict.steps = [n.synthscope_meta.get("steps") for n in nets]
    predict.lr = nets[0].synthscope_meta["train_config"]["lr"]
    return predict


def _input_files(inputs: list[Path], *, images_subfolder: bool = False) -> list[Path]:
    """Image files of the inputs (files, or folders of images; with ``images_subfolder``
    a folder's ``images/`` where it has one), with distinct stems (outputs are named by stem)."""
    from synthscope.datasets.real import list_images

    files = []
    for p in inputs:
        if p.is_dir():
            base = p / "images" if images_subfolder and (p / "images").is_dir() else p
            found = list_images(base)
            if not found:
                fail(f"{p}: no images")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            fail(f"{p}: no such file or folder")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        fail("two inputs share a file stem; their outputs would collide")
    return files


@app.command()
def segment(
    run: Annotated[Path, typer.Argument(help="training run folder")],
    inputs: Annotated[list[Path], typer.Argument(help="images or folders of images")],
    out: Annotated[Path, typer.Option(help="output folder")],
    pixel_size_nm: Annotated[float, typer.Option(help="pixel size for the ASTM number")] = 1000.0,
    min_grain_area_px: Annotated[int, typer.Option(help="smaller regions are merged away")] = 10,
    close_gaps: Annotated[float, typer.Option(
        help="grains: split regions joined through a gap in the lines narrower than this share of the smaller "
             "one's inscribed radius, at a line end (0 = off, at most 1)")] = 0.7,
    tta: Annotated[bool, typer.Option()] = True,
    roi: Annotated[int, typer.Option()] = 256,
    scale: Annotated[str, typer.Option(help=SCALE_HELP)] = "auto",
    grey: Annotated[str, typer.Option(help=GREY_HELP)] = "auto",
    decision: Annotated[str, typer.Option(help=DECISION_HELP)] = "auto",
    overlays: Annotated[bool, typer.Option(help="also write overlays/<stem>.png: the image with the classes painted")] = True,
):
    """Segment micrographs of any size: class masks, grain (or particle) instance maps,
    overlays, grains.csv (particles.csv) and summary.json."""
    if not 0 <= close_gaps <= 1:  # also NaN
        fail(f"--close-gaps must be in [0, 1] (0 = off); got {close_gaps}")
    from synthscope.datasets.io import read_image

    factors = _parse_scale(scale)
    decision = _check_decision(decision)
    grey = _resolve_grey(grey, run)
    files = _input_files(inputs)
    images = [read_image(f, grey=grey) for f in files]  # fails on an unreadable file before writing
    _segment(run, files, images, out, pixel_size_nm=pixel_size_nm, min_grain_area_px=min_grain_area_px,
             tta=tta, roi=roi, scale=factors, grey=grey, decision=decision, close_gaps=close_gaps, overlays=overlays)


def _write_instances(folder: Path, stem: str, labels) -> str:
    """An instance map as ``<stem>_instances.png`` (16-bit), or ``.tif`` (32-bit) when
    its ids pass 65535; returns the file name."""
    import numpy as np

    from synthscope.datasets.io import encode_png, encode_tiff

    if int(labels.max(initial=0)) <= np.iinfo(np.uint16).max:
        name = f"{stem}_instances.png"
        (folder / name).write_bytes(encode_png(labels.astype(np.uint16)))
    else:
        name = f"{stem}_instances.tif"
        (folder / name).write_bytes(encode_tiff(labels.astype(np.uint32)))
    return name


def _write_overlay(folder: Path, stem: str, image, mask) -> str:
    from synthscope.datasets.io import encode_png
    from synthscope.evaluation.report import overlay_image

    (folder / "overlays").mkdir(exist_ok=True)
    name = f"overlays/{stem}.png"
    (folder / name).write_bytes(encode_png(overlay_image(image, mask)))
    return name


def _segment(run, files, images, out, *, pixel_size_nm, min_grain_area_px, tta, roi, scale=1.0, grey="luminance",
             decision="auto", close_gaps=0.7, overlays=True):
    import numpy as np

    from synthscope.datasets.io import encode_png
    from synthscope.evaluation.metrics import grains_from_boundaries
    from synthscope.learning import load_model, predict_mask
    from synthscope.learning.infer import decision_weights
    from synthscope.structures.grains import grain_statistics

    model = load_model(run)
    scale = _resolve_scale(scale, model.synthscope_meta.get("recipe"))
    weights = decision_weights(model, decision)
    summary = {"run": str(run), "pixel_size_nm": pixel_size_nm, "images": [], "scale": scale, "grey": grey,
               "class_weights_divided": weights, "close_gaps": close_gaps}
    rows = []
    if _scoring(model.synthscope_meta.get("recipe")) == "instances":
        return _segment_particles(model, files, images, out, summary, min_area_px=min_grain_area_px, tta=tta, roi=roi,
                                  scale=scale, class_weights=weights, overlays=overlays)
    with _staged_output(out) as tmp, _progress() as p:
        task = p.add_task("segment", total=len(files))
        for f, img in zip(files, images, strict=True):
            mask = predict_mask(model, img, roi_size=roi, tta=tta, scale=scale, class_weights=weights)
            (tmp / f"{f.stem}.png").write_bytes(encode_png(mask))
            grains = grains_from_boundaries(mask == 1, min_area_px=min_grain_area_px, close_gaps=close_gaps)
            st = grain_statistics(grains, pixel_size_nm=pixel_size_nm)
            from scipy import ndimage as ndi

            ids = np.arange(1, int(grains.max()) + 1)
            if len(ids):
                areas = np.bincount(grains.ravel())[1:]
                cents = ndi.center_of_mass(np.ones_like(grains), grains, ids)
                for gid, a, (cy, cx) in zip(ids, areas, cents, strict=True):
                    rows.append([f.name, int(gid), int(a), float(np.sqrt(4 * a / np.pi)), round(cy, 2), round(cx, 2)])
            entry = {"image": f.name, "mask": f"{f.stem}.png", "instances": _write_instances(tmp, f.stem, grains),
                     "grain_count": st["grain_count"], "mean_grain_area_px": st["mean_grain_area_px"],
                     "mean_grain_diameter_px": st["mean_grain_diameter_px"],
                     "astm_grain_size_number": st["astm_grain_size_number"],
                     "boundary_fraction": float((mask == 1).mean())}
            if overlays:
                entry["overlay"] = _write_overlay(tmp, f.stem, img, mask)
            summary["images"].append(entry)
            p.advance(task)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["image", "grain_id", "area_px", "equivalent_diameter_px", "centroid_y_px", "centroid_x_px"])
        w.writerows(rows)
        (tmp / "grains.csv").write_text(buf.getvalue())
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"segmented {len(files)} image(s) into {out}")


def _segment_particles(model, files, images, out, summary, *, min_area_px, tta, roi, scale=1.0, class_weights="auto",
                       overlays=True):
    """Particle models: class masks, instances split by distance-transform watershed
    (``<stem>_instances.png``, 16-bit; ``.tif``, 32-bit, past 65535 particles), one row
    per particle in particles.csv."""
    import numpy as np
    from scipy import ndimage as ndi

    from synthscope.datasets.io import encode_png
    from synthscope.evaluation.instances import instances_from_mask
    from synthscope.learning import predict_mask

    rows = []
    classes = model.synthscope_meta["classes"]
    with _staged_output(out) as tmp, _progress() as p:
        task = p.add_task("segment", total=len(files))
        for f, img in zip(files, images, strict=True):
            mask = predict_mask(model, img, roi_size=roi, tta=tta, scale=scale, class_weights=class_weights)
            (tmp / f"{f.stem}.png").write_bytes(encode_png(mask))
            inst = np.zeros(mask.shape, np.int32)
            entry = {"image": f.name, "mask": f"{f.stem}.png"}
            for c in range(1, len(classes)):
                lab = instances_from_mask(mask == c, min_area_px=min_area_px)
                ids = np.arange(1, int(lab.max()) + 1)
                off = int(inst.max())
                inst[lab > 0] = lab[lab > 0] + off
                areas = np.bincount(lab.ravel(), minlength=len(ids) + 1)[1:]
                cents = ndi.center_of_mass(np.ones_like(lab), lab, ids) if len(ids) else []
                for pid, a, (cy, cx) in zip(ids, areas, cents, strict=True):
                    rows.append([f.name, int(pid + off), classes[c], int(a), float(np.sqrt(4 * a / np.pi)),
                                 round(cy, 2), round(cx, 2)])
                d = np.sqrt(4 * areas / np.pi)
                entry[classes[c]] = {"count": int(len(ids)), "area_fraction": float((mask == c).mean()),
                                     "mean_diameter_px": float(d.mean()) if len(d) else None}
            entry["instances"] = _write_instances(tmp, f.stem, inst)
            if overlays:
                entry["overlay"] = _write_overlay(tmp, f.stem, img, mask)
            summary["images"].append(entry)
            p.advance(task)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["image", "particle_id", "class", "area_px", "equivalent_diameter_px", "centroid_y_px", "centroid_x_px"])
        w.writerows(rows)
        (tmp / "particles.csv").write_text(buf.getvalue())
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"segmented {len(files)} image(s) into {out} ({len(rows)} particles)")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for everything the demo makes")] = Path("demo-output"),
    minutes: Annotated[float, typer.Option(help="training budget")] = 4.0,
    real: Annotated[list[Path] | None, typer.Option(help="real labelled folders to evaluate on")] = None,
):
    """The whole loop, small, on CPU: generate, preview, train, evaluate, segment, adapt."""
    from synthscope.datasets import RealFolder
    from synthscope.engine import generate as run_generate
    from synthscope.learning import Stage, TrainConfig
    from synthscope.learning import train as run_train
    from synthscope.recipes import get_recipe

    t_start = time.perf_counter()
    if out.exists() and any(out.iterdir()):
        fail(f"{out}: exists and is not empty; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    r = get_recipe("grain_boundaries")
    folders = [RealFolder(p, require_masks=True, grey=r.grey) for p in (real or _real_default())]
    console.rule("1/6 generate")
    with _progress() as p:
        task = p.add_task("generate", total=32)
        run_generate(r, 32, out / "data", entropy=7, size=(256, 256), workers=min(2, os.cpu_count() or 1),
                     progress=lambda d, t: p.update(task, completed=d))
    console.rule("2/6 preview")
    preview(r.name, out / "preview.png", real=folders[0].path if folders else None, n=6, size=(256, 256),
            entropy=7, scenario=None, set_=None)
    console.rule(f"3/6 train ({minutes:g} min, streamed)")
    cfg = TrainConfig(classes=r.classes, stages=(Stage(128, 16, 0.4), Stage(256, 8, 0.6)),
                      max_minutes=minutes, entropy=7, checkpoint_every_s=60)
    with _progress() as p:
        task = p.add_task("train", total=1000)
        summary = run_train(out / "run", cfg, recipe=r, progress=lambda rec: p.update(
            task, completed=int(rec["progress"] * 1000), description=f"train loss {rec['loss']:.3f}"))
    console.print(json.dumps(summary))
    console.rule("4/6 evaluate")
    if folders:
        _evaluate(out / "run", folders, out / "report", grey=r.grey)
    else:
        console.print("no real labelled folders found (pass --real DIR); evaluating on a synthetic hold-out")
        holdout = run_generate(r, 8, out / "holdout", entropy=9999, size=(256, 256))
        from synthscope.datasets.io import open_dataset

        info = open_dataset(holdout)
        tmpdir = out / "holdout-real"
        (tmpdir / "images").mkdir(parents=True)
        (tmpdir / "masks").mkdir()
        for i in range(len(info)):
            shutil.copy(info.image_path(i), tmpdir / "images" / info.image_path(i).name)
            shutil.copy(info.mask_path(i), tmpdir / "masks" / info.mask_path(i).name)
        _evaluate(out / "run", [RealFolder(tmpdir, require_masks=True)], out / "report")
    console.rule("5/6 segment")
    from synthscope.datasets.io import read_image

    imgs = folders[0].images[:2] if folders else sorted((out / "data" / "images").iterdir())[:2]
    _segment(out / "run", imgs, [read_image(f, grey=r.grey) for f in imgs], out / "segmented", pixel_size_nm=1000.0,
             min_grain_area_px=10, tta=True, roi=256, grey=r.grey)
    console.rule("6/6 adapt: score synthetic validation samples, fine-tune on variations of the worst")
    from synthscope.sampling.adapt import AdaptConfig
    from synthscope.sampling.adapt import adapt as run_adapt

    acfg = AdaptConfig(strategy="worst", budget=100, validation=100, steps=40, entropy=7)
    with _progress() as p:
        cb = _stage_progress(p)

        s = run_adapt(out / "run", out / "adapted", r, r.space, acfg, progress=cb)[0]
    console.print(f"validation IoU {s['validation_iou_before']:.3f} -> {s['validation_iou_after']:.3f}; worst 10 %: "
                  f"{s['worst_iou_before']:.3f} -> {s['worst_iou_after']:.3f}; errors driven most by "
                  f"{', '.join(s['top_effects'][:3])} ({out / 'adapted' / 'round-1' / 'effects.md'})")
    console.print(f"demo finished in {(time.perf_counter() - t_start) / 60:.1f} min; report: {out / 'report' / 'report.md'}")


fit_app = typer.Typer(no_args_is_help=True, help="Fit a model's parameters to measurements of real images.")
app.add_typer(fit_app, name="fit")


@fit_app.command("cracks")
def fit_cracks(
    real: Annotated[Path, typer.Option(help="folder with images/ and masks/ (annotated cracks)")],
    out: Annotated[Path, typer.Option(help="scenario YAML to write (for recipe surface_cracks)")],
    crack_class: Annotated[int, typer.Option(help="mask value of cracks")] = 1,
    include: Annotated[str, typer.Option(help="only image stems matching this glob (keep test images out)")] = "*",
):
    """Measure annotated cracks (segments, bends, widths, tapering, branching, contrast)
    and write the fitted distributions as a scenario file that `generate` accepts."""
    from fnmatch import fnmatch

    import yaml

    from synthscope.datasets import RealFolder
    from synthscope.datasets.io import atomic_write_text
    from synthscope.evaluation.cracks import fit_cracks_scenario

    if out.suffix.lower() not in (".yaml", ".yml"):
        fail(f"--out must name a .yaml file, got {out}")
    folder = RealFolder(real, require_masks=True)
    idx = [i for i in range(len(folder)) if fnmatch(folder.stem(i), include)]
    if not idx:
        fail(f"{real}: no image stem matches --include {include!r}")
    pairs = [folder.pair(i) for i in idx]
    if not any((m == crack_class).any() for _, m in pairs):
        fail(f"{real}: no mask pixel has value {crack_class} (--crack-class)")
    fitted = fit_cracks_scenario([im for im, _ in pairs], [m for _, m in pairs], crack_class=crack_class)
    meas = fitted["measured"]
    header = (f"# fitted by `synthscope fit cracks` from {len(idx)} annotated image(s) in {real}\n"
              f"# {meas['paths']} crack paths, {meas['segments']} segments, {meas['junctions']} junctions; "
              f"contrast measured on {meas['contrast']['n']} paths\n")
    body = yaml.safe_dump({"recipe": "surface_cracks", "parameters": fitted["parameters"]}, sort_keys=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, header + body)
    console.print(body.rstrip())
    console.print(f"wrote {out}")


def _resumable_output(out: Path, settings: dict, *, ignore=("runs", "workers", "run_workers")) -> None:
    """``out`` is new, empty, or holds an interrupted job of the same settings (resumed);
    anything else is refused before work starts."""
    from synthscope.datasets.io import atomic_write_text, jsonable

    state = out / "settings.json"
    plain = json.loads(json.dumps(jsonable(settings)))
    if out.exists() and any(out.iterdir()):
        if not state.exists():
            fail(f"{out}: output folder exists and is not empty; choose another --out")
        old = json.loads(state.read_text())
        changed = sorted(k for k in set(old) | set(plain) if k not in ignore and old.get(k) != plain.get(k))
        if changed:
            fail(f"{out}: holds a job with other settings ({', '.join(changed)}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(state, json.dumps(plain, indent=1))


@app.command()
def experiment(
    config: Annotated[Path, typer.Argument(help="experiment YAML (see examples/cracks.yaml, examples/adaptive.yaml)")],
    out: Annotated[Path, typer.Option(help="folder for the report and results; an interrupted experiment resumes here")],
    runs: Annotated[int | None, typer.Option(help="override the number of runs")] = None,
    workers: Annotated[int | None, typer.Option(help="runs in parallel processes")] = None,
):
    """Repeated-run experiments (``protocol:`` in the YAML). ``cracks``: crack
    classification with synthetic only, real only and mixed models, error rates with
    Agresti-Coull intervals. ``adaptive``: fine-tuning with random, worst-k and surrogate
    proposals. Both: mean +- std over runs and paired t-tests (report.md, results.json)."""
    from dataclasses import replace

    import yaml

    from synthscope.datasets.io import atomic_write_text

    try:
        data = yaml.safe_load(Path(config).read_text()) or {}
    except OSError as err:
        fail(f"{config}: cannot read ({err.strerror})")
    except yaml.YAMLError:
        fail(f"{config}: malformed YAML")
    protocol = data.get("protocol", "cracks") if isinstance(data, dict) else "cracks"
    if protocol not in ("cracks", "adaptive", "few-labels"):
        fail(f"{config}: protocol must be one of cracks, adaptive, few-labels, got {protocol!r}")
    if protocol == "few-labels":
        return _few_labels(config, data, out, runs, workers)
    if protocol == "cracks":
        from synthscope.evaluation.cracks import (
            crack_report_markdown,
            load_crack_experiment,
            run_crack_experiment,
        )

        cfg = load_crack_experiment(config)
    else:
        from synthscope.sampling.experiment import (
            load_adaptive_experiment,
            run_adaptive_experiment,
            write_adaptive_results,
        )

        cfg = load_adaptive_experiment(config, data)
    over = {k: v for k, v in (("runs", runs), ("workers" if protocol == "adaptive" else "run_workers", workers)) if v is not None}
    try:
        cfg = replace(cfg, **over)
    except ValueError as err:
        fail(f"--runs/--workers: {err}")
    if protocol == "cracks" and not Path(cfg.real).is_dir():
        fail(f"{config}: real folder {cfg.real} not found")
    if protocol == "adaptive":
        if not Path(cfg.base).is_dir():
            fail(f"{config}: base run folder {cfg.base} not found")
        for r in cfg.real:
            if not Path(r).is_dir():
                fail(f"{config}: real folder {r} not found")
    _resumable_output(out, {"protocol": protocol, **cfg.to_dict()})
    t0 = time.perf_counter()
    with _progress() as p:
        cb = _stage_progress(p)

        if protocol == "cracks":
            results = run_crack_experiment(cfg, out, progress=cb)
        else:
            results = run_adaptive_experiment(cfg, out, progress=cb)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    if protocol == "cracks":
        atomic_write_text(out / "results.json", json.dumps(results, indent=2))
        atomic_write_text(out / "report.md", crack_report_markdown(results))
        for where in ("test", "all"):
            rates = results["rates"][where]
            tt = results["tests"][where]["real_vs_mixed"]
            console.print(f"{where}: " + ", ".join(f"{m} {r['mean']:.3f}+-{r['std']:.3f}" for m, r in rates.items())
                          + f"; real vs mixed p = {tt['p']:.3g}")
    else:
        write_adaptive_results(results, out)
        for m in results["metrics"]:
            cells = ", ".join(f"{s} {r['mean']:.4f}+-{r['std']:.4f}" for s, r in results["summary"][m].items())
            ps = ", ".join(f"{k} p={v['p']:.3g}" for k, v in results["tests"][m].items())
            console.print(f"{m}: {cells}; {ps}")
    console.print(f"report: {out / 'report.md'}")


def _few_labels(config: Path, data: dict, out: Path, runs: int | None, workers: int | None) -> None:
    from dataclasses import fields

    from synthscope.datasets.io import atomic_write_text
    from synthscope.evaluation.gan_experiments import (
        FewLabelConfig,
        few_label_markdown,
        run_few_label_experiment,
    )

    d = {k: v for k, v in data.items() if k != "protocol"}
    allowed = [f.name for f in fields(FewLabelConfig) if f.name != "extra"]
    bad = [k for k in d if k not in allowed]
    if bad:
        fail(f"{config}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")
    for k in ("real", "pretrained"):
        if k not in d:
            fail(f"{config}: missing key {k!r}")
    for k in ("labelled", "test", "class_weights"):
        if d.get(k) is not None:
            d[k] = tuple(d[k])
    if runs is not None:
        d["runs"] = runs
    if workers is not None:
        d["workers"] = workers
    try:
        cfg = FewLabelConfig(**d)
    except (TypeError, ValueError) as err:
        fail(f"{config}: {err}")
    if not Path(cfg.real).is_dir():
        fail(f"{config}: real folder {cfg.real} not found")
    if not (Path(cfg.pretrained) / "generator.pt").is_file() and not Path(cfg.pretrained).is_file():
        fail(f"{config}: pretrained {cfg.pretrained} holds no generator.pt")
    _resumable_output(out, {"protocol": "few-labels", **cfg.to_dict()})
    t0 = time.perf_counter()
    with _progress() as p:
        results = run_few_label_experiment(cfg, out, progress=_stage_progress(p))
    results["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    md = few_label_markdown(results)
    atomic_write_text(out / "report.md", md)
    s, t = results["summary"], results["test_pretrained_vs_random"]
    console.print(f"pretrained {s['pretrained']['mean']:.4f}+-{s['pretrained']['std']:.4f}, random "
                  f"{s['random']['mean']:.4f}+-{s['random']['std']:.4f}; paired t-test p = {t['p']:.3g}")
    console.print(f"report: {out / 'report.md'}")


@app.command()
def adapt(
    run: Annotated[Path, typer.Argument(help="run folder of the trained model to improve")],
    out: Annotated[Path, typer.Option(help="new run folder (rounds under round-<r>); an interrupted one resumes")],
    recipe: Annotated[str | None, typer.Option(help="recipe the model was trained on")] = None,
    strategy: Annotated[str, typer.Option(help="worst, surrogate or random")] = "worst",
    budget: Annotated[int, typer.Option(help="new scenarios per round")] = 1000,
    rounds: Annotated[int, typer.Option(help="rounds, each from the model of the one before")] = 1,
    validation: Annotated[int, typer.Option(help="synthetic validation samples scored per round")] = 1000,
    steps: Annotated[int, typer.Option(help="fine-tuning steps per round")] = 300,
    batch: Annotated[int, typer.Option(help="fine-tuning batch")] = 8,
    size: Annotated[int, typer.Option(help="sample side, px")] = 256,
    lr: Annotated[float, typer.Option(help="fine-tuning learning rate")] = 3e-4,
    replay: Annotated[float, typer.Option(help="share of fresh random scenarios mixed into fine-tuning")] = 0.5,
    entropy: Annotated[int, typer.Option()] = 1,
    scenario: Annotated[Path | None, typer.Option()] = None,
    set_: Annotated[list[str] | None, typer.Option("--set")] = None,
):
    """Adaptive sampling: score the model on synthetic validation samples, propose new
    scenarios where it fails (worst: perturb the worst 10 %; surrogate: a model of the
    score), fine-tune on them, score again; writes what drives the errors (effects.md)."""
    from synthscope.sampling.adapt import AdaptConfig
    from synthscope.sampling.adapt import adapt as run_adapt

    if not (run / "model.pt").exists() and not (run / "checkpoint.pt").exists():
        fail(f"{run}: not a training run folder (no model.pt)")
    if recipe is None and scenario is None:
        try:
            recipe = json.loads((run / "config.json").read_text()).get("recipe")
        except (OSError, ValueError):
            recipe = None
    r, space = _space(recipe, scenario, set_)
    try:
        cfg = AdaptConfig(strategy=strategy, budget=budget, validation=validation, steps=steps, batch=batch, size=size,
                          lr=lr, replay=replay, entropy=entropy)
    except ValueError as err:
        fail(f"--{str(err).split()[0].replace('_', '-')}: {err}")
    if rounds < 1:
        fail(f"--rounds must be >= 1, got {rounds}")
    _resumable_output(out, {"run": str(run), "recipe": r.name, "space": space.to_dict(), "rounds": rounds,
                            **{k: getattr(cfg, k) for k in cfg.__dataclass_fields__}}, ignore=("rounds",))
    with _progress() as p:
        cb = _stage_progress(p)

        summaries = run_adapt(run, out, r, space, cfg, rounds=rounds, progress=cb)
    for i, s in enumerate(summaries, 1):
        console.print(f"round {i}: validation IoU {s['validation_iou_before']:.4f} -> {s['validation_iou_after']:.4f}; "
                      f"worst {cfg.worst_fraction:.0%}: {s['worst_iou_before']:.4f} -> {s['worst_iou_after']:.4f}")
    console.print(f"errors driven most by: {', '.join(summaries[0]['top_effects'])} (see {out / 'round-1' / 'effects.md'})")
    console.print(f"model: {out / 'model.pt'}")


simulate_app = typer.Typer(no_args_is_help=True, help="Quick physics answers from the Monte Carlo electron transport.")
app.add_typer(simulate_app, name="simulate")


@simulate_app.command("bse")
def simulate_bse(
    material: Annotated[str, typer.Option(help="element symbol (Au) or formula (SiO2, with --density-g-cm3)")],
    beam_energy_kev: Annotated[float, typer.Option(help="beam energy, keV (0.5-30)")] = 20.0,
    electrons: Annotated[int, typer.Option(help="number of electrons")] = 20000,
    density_g_cm3: Annotated[float | None, typer.Option(help="density; required for a formula")] = None,
    cross_section: Annotated[str, typer.Option(help="browning (empirical Mott) or rutherford (screened)")] = "browning",
    detector_theta_deg: Annotated[tuple[float, float], typer.Option(help="detector polar acceptance from the surface normal, deg")] = (0.0, 90.0),
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
):
    """Electrons into a flat bulk specimen: backscatter coefficient, BSE depth, range (one JSON object)."""
    from synthscope.imaging.materials import kanaya_okayama_range_nm
    from synthscope.imaging.materials import material as make_material
    from synthscope.imaging.montecarlo import simulate_bulk

    mat = make_material(material, density_g_cm3=density_g_cm3)
    res = simulate_bulk(mat, energy_kev=beam_energy_kev, n_electrons=electrons, cross_section=cross_section,
                        detector_theta_deg=detector_theta_deg, rng=seed)
    out = res.summary()
    out["density_g_cm3"] = mat.density_g_cm3
    out["kanaya_okayama_range_nm"] = round(kanaya_okayama_range_nm(mat, beam_energy_kev), 2)
    out["cross_section"] = cross_section
    out["seed"] = seed
    print(json.dumps(out))


@simulate_app.command("settings")
def simulate_settings(
    beam_energy_kev: Annotated[float, typer.Option(help="beam energy, keV")],
    probe_current_pa: Annotated[float, typer.Option(help="probe current, pA")],
    dwell_time_us: Annotated[float, typer.Option(help="dwell time per pixel, us")],
    pixel_size_nm: Annotated[float, typer.Option(help="pixel (voxel) size, nm")],
    working_distance_mm: Annotated[float, typer.Option(help="working distance, mm")] = 4.0,
    aperture_diameter_um: Annotated[float, typer.Option(help="final aperture diameter, um")] = 30.0,
    material: Annotated[str, typer.Option(help="the specimen's solid (element symbol)")] = "Au",
    lines_averaged: Annotated[int, typer.Option(help="line or frame averaging")] = 1,
):
    """Your microscope's settings as fibsem_porous parameters: prints them as JSON and as
    ``--set`` options for generate/train."""
    from synthscope.imaging.fibsem import microscope_settings

    s = microscope_settings(energy_kev=beam_energy_kev, probe_current_pa=probe_current_pa, dwell_time_us=dwell_time_us,
                            pixel_size_nm=pixel_size_nm, working_distance_mm=working_distance_mm,
                            aperture_diameter_um=aperture_diameter_um, material=material, lines_averaged=lines_averaged)
    print(json.dumps(s))
    sets = " ".join(f"--set {k}={v}" for k, v in s.items() if k != "electrons_per_pixel")
    console.print(f"{sets} --set material={material}", soft_wrap=True)


@simulate_app.command("shine-through")
def simulate_shine_through(
    out: Annotated[Path, typer.Option(help="folder for report.md and results.json")],
    run: Annotated[list[Path] | None, typer.Option(help="trained run folder(s) to score beside Otsu and k-means")] = None,
    stacks: Annotated[int, typer.Option(help="test stacks per condition")] = 6,
    slices: Annotated[int, typer.Option(help="slices per stack")] = 8,
    size: Annotated[tuple[int, int], typer.Option(help="slice size H W, px")] = (256, 256),
    entropy: Annotated[int, typer.Option(help="the test set's seed")] = 20261123,
):
    """FIB-SEM stacks of fibsem_porous with shine-through and without it (nothing behind
    the pores): pore/solid IoU of Otsu, k-means and trained networks on each."""
    from synthscope.datasets.io import atomic_write_text
    from synthscope.evaluation.shine_through import (
        network_segmenter,
        shine_through_markdown,
        shine_through_report,
    )

    segs = {}
    for r in run or []:
        if not (Path(r) / "model.pt").is_file():
            fail(f"--run {r}: no model.pt (not a finished training run)")
        segs[f"network:{Path(r).name}"] = network_segmenter(r)
    if stacks < 1 or slices < 1:
        fail("--stacks and --slices must be >= 1")
    shape = (slices, *_size(size, (256, 256)))
    with _progress() as p:
        task = p.add_task("shine-through test", total=stacks)
        rep = shine_through_report(segs, n_stacks=stacks, shape=shape, entropy=entropy,
                                   progress=lambda d, t: p.update(task, completed=d, total=t))
    out.mkdir(parents=True, exist_ok=True)
    md = shine_through_markdown(rep)
    atomic_write_text(out / "results.json", json.dumps(rep, indent=1))
    atomic_write_text(out / "report.md", "# Shine-through: segmentation of FIB-SEM stacks\n\n" + md)
    print(md)


def _error(msg: str) -> None:
    print(f"error: {' '.join(str(msg).split())}", file=sys.stderr)
    sys.exit(2)


def main():
    import logging

    logging.basicConfig(level=logging.WARNING)
    try:
        app(standalone_mode=False)
    except UserError as err:
        _error(str(err))
    except ValueError as err:
        _error(str(err) or type(err).__name__)
    except KeyError as err:
        _error(err.args[0] if err.args else str(err))
    except (typer.Exit, SystemExit) as err:
        sys.exit(getattr(err, "exit_code", getattr(err, "code", 0)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        if hasattr(err, "format_message"):  # click usage errors (typer vendors click)
            _error(err.format_message())
        raise


if __name__ == "__main__":
    main()
