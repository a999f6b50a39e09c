"""Parameter distributions, parameter spaces, designs and per-sample seeding."""

from synthscope.params.distributions import (
    DISTRIBUTIONS,
    Choice,
    Constant,
    Distribution,
    Empirical,
    LogNormal,
    LogUniform,
    Normal,
    TruncNormal,
    Uniform,
    parse_distribution,
)
from synthscope.params.space import (
    DESIGNS,
    STAGES,
    Parameter,
    ParameterSpace,
    sample_seed,
    stage_rng,
)

__all__ = [
    "DISTRIBUTIONS",
    "DESIGNS",
    "STAGES",
    "Choice",
    "Constant",
    "Distribution",
    "Empirical",
    "LogNormal",
    "LogUniform",
    "Normal",
    "Parameter",
    "ParameterSpace",
    "TruncNormal",
    "Uniform",
    "parse_distribution",
    "sample_seed",
    "stage_rng",
]
