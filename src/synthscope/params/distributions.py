"""Probability distributions for scenario parameters.

Each distribution draws random values (`sample`), maps uniform numbers to values for
quasi-random designs (`ppf`, the inverse CDF), reports its support, and has a compact
text form (`uniform(20, 120)`) that round-trips through YAML and the CLI's ``--set``.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

__all__ = [
    "Distribution",
    "Constant",
    "Uniform",
    "LogUniform",
    "Normal",
    "TruncNormal",
    "LogNormal",
    "Choice",
    "Empirical",
    "parse_distribution",
    "DISTRIBUTIONS",
]


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def _finite(name: str, **values: float) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name}: {key} must be a number, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name}: {key} must be finite, got {v!r}")


class Distribution:
    """Base class. Subclasses are frozen dataclasses."""

    name: str = ""

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        u = rng.random(size)
        return self.ppf(u)

    def ppf(self, u):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def support(self) -> tuple[Any, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_numeric(self) -> bool:
        return True

    def _args(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_spec(self) -> str:
        return f"{self.name}({', '.join(self._args())})"

    def __str__(self) -> str:
        return self.to_spec()


def _scalar(x):
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a


@dataclass(frozen=True)
class Constant(Distribution):
    value: Any
    name = "constant"

    def __post_init__(self):
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"constant: value must be finite, got {self.value!r}")

    def sample(self, rng, size=None):
        return self.value if size is None else np.full(size, self.value)

    def ppf(self, u):
        return self.value if np.ndim(u) == 0 else np.full(np.shape(u), self.value)

    @property
    def support(self):
        return (self.value, self.value)

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, (int, float, np.integer, np.floating)) and not isinstance(
            self.value, bool
        )

    def _args(self):
        return [_fmt(self.value)]

    def to_spec(self) -> str:
        return _fmt(self.value) if not isinstance(self.value, str) else f"constant({_fmt(self.value)})"


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float
    name = "uniform"

    def __post_init__(self):
        _finite("uniform", low=self.low, high=self.high)
        if not self.low <= self.high:
            raise ValueError(f"uniform: need low <= high, got ({self.low}, {self.high})")

    def ppf(self, u):
        return _scalar(self.low + (self.high - self.low) * np.asarray(u, dtype=float))

    @property
    def support(self):
        return (self.low, self.high)

    def _args(self):
        return [_fmt(self.low), _fmt(self.high)]


@dataclass(frozen=True)
class LogUniform(Distribution):
    low: float
    high: float
    name = "loguniform"

    def __post_init__(self):
        _finite("loguniform", low=self.low, high=self.high)
        if not 0 < self.low <= self.high:
            raise ValueError(f"loguniform: need 0 < low <= high, got ({self.low}, {self.high})")

    def ppf(self, u):
        lo, hi = math.log(self.low), math.log(self.high)
        return _scalar(np.exp(lo + (hi - lo) * np.asarray(u, dtype=float)))

    @property
    def support(self):
        return (self.low, self.high)

    def _args(self):
        return [_fmt(self.low), _fmt(self.high)]


@dataclass(frozen=True)
class Normal(Distribution):
    mean: float
    std: float
    name = "normal"

    def __post_init__(self):
        _finite("normal", mean=self.mean, std=self.std)
        if self.std < 0:
            raise ValueError(f"normal: std must be >= 0, got {self.std}")

    def ppf(self, u):
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        return _scalar(_st.norm.ppf(u, loc=self.mean, scale=self.std))

    @property
    def support(self):
        if self.std == 0:
            return (self.mean, self.mean)
        return (-math.inf, math.inf)

    def _args(self):
        return [_fmt(self.mean), _fmt(self.std)]


@dataclass(frozen=True)
class TruncNormal(Distribution):
    mean: float
    std: float
    low: float
    high: float
    name = "truncnormal"

    def __post_init__(self):
        _finite("truncnormal", mean=self.mean, std=self.std, low=self.low, high=self.high)
        if self.std <= 0 or not self.low < self.high:
            raise ValueError(
                f"truncnormal: need std > 0 and low < high, got std={self.std}, ({self.low}, {self.high})"
            )

    def ppf(self, u):
        a, b = (self.low - self.mean) / self.std, (self.high - self.mean) / self.std
        u = np.asarray(u, dtype=float)
        return _scalar(np.clip(_st.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.std), self.low, self.high))

    @property
    def support(self):
        return (self.low, self.high)

    def _args(self):
        return [_fmt(self.mean), _fmt(self.std), _fmt(self.low), _fmt(self.high)]


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal with the given *median* and log-space standard deviation ``sigma``."""

    median: float
    sigma: float
    name = "lognormal"

    def __post_init__(self):
        _finite("lognormal", median=self.median, sigma=self.sigma)
        if self.median <= 0 or self.sigma < 0:
            raise ValueError(f"lognormal: need median > 0 and sigma >= 0, got ({self.median}, {self.sigma})")

    def ppf(self, u):
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        return _scalar(self.median * np.exp(self.sigma * _st.norm.ppf(u)))

    @property
    def support(self):
        return (0.0, math.inf) if self.sigma > 0 else (self.median, self.median)

    def _args(self):
        return [_fmt(self.median), _fmt(self.sigma)]


