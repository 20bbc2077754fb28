"""``VARPipeline``: text- or class-conditioned image generation by next-scale prediction, diffusers-style.

    pipe = VARPipeline.from_pretrained(folder)        # or mmcache.pipelines.load("toy-var")
    images = pipe("a red circle on a black background", num_images=2, guidance_scale=3.0,
                  generator=torch.Generator().manual_seed(0), output_type="np").images

Each call samples the scales one after another (a progress bar over scales), both CFG branches in one
batch, with a per-block KV cache (``kv_cache.py``). A saved folder holds ``model_index.json``,
``tokenizer/`` (the multi-scale VQ tokenizer) and ``transformer/`` (each ``config.json`` + safetensors),
and ``mmcache_defaults.json`` (the call settings the model was trained for).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import ImagePipelineOutput
from PIL import Image
from tqdm.auto import tqdm

from mmcache.files import atomic_write_json

from ..saving import DEFAULTS_FILE, forget_source_paths
from .sampling import guided_logits, sample_tokens
from .transformer import VARTransformer
from .vqvae import MultiScaleVQVAE

MODEL_INDEX = "model_index.json"
OUTPUT_TYPES = ("pil", "np", "pt")
Prompt = str | int | list[str] | list[int]


class VARPipeline:
    """A multi-scale VQ tokenizer and a next-scale-prediction transformer; ``__call__`` generates images."""

    def __init__(self, tokenizer: MultiScaleVQVAE, transformer: VARTransformer) -> None:
        if tuple(tokenizer.config.patch_nums) != transformer.patch_nums:
            raise ValueError(f"The tokenizer's scales {tuple(tokenizer.config.patch_nums)} differ from the "
                             f"transformer's {transformer.patch_nums}; pair components trained together.")
        self.tokenizer, self.transformer = tokenizer.eval(), transformer.eval()
        self._progress_bar_config: dict[str, Any] = {}

    @property
    def components(self) -> dict[str, torch.nn.Module]:
        return {"tokenizer": self.tokenizer, "transformer": self.transformer}

    @property
    def device(self) -> torch.device:
        return self.transformer.device

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.dtype

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> VARPipeline:
        moves = {key: value for key, value in (("device", device), ("dtype", dtype)) if value is not None}
        for module in self.components.values():
            module.to(**moves)
        return self

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        self._progress_bar_config = dict(kwargs)

    def save_pretrained(self, folder: str | Path, defaults: dict[str, Any] | None = None) -> Path:
        """Writes the pipeline folder (and ``mmcache_defaults.json`` when ``defaults`` is given)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, module in self.components.items():
            module.save_pretrained(str(folder / name), safe_serialization=True)
        forget_source_paths(folder)
        index = {"_class_name": type(self).__name__, **{name: ["mmcache.pipelines.var", type(module).__name__]
                                                        for name, module in self.components.items()}}
        atomic_write_json(folder / MODEL_INDEX, index)
        if defaults is not None:
            atomic_write_json(folder / DEFAULTS_FILE, defaults)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, torch_dtype: torch.dtype | None = None) -> VARPipeline:
        folder = Path(folder)
        if not is_var_folder(folder):
            raise FileNotFoundError(f"{folder} holds no saved VARPipeline ({MODEL_INDEX} naming VARPipeline); "
                                    "pass a folder written by VARPipeline.save_pretrained.")
        kwargs = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        return cls(MultiScaleVQVAE.from_pretrained(str(folder / "tokenizer"), **kwargs),
                   VARTransformer.from_pretrained(str(folder / "transformer"), **kwargs))

    def condition_ids(self, prompt: Prompt) -> torch.Tensor:
        """Captions (words of the transformer's vocabulary) or class labels → ``[B, T]`` ids, ``-1``-padded."""
        prompts = prompt if isinstance(prompt, list) else [prompt]
        if not prompts:
            raise ValueError("prompt is an empty list; give at least one caption or class label.")
        words = self.transformer.config.condition_words
        rows = [self._ids_of(item, words) for item in prompts]
        ids = torch.full((len(rows), max(map(len, rows))), -1, dtype=torch.long)
        for row, values in enumerate(rows):
            ids[row, : len(values)] = torch.tensor(values)
        return ids.to(self.device)

    def _ids_of(self, item: str | int, words: list[str] | None) -> list[int]:
        if isinstance(item, str) and words:
            return caption_ids(item, words)
        if isinstance(item, int) and not isinstance(item, bool) and not words:
            return [class_label(item, self.transformer.num_conditions)]
        wanted = "captions (str)" if words else "class labels (int)"
        raise TypeError(f"This model is conditioned on {wanted}; got {item!r}.")

    def branch_ids(self, prompt: Prompt, num_images: int = 1, guided: bool = True) -> torch.Tensor:
        """Condition ids of one batch: each prompt ``num_images`` times, then (``guided``) as many unconditional
        rows, the batch layout of sampling with classifier-free guidance."""
        ids = self.condition_ids(prompt).repeat_interleave(num_images, dim=0)
        if not guided:
            return ids
        null = torch.full_like(ids, -1)
        null[:, 0] = self.transformer.null_condition
        return torch.cat((ids, null))

    @torch.no_grad()
    def sample_indices(self, prompt: Prompt, num_images: int = 1, guidance_scale: float = 3.0, top_k: int = 0,
                       top_p: float = 0.0, generator: torch.Generator | None = None,
                       guidance_ramp: bool = False) -> list[torch.Tensor]:
        """Token ids of every scale (``[B, pn²]`` each), drawn scale by scale with the KV cache."""
        return self._sample(prompt, num_images, guidance_scale, top_k, top_p, generator, guidance_ramp)[0]

    def _sample(self, prompt: Prompt, num_images: int, guidance_scale: float, top_k: int, top_p: float,
                generator: torch.Generator | None, guidance_ramp: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The token ids of every scale and the feature map they sum to (``f_hat``, what the decoder takes)."""
        if num_images < 1:
            raise ValueError(f"num_images must be at least 1, got {num_images}.")
        if guidance_scale < 1 or top_k < 0 or not 0 <= top_p <= 1:
            raise ValueError(f"Need guidance_scale ≥ 1, top_k ≥ 0 and 0 ≤ top_p ≤ 1 (got {guidance_scale}, {top_k}, "
                             f"{top_p}).")
        model, quantize = self.transformer, self.tokenizer.quantize
        guided = guidance_scale > 1
        ids = self.branch_ids(prompt, num_images, guided)
        B = ids.shape[0] // 2 if guided else ids.shape[0]
        cond_BD = model.condition(ids)
        x = model.first_scale_input(cond_BD)
        size = model.patch_nums[-1]
        f_hat = cond_BD.new_zeros(B, self.tokenizer.config.z_channels, size, size)
        indices = []
        bar = tqdm(model.patch_nums, desc="scales", **{"leave": False, **self._progress_bar_config})
        with model.kv_caching():
            for si, pn in enumerate(bar):
                logits = model.logits(x, cond_BD, None, si)
                if guided:
                    logits = guided_logits(logits, guidance_scale, si, len(model.patch_nums), guidance_ramp)
                index = sample_tokens(logits, generator, top_k, top_p)
                indices.append(index)
                f_hat, next_map = quantize.next_scale_input(si, f_hat, quantize.codes(index, pn))
                if si + 1 < len(model.patch_nums):
                    x = model.scale_input(next_map, si + 1)
                    x = torch.cat((x, x)) if guided else x
        return indices, f_hat

    @torch.no_grad()
    def __call__(self, prompt: Prompt, num_images: int = 1, guidance_scale: float = 3.0, top_k: int = 0,
                 top_p: float = 0.0, generator: torch.Generator | None = None, guidance_ramp: bool = False,
                 output_type: str = "pil", return_dict: bool = True) -> ImagePipelineOutput | tuple:
        """Images for ``prompt`` (one caption or class label, or a list: ``num_images`` each, in order).

        ``guidance_scale`` 1 turns classifier-free guidance off; ``top_k`` / ``top_p`` 0 turn that filter off;
        ``guidance_ramp`` raises the guidance linearly from 1 at the first scale (VAR's schedule).
        ``output_type``: ``"pil"`` (list of images), ``"np"`` (``[N, H, W, 3]`` in [0, 1]) or ``"pt"``
        (``[N, 3, H, W]`` in [0, 1]).
        """
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}.")
        _, f_hat = self._sample(prompt, num_images, guidance_scale, top_k, top_p, generator, guidance_ramp)
        images = (self.tokenizer.decode_fhat(f_hat).float() + 1) / 2
        if output_type != "pt":
            images = images.permute(0, 2, 3, 1).cpu().numpy()
        if output_type == "pil":
            images = [Image.fromarray((image * 255).round().astype(np.uint8)) for image in images]
        return ImagePipelineOutput(images=images) if return_dict else (images,)


def caption_ids(caption: str, words: list[str]) -> list[int]:
    """A caption's word ids in a text-conditioned model's vocabulary ``words``; ``ValueError`` names unknown words."""
    tokens = re.sub(r"[^a-z\s]", " ", caption.lower()).split()
    unknown = sorted({token for token in tokens if token not in words})
    if unknown or not tokens:
        listed = ", ".join(unknown) or "no words at all"
        raise ValueError(f"Prompt {caption!r} has words this model does not know ({listed}); use only: "
                         f"{' '.join(words)}.")
    return [words.index(token) for token in tokens]


def class_label(label: int, num_classes: int) -> int:
    """``label`` when a class-conditioned model of ``num_classes`` classes has it; else ``ValueError``."""
    if not 0 <= label < num_classes:
        raise ValueError(f"Class label {label} is outside 0 … {num_classes - 1}.")
    return label


def saved_conditioning(folder: str | Path) -> tuple[list[str] | None, int]:
    """``(caption words or None, class count)`` of a saved pipeline's transformer, read from its config only."""
    file = Path(folder) / "transformer" / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{folder} has no transformer/config.json; pass a folder written by "
                                "VARPipeline.save_pretrained.")
    config = json.loads(file.read_text())
    return config.get("condition_words") or None, int(config.get("num_classes") or 0)


def is_var_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a saved ``VARPipeline``."""
    index = Path(folder) / MODEL_INDEX
    return index.is_file() and json.loads(index.read_text()).get("_class_name") == VARPipeline.__name__
