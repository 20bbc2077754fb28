"""What one evaluation generates: its settings, and the prompt × seed items."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from mmcache.pipelines.generation import GenerationRequest

from .model_identity import model_weights_digest
from .naming import prompt_stems, video_name


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """Everything that makes two runs comparable; stored as ``run_config.json`` in the output folder."""

    model: str
    steps: int
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    dtype: str | None = None
    measure_compute: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class EvalItem:
    """One prompt × seed; every method is generated for it with the same seed."""

    prompt_index: int
    prompt: str
    stem: str
    seed_index: int
    seed: int
    key: str

    @property
    def video_name(self) -> str:
        """VBench naming: ``{prompt}-{sample index}.mp4``."""
        return video_name(self.stem, self.seed_index)

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "prompt": self.prompt, "prompt_index": self.prompt_index, "seed": self.seed,
                "seed_index": self.seed_index}

    def request(self, settings: EvalSettings) -> GenerationRequest:
        return GenerationRequest(prompt=self.prompt, negative_prompt=settings.negative_prompt,
                                 num_inference_steps=settings.steps, seed=self.seed, height=settings.height,
                                 width=settings.width, num_frames=settings.num_frames,
                                 guidance_scale=settings.guidance_scale)


def _item_key(prompt: str, seed: int, settings: EvalSettings) -> str:
    text = json.dumps({"prompt": prompt, "seed": seed, "settings": settings.as_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def build_items(prompts: tuple[str, ...], seeds: tuple[int, ...], settings: EvalSettings) -> list[EvalItem]:
    """Prompt-major list of items: (prompt 0, seed 0), (prompt 0, seed 1), ..."""
    stems = prompt_stems(prompts)
    return [EvalItem(p, prompt, stems[p], s, seed, _item_key(prompt, seed, settings))
            for p, prompt in enumerate(prompts) for s, seed in enumerate(seeds)]


def run_config(settings: EvalSettings, prompts: tuple[str, ...], seeds: tuple[int, ...]) -> dict[str, Any]:
    """The identity of a run: a folder holds results of exactly one of these (the model's weights included)."""
    digest = hashlib.sha256(json.dumps(list(prompts)).encode("utf-8")).hexdigest()[:16]
    return {**settings.as_dict(), "seeds": list(seeds), "num_prompts": len(prompts), "prompts_digest": digest,
            "model_weights": model_weights_digest(settings.model)}


def config_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable ``key: old → new`` lines for every setting that changed."""
    keys = sorted(set(stored) | set(current))
    return [f"{key}: {stored.get(key)!r} → {current.get(key)!r}"
            for key in keys if stored.get(key) != current.get(key)]