@dataclass(frozen=True)
class Choice(Distribution):
    options: tuple
    p: tuple | None = None
    name = "choice"

    def __post_init__(self):
        if len(self.options) == 0:
            raise ValueError("choice: needs at least one option")
        object.__setattr__(self, "options", tuple(self.options))
        if self.p is not None:
            p = tuple(float(x) for x in self.p)
            if len(p) != len(self.options) or any(x < 0 or not math.isfinite(x) for x in p) or sum(p) <= 0:
                raise ValueError(f"choice: p must be {len(self.options)} non-negative weights, got {self.p}")
            s = sum(p)
            object.__setattr__(self, "p", tuple(x / s for x in p))

    def _index(self, u):
        u = np.asarray(u, dtype=float)
        if self.p is None:
            idx = np.minimum((u * len(self.options)).astype(int), len(self.options) - 1)
        else:
            idx = np.minimum(np.searchsorted(np.cumsum(self.p), u, side="right"), len(self.options) - 1)
        return idx

    def ppf(self, u):
        idx = self._index(u)
        if np.ndim(idx) == 0:
            return self.options[int(idx)]
        return np.array([self.options[i] for i in idx.ravel()], dtype=object).reshape(idx.shape)

    @property
    def support(self):
        if self.is_numeric:
            return (min(self.options), max(self.options))
        return (None, None)

    @property
    def is_numeric(self) -> bool:
        return all(
            isinstance(o, (int, float, np.integer, np.floating)) and not isinstance(o, bool)
            for o in self.options
        )

    def _args(self):
        args = [_fmt(list(self.options))]
        if self.p is not None:
            args.append("p=" + _fmt([round(x, 6) for x in self.p]))
        return args


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resamples measured values, linearly interpolating between order statistics."""

    values: tuple
    name = "empirical"

    def __post_init__(self):
        v = tuple(float(x) for x in self.values)
        if len(v) == 0 or not all(math.isfinite(x) for x in v):
            raise ValueError("empirical: needs one or more finite values")
        object.__setattr__(self, "values", tuple(sorted(v)))

    def ppf(self, u):
        v = np.asarray(self.values)
        q = np.linspace(0.0, 1.0, len(v)) if len(v) > 1 else np.array([0.0])
        if len(v) == 1:
            return _scalar(np.full(np.shape(u), v[0]))
        return _scalar(np.interp(np.asarray(u, dtype=float), q, v))

    @property
    def support(self):
        return (self.values[0], self.values[-1])

    def _args(self):
        return [_fmt([round(x, 6) for x in self.values])]


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    c.name: c for c in (Constant, Uniform, LogUniform, Normal, TruncNormal, LogNormal, Choice, Empirical)
}


def _literal(node: ast.AST, text: str):
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise ValueError(f"cannot read {text!r}: arguments must be literals") from err


def parse_distribution(spec: Any) -> Distribution:
    """Build a distribution from its text form, a mapping or a plain value.

    Accepted forms: ``"uniform(20, 120)"``, ``"choice(['a', 'b'], p=[0.7, 0.3])"``,
    ``{"dist": "uniform", "low": 20, "high": 120}``, a number, string or bool
    (a constant), or a list (a uniform choice).
    """
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        kind = spec.pop("dist", None)
        if kind not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {kind!r}; allowed: {', '.join(DISTRIBUTIONS)}")
        try:
            return DISTRIBUTIONS[kind](**spec)
        except TypeError as err:
            raise ValueError(f"{kind}: {err}") from err
    if isinstance(spec, (list, tuple)):
        return Choice(tuple(spec))
    if isinstance(spec, str):
        text = spec.strip()
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            return Constant(text)  # a bare word such as `groove`
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
            kind = tree.func.id
            if kind not in DISTRIBUTIONS:
                raise ValueError(
                    f"unknown distribution {kind!r} in {text!r}; allowed: {', '.join(DISTRIBUTIONS)}"
                )
            args = [_literal(a, text) for a in tree.args]
            kwargs = {k.arg: _literal(k.value, text) for k in tree.keywords}
            if kind == "choice" and args:
                args[0] = tuple(args[0])
            if kind == "empirical" and args:
                args[0] = tuple(args[0])
            try:
                return DISTRIBUTIONS[kind](*args, **kwargs)
            except TypeError as err:
                raise ValueError(f"{text!r}: {err}") from err
        if isinstance(tree, ast.Name):
            if tree.id.lower() in ("nan", "inf", "infinity"):
                raise ValueError(f"value must be a finite number, got {tree.id}")
            return Constant(tree.id)
        value = _literal(tree, text)
        return parse_distribution(value)
    if isinstance(spec, (bool, int, float, np.integer, np.floating)) or spec is None:
        if isinstance(spec, float) and not math.isfinite(spec):
            raise ValueError(f"value must be finite, got {spec!r}")
        return Constant(spec)
    raise ValueError(f"cannot read a distribution from {spec!r}")
