"""Tiny random-weight pipelines of every supported family, for tests and benchmarks."""

from .builders import ONE_LOOP, TINY_BUILDERS, WINDOWED, build_tiny_pipeline
from .call_kwargs import generate_tiny, tiny_call_kwargs

__all__ = ["ONE_LOOP", "TINY_BUILDERS", "WINDOWED", "build_tiny_pipeline", "tiny_call_kwargs", "generate_tiny"]
