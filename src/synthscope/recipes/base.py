"""Recipes: named compositions of a structure model, an imaging model and a default
`ParameterSpace`. `Recipe.render(scenario, ...)` turns one concrete scenario into a
`Sample`; `render_index` derives everything from (entropy, index) alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synthscope.datasets.io import GREY_METHODS
from synthscope.datasets.sample import Sample
from synthscope.params.space import Parameter, ParameterSpace, stage_rng

__all__ = ["Recipe", "register_recipe", "get_recipe", "list_recipes", "load_scenario_file", "detector_image", "magnifiable", "DETECTOR_KEYS", "DETECTOR_GAIN_NOISE",
           "CLASS_DECISIONS", "recipe_choice"]

_REGISTRY: dict[str, Recipe] = {}
SCORINGS = ("boundaries", "regions", "instances")
CLASS_DECISIONS = ("calibrated", "raw")


@dataclass(frozen=True)
class Recipe:
    """A named synthetic-data generator.

    Attributes
    ----------
    name : str
    space : ParameterSpace, the default parameter distributions and allowed ranges
    structure : callable(shape, scenario, rng) -> Specimen
    imaging : callable(specimen, scenario, rng) -> (H, W) float32 image
    classes : tuple of class names, index = mask value
    description : str
    default_size : (H, W) rendered when no shape is given
    classify : callable(mask) -> int or None, the sample's class label (tile
        classification), from its mask
    scoring : how a model of this recipe is scored and its output read: 'boundaries'
        (thin class 1: boundary F1), 'regions' (class IoUs), 'instances' (class IoUs
        plus objects of class 1 split into instances)
    inference_scale : what ``--scale auto`` (the default of ``evaluate`` and ``segment``)
        means for this recipe's models: a factor, comma-separated factors, or
        'pyramid' (the image at 1, 1/2, ... until it fits one window; see
        `synthscope.learning.infer.pyramid_scales`)
    grey : what ``--grey auto`` (the default of ``evaluate`` and ``segment``) means for
        colour micrographs given to this recipe's models, one of
        `synthscope.datasets.io.GREY_METHODS`
    model_depth : levels of the U-Net that ``train`` builds for this recipe when
        ``--depth`` is not given (each level halves the resolution, so one more level
        doubles how far the network sees)
    class_decision : how this recipe's models turn class probabilities into a class
        map by default (``--decision auto``): 'calibrated' divides by the class weights
        of training first (the most probable class: thin boundaries drawn at their
        width), 'raw' takes the network's own argmax, keeping the weights' lean towards
        the weighted classes (see `synthscope.learning.infer.decision_weights`)
    """

    name: str
    space: ParameterSpace
    structure: Callable
    imaging: Callable
    classes: tuple = ("background", "foreground")
    description: str = ""
    default_size: tuple[int, int] = (512, 512)
    classify: Callable | None = None
    scoring: str = "boundaries"
    inference_scale: str = "1"
    grey: str = "luminance"
    model_depth: int = 5
    class_decision: str = "calibrated"

    def __post_init__(self):
        if self.class_decision not in CLASS_DECISIONS:
            raise ValueError(f"class_decision must be one of {', '.join(CLASS_DECISIONS)}, "
                             f"got {self.class_decision!r}")
        if not 2 <= self.model_depth <= 8:
            raise ValueError(f"model_depth must be in 2..8, got {self.model_depth}")
        if self.grey not in GREY_METHODS:
            raise ValueError(f"grey must be one of {', '.join(GREY_METHODS)}, got {self.grey!r}")
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, got {self.scoring!r}")
        if self.inference_scale != "pyramid":
            try:
                ok = all(0.05 <= float(v) <= 4 for v in self.inference_scale.split(","))
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("inference_scale must be 'pyramid' or factors in [0.05, 4], "
                                 f"got {self.inference_scale!r}")

    def render(self, scenario: Mapping[str, Any], *, shape=None, entropy: int = 0, index: int = 0) -> Sample:
        """Render one scenario. Structure and imaging draw from their own streams of
        (entropy, index), so changing the imaging model leaves the structure unchanged."""
        shape = tuple(int(s) for s in (shape or self.default_size))
        specimen = self.structure(shape, scenario, stage_rng(entropy, index, "structure"))
        image = self.imaging(specimen, scenario, stage_rng(entropy, index, "imaging"))
        return Sample(
            image=image,
            mask=specimen.labels,
            instances=specimen.instances,
            label=None if self.classify is None else int(self.classify(specimen.labels)),
            scenario=dict(scenario),
            index=int(index),
            stats=dict(specimen.stats),
        )

    def render_index(self, index: int, *, entropy: int, space: ParameterSpace | None = None, shape=None) -> Sample:
        """Sample ``index`` of the dataset (entropy, space): scenario drawn from its own stream."""
        scenario = (space or self.space).sample_one(entropy, index)
        return self.render(scenario, shape=shape, entropy=entropy, index=index)


def P(name, dist, low=None, high=None, *, options=None, integer=False, doc="") -> Parameter:
    """A `Parameter`, written compactly in a recipe's space: name, default distribution,
    allowed range (or ``options``), and a doc line."""
    return Parameter(name, dist, low, high, options=options, integer=integer, doc=doc)


#: scenario keys passed straight to `imaging.detector.image_detector` when present
DETECTOR_KEYS = ("edge_contrast", "background_amplitude", "background_wavelength_px", "blur_sigma_px", "scan_jitter_px",
                 "illumination_gradient", "brightness", "contrast", "gamma", "dose_e_per_px", "read_noise", "invert",
                 "detector_blur_px")


def _detector_gain_noise() -> tuple:
    from synthscope.params.distributions import LogUniform, Uniform

    return (
        P("illumination_gradient", Uniform(0.0, 0.8), 0.0, 20.0, doc="smooth illumination change across the field"),
        P("brightness", Uniform(0.35, 0.65), 0.0, 1.0, doc="mean signal"),
        P("contrast", Uniform(0.8, 1.6), 0.01, 10.0, doc="gain around the mean"),
        P("gamma", LogUniform(0.7, 1.4), 0.1, 10.0, doc="output gamma"),
        P("dose_e_per_px", LogUniform(30.0, 1000.0), 0.01, 1e7, doc="counts per pixel at full signal (shot noise)"),
        P("read_noise", Uniform(0.0, 0.03), 0.0, 1.0, doc="additive Gaussian noise std"),
    )


#: the detector's gain and noise parameters with moderate defaults, shared by recipes
#: whose spaces end with them (illumination, brightness, contrast, gamma, dose, read noise)
DETECTOR_GAIN_NOISE = _detector_gain_noise()


def detector_image(specimen, s: Mapping[str, Any], rng, **settings):
    """The phenomenological detector with every `DETECTOR_KEYS` value the scenario
    ``s`` holds; ``settings`` set the others (or override)."""
    from synthscope.imaging.detector import image_detector

    kw = {k: s[k] for k in DETECTOR_KEYS if k in s}
    kw.update(settings)
    return image_detector(specimen, rng=rng, **kw)


class magnifiable:  # noqa: N801  (used as a decorator-like wrapper)
    """A structure function that honours a ``magnification`` scenario key (default 1):
    the structure is drawn on a grid ``magnification`` times coarser and enlarged to the
    requested shape (`Specimen.magnified`), so every structure length in pixels grows by
    that factor while the detector (PSF, noise) still acts per output pixel, as at a
    higher magnification of the microscope. Statistics stay in the drawn grid's pixels;
    ``magnification`` and that grid's ``structure_shape`` are added to them. (A class,
    not a closure, so that recipes still pickle into worker processes.)"""

    def __init__(self, structure: Callable):
        self.structure = structure
        self.__doc__ = structure.__doc__

    def __call__(self, shape, s, rng):
        m = float(s.get("magnification", 1.0))
        if not m > 1.0:
            return self.structure(shape, s, rng)
        small = tuple(max(8, round(n / m)) for n in shape)
        return self.structure(small, s, rng).magnified(shape).with_stats(magnification=m, structure_shape=list(small))


def register_recipe(recipe: Recipe) -> Recipe:
    _REGISTRY[recipe.name] = recipe
    return recipe


def _ensure_builtin():
    # importing a registered module again is free; a user's recipe registered first
    # must not hide the built-in ones
    from synthscope.recipes import (  # noqa: F401  (register themselves)
        cell_membranes,
        coating_cross_section,
        fibsem_porous,
        grain_boundaries,
        precipitates,
        surface_cracks,
    )


def list_recipes() -> list[str]:
    _ensure_builtin()
    return sorted(_REGISTRY)


def get_recipe(name: str) -> Recipe:
    _ensure_builtin()
    if name not in _REGISTRY:
        import difflib

        near = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown recipe {name!r}{hint}; allowed: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def recipe_choice(name: str | None, attr: str, default: Any) -> Any:
    """Attribute ``attr`` of the registered recipe ``name``; ``default`` for runs of
    unknown or unregistered recipes (None, or a name not registered here)."""
    if not name:
        return default
    try:
        return getattr(get_recipe(name), attr)
    except ValueError:
        return default


def load_scenario_file(path: str | Path) -> tuple[str | None, dict]:
    """Read a scenario YAML: ``{recipe: NAME, parameters: {key: distribution, ...}}``.

    Returns (recipe name or None, overrides). Malformed files raise ValueError naming it.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ValueError(f"{path}: malformed YAML{at}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys 'recipe' and 'parameters'")
    unknown = set(data) - {"recipe", "parameters"}
    if unknown:
        raise ValueError(f"{path}: unknown key {sorted(unknown)[0]!r}; allowed: recipe, parameters")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: 'parameters' must be a mapping of name to distribution")
    return data.get("recipe"), params
