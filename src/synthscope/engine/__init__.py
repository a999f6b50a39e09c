"""Running many renders: a local process pool, resumable and deterministic."""

from synthscope.engine.local import design_scenarios, generate

__all__ = ["design_scenarios", "generate"]
