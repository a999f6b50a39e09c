"""Named parameters with allowed ranges, sampling designs and perturbation.

A `ParameterSpace` maps each parameter name to a distribution and the range a recipe
accepts. Designs are random draws or quasi-random points (Sobol, Latin hypercube via
`scipy.stats.qmc`) pushed through each parameter's inverse CDF.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import yaml
from scipy.stats import qmc

from synthscope.params.distributions import Choice, Constant, Distribution, parse_distribution

__all__ = ["Parameter", "ParameterSpace", "sample_seed", "stage_rng", "check_ranges", "STAGES", "DESIGNS"]

#: Stages of one sample's rendering; each gets its own independent random stream. The
#: adaptive loop's streams (proposals, replay draws, shuffling) take index 0 of its entropy.
#: GAN pretraining draws crop ``i`` from "pretext" and its degradation from "degradation";
#: the refiner its crops from "refiner" (index = step; its diversity probe: index 2**32 - 1).
STAGES = {"scenario": 0, "structure": 1, "imaging": 2, "augmentation": 3, "propose": 4, "replay": 5, "order": 6,
          "pretext": 7, "degradation": 8, "refiner": 9}
DESIGNS = ("random", "sobol", "lhs")


def check_ranges(obj, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Raise ValueError naming the first attribute of ``obj`` that is not a finite number
    within its ``(low, high)`` range (settings dataclasses call it in __post_init__)."""
    for k, (lo, hi) in ranges.items():
        v = getattr(obj, k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise ValueError(f"{k} must be in [{lo}, {hi}], got {v!r}")


def sample_seed(entropy: int, index: int, stage: str) -> np.random.SeedSequence:
    """Seed of one stage of sample ``index`` of a dataset with the given ``entropy``."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {list(STAGES)}, got {stage!r}")
    return np.random.SeedSequence(int(entropy), spawn_key=(int(index), STAGES[stage]))


def stage_rng(entropy: int, index: int, stage: str) -> np.random.Generator:
    return np.random.default_rng(sample_seed(entropy, index, stage))


@dataclass(frozen=True)
class Parameter:
    """One parameter: its distribution, the range or options a recipe accepts, and a doc line."""

    name: str
    dist: Distribution
    low: float | None = None
    high: float | None = None
    options: tuple | None = None
    integer: bool = False
    doc: str = ""

    def allowed(self) -> str:
        if self.options is not None:
            return "one of " + ", ".join(repr(o) for o in self.options)
        return f"[{self.low}, {self.high}]"

    def validate(self, dist: Distribution) -> Distribution:
        if self.options is not None:
            values = dist.options if isinstance(dist, Choice) else (dist.support[0],)
            if isinstance(dist, Constant):
                values = (dist.value,)
            for v in values:
                if v not in self.options:
                    raise ValueError(f"{self.name}: {v!r} is not allowed; allowed: {self.allowed()}")
            return dist
        if not dist.is_numeric:
            raise ValueError(f"{self.name}: needs numbers in {self.allowed()}, got {dist.to_spec()}")
        lo, hi = dist.support
        for v in (lo, hi):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                raise ValueError(f"{self.name}: value must be a number in {self.allowed()}, got {dist.to_spec()}")
        if (self.low is not None and lo < self.low) or (self.high is not None and hi > self.high):
            raise ValueError(
                f"{self.name}: {dist.to_spec()} reaches outside the allowed range {self.allowed()}"
            )
        return dist

    def cast(self, value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if self.integer:
            return int(round(float(value)))
        if self.options is None and isinstance(value, (int, float)) and not isinstance(value, bool):
            v = float(value)
            if self.low is not None:
                v = max(v, self.low)
            if self.high is not None:
                v = min(v, self.high)
            return v
        return value

    def unit_of(self, value: Any) -> float:
        """Map a value to [0, 1] over the allowed range (for perturbation and surrogates)."""
        if self.options is not None:
            return self.options.index(value) / max(len(self.options) - 1, 1)
        lo, hi = self.low, self.high
        if lo is None or hi is None or hi == lo:
            return 0.5
        return (float(value) - lo) / (hi - lo)


@dataclass(frozen=True)
class ParameterSpace:
    """An ordered set of parameters. Immutable: `with_overrides` returns a new space."""

    parameters: tuple[Parameter, ...]
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_index", {p.name: p for p in self.parameters})
        for p in self.parameters:
            p.validate(p.dist)

    # -- access -------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(self._unknown(name)) from None

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self.parameters)

    def _unknown(self, name: str) -> str:
        import difflib

        near = difflib.get_close_matches(name, self.names, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown parameter {name!r}{hint}; allowed: {', '.join(self.names)}"

    # -- overrides ----------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any] | None) -> ParameterSpace:
        """Replace distributions by name; unknown names and out-of-range values are errors."""
        if not overrides:
            return self
        new = {p.name: p for p in self.parameters}
        for name, spec in overrides.items():
            if name not in new:
                raise ValueError(self._unknown(name))
            try:
                dist = parse_distribution(spec)
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
            new[name] = replace(new[name], dist=new[name].validate(dist))
        return ParameterSpace(tuple(new[n] for n in self.names))

    def with_sets(self, sets: list[str] | None) -> ParameterSpace:
        """Apply CLI ``key=value`` strings."""
        overrides = {}
        for item in sets or []:
            if "=" not in item:
                raise ValueError(f"--set expects key=value, got {item!r}")
            key, value = item.split("=", 1)
            overrides[key.strip()] = value.strip()
        return self.with_overrides(overrides)

    # -- designs ------------------------------------------------------------------------
    def sample(self, n: int | None = None, *, design: str = "random", rng=None):
        """Draw scenarios. ``n=None`` gives one dict, otherwise a list of ``n`` dicts."""
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
        rng = np.random.default_rng(rng)
        m = 1 if n is None else int(n)
        d = len(self.parameters)
        if design == "random" or m == 0:
            u = rng.random((m, d))
        elif design == "sobol":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # balance warning for non-2^k n
                u = qmc.Sobol(d, scramble=True, rng=rng).random(m)
        else:
            u = qmc.LatinHypercube(d, rng=rng).random(m)
        out = [self.from_unit(row) for row in u]
        return out[0] if n is None else out

    def sample_one(self, entropy: int, index: int) -> dict:
        """The random-design scenario of sample ``index``; depends on nothing else."""
        return self.sample(rng=stage_rng(entropy, index, "scenario"))

    def from_unit(self, u) -> dict:
        return {p.name: p.cast(p.dist.ppf(float(ui))) for p, ui in zip(self.parameters, u, strict=True)}

    # -- scenarios ----------------------------------------------------------------------
    def validate_scenario(self, scenario: Mapping[str, Any]) -> dict:
        """Check a concrete scenario (all names known, values in range); fill missing ones."""
        out = {}
        for name in scenario:
            if name not in self._index:
                raise ValueError(self._unknown(name))
        for p in self.parameters:
            value = scenario[p.name] if p.name in scenario else p.dist.ppf(0.5)
            if p.options is not None:
                if value not in p.options:
                    raise ValueError(f"{p.name}: {value!r} is not allowed; allowed: {p.allowed()}")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise ValueError(f"{p.name}: needs a number in {p.allowed()}, got {value!r}")
                if not math.isfinite(float(value)):
                    raise ValueError(f"{p.name}: needs a finite number in {p.allowed()}, got {value!r}")
                if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                    raise ValueError(f"{p.name}: {value} is outside the allowed range {p.allowed()}")
            out[p.name] = p.cast(value)
        return out

    def perturb(self, scenario: Mapping[str, Any], scale: float = 0.1, *, p_resample: float = 0.2, rng=None) -> dict:
        """A scenario near ``scenario``: numbers move uniformly within +-``scale`` of their
        allowed range (clipped), categorical values are redrawn with probability ``p_resample``."""
        rng = np.random.default_rng(rng)
        out = {}
        for p in self.parameters:
            v = scenario[p.name]
            if p.options is not None or not p.dist.is_numeric:
                out[p.name] = p.dist.sample(rng) if rng.random() < p_resample else v
                out[p.name] = p.cast(out[p.name])
                continue
            lo, hi = p.dist.support
            lo = p.low if not math.isfinite(lo) else lo
            hi = p.high if not math.isfinite(hi) else hi
            if lo == hi:
                out[p.name] = p.cast(v)
                continue
            # perturb within the parameter's sampled range, which the user chose
            delta = (hi - lo) * scale * rng.uniform(-1.0, 1.0)
            out[p.name] = p.cast(float(np.clip(float(v) + delta, lo, hi)))
        return out

    # -- YAML ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, str]:
        return {p.name: p.dist.to_spec() for p in self.parameters}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def describe(self) -> list[dict]:
        return [
            {"name": p.name, "distribution": p.dist.to_spec(), "allowed": p.allowed(), "doc": p.doc}
            for p in self.parameters
        ]
