"""Adaptive sampling of the parameter space: strategies that propose new scenarios
from scored ones, and the adapt loop (validate, propose, render, fine-tune)."""

from synthscope.sampling.strategies import (
    STRATEGIES,
    Encoder,
    effects_markdown,
    parameter_effects,
    propose,
)

__all__ = ["STRATEGIES", "Encoder", "propose", "parameter_effects", "effects_markdown"]
