"""Tiny random-weight pipelines of every supported family, for tests and benchmarks."""

from .builders import TINY_BUILDERS, build_tiny_pipeline
from .call_kwargs import generate_tiny, tiny_call_kwargs

__all__ = ["TINY_BUILDERS", "build_tiny_pipeline", "tiny_call_kwargs", "generate_tiny"]
