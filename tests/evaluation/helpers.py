"""Shared settings of the evaluation tests: the reference model when its weights exist, else a tiny one."""

from __future__ import annotations

from mmcache.pipelines.loader import bundled_path

TINY_MODEL = "tiny:wan2.1-t2v"


def reference_model_present() -> bool:
    return (bundled_path("toy-t2v") / "model_index.json").is_file()


def model_args() -> list[str]:
    """toy-t2v with few steps where its weights are present; otherwise the tiny random Wan pipeline.

    Both are Wan-style pipelines run through the same code; the tiny one keeps the suite runnable
    in a checkout without the trained reference weights.
    """
    if reference_model_present():
        return ["--model", "toy-t2v", "--steps", "6"]
    return ["--model", TINY_MODEL, "--steps", "6"]
