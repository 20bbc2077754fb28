"""Vision-language models for the command line: a tiny random one or a local transformers folder, and their inputs.

``load_vlm`` gives a ``LoadedVLM`` (``.model`` and ``.processor``, the shape ``mmcache.enable`` takes):
``tiny:<family>`` builds a tiny random model (no processor: its inputs are made directly, see
``pipelines.tiny.vlm``); a folder holding a saved transformers VLM and its processor loads with
``AutoModelForImageTextToText`` / ``AutoProcessor``. ``prompt_inputs`` turns prompts (and images)
into the model's input dicts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import torch

from .loader import TINY_PREFIX


class VLMNotFoundError(FileNotFoundError):
    """The requested vision-language model is neither a tiny one nor a saved folder."""


@dataclasses.dataclass
class LoadedVLM:
    model: torch.nn.Module
    processor: Any | None
    name: str
    family: str | None = None  # set for tiny models

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def vlm_names() -> list[str]:
    from .tiny.vlm import TINY_VLMS

    return [TINY_PREFIX + family for family in TINY_VLMS]


def load_vlm(name_or_path: str, device: str | torch.device | None = None,
             dtype: torch.dtype | None = None) -> LoadedVLM:
    """A tiny random VLM (``tiny:<family>``) or a saved transformers VLM folder, in eval mode."""
    from .tiny.vlm import TINY_VLMS, build_tiny_vlm

    if name_or_path.startswith(TINY_PREFIX) and name_or_path[len(TINY_PREFIX):] in TINY_VLMS:
        family = name_or_path[len(TINY_PREFIX):]
        model = build_tiny_vlm(family, dtype=dtype or torch.float32)
        return LoadedVLM(model.to(device or "cpu"), None, name_or_path, family)
    folder = Path(name_or_path)
    if not (folder / "config.json").is_file():
        raise VLMNotFoundError(f"{name_or_path!r} is neither a tiny vision-language model ({', '.join(vlm_names())}) "
                               "nor a folder holding a saved transformers model (config.json inside).")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype or "auto").eval()
    return LoadedVLM(model.to(device or "cpu"), AutoProcessor.from_pretrained(folder), name_or_path)


def prompt_inputs(loaded: LoadedVLM, prompts: Sequence[str], images: Sequence[str] = (),
                  seeds: Sequence[int] = (0,)) -> list[dict[str, Any]]:
    """One model input dict per prompt (× seed for tiny models, whose image is random per seed).

    A tiny model gets the prompt's characters as text tokens and a random image; a loaded folder
    gets its processor's chat template with one image per prompt (``images``: one path per prompt,
    or one shared by all).
    """
    if loaded.family is not None:
        from .tiny.vlm import tiny_text_inputs

        return [tiny_text_inputs(loaded.model, loaded.family, prompt, seed) for prompt in prompts for seed in seeds]
    if len(images) not in (1, len(prompts)):
        raise ValueError(f"give one image for every prompt ({len(prompts)}) or one for all, got {len(images)}.")
    from PIL import Image

    inputs = []
    for index, prompt in enumerate(prompts):
        image = Image.open(images[index if len(images) > 1 else 0]).convert("RGB")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = loaded.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs.append(dict(loaded.processor(text=text, images=image, return_tensors="pt")))
    return inputs
