"""The declarative description of a vision-language model family: where its language model is."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import torch

ROPE_KINDS = ("1d", "mrope")


def attribute_path(root: Any, path: str) -> Any:
    for name in path.split("."):
        root = getattr(root, name, None)
        if root is None:
            return None
    return root


@dataclasses.dataclass(frozen=True)
class VLMAdapter:
    """Everything the KV methods need to know about one family of transformers vision-language models.

    Attributes:
        name: family name shown to users ("llava", "qwen2-vl", ...).
        model_classes: transformers model class names of the family (the generation class and its
            base model, e.g. ``LlavaForConditionalGeneration`` and ``LlavaModel``).
        language_model: attribute path, from the model, of the language model (a transformers
            ``PreTrainedModel`` whose decoder layers the KV methods act on).
        vision_tower: attribute path of the vision encoder (left untouched; named for the docs and checks).
        layers_attribute: the language model's ``ModuleList`` of decoder layers.
        attention_attribute: the self-attention module inside a decoder layer.
        rope: ``"1d"`` (one rotary position per token) or ``"mrope"`` (multimodal RoPE: temporal,
            height and width positions of vision tokens, Qwen2-VL style).
        image_token: config attribute holding the image placeholder token id.
        video_token: config attribute holding the video placeholder token id (``None``: images only).
        presets: per method name, the settings that suit this family.
        notes: anything a user should know when applying a method to this family.
    """

    name: str
    model_classes: tuple[str, ...]
    language_model: str = "model.language_model"
    vision_tower: str = "model.vision_tower"
    layers_attribute: str = "layers"
    attention_attribute: str = "self_attn"
    rope: str = "1d"
    image_token: str = "image_token_id"
    video_token: str | None = None
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        if self.rope not in ROPE_KINDS:
            raise ValueError(f"VLMAdapter.rope must be one of {ROPE_KINDS}, got {self.rope!r}")

    def find_language_model(self, model: torch.nn.Module) -> torch.nn.Module | None:
        """The language model inside ``model`` (the generation class or its base model)."""
        for path in (self.language_model, self.language_model.split(".", 1)[-1]):
            found = attribute_path(model, path)
            if isinstance(found, torch.nn.Module):
                return found
        return None

    def decoder_layers(self, language_model: torch.nn.Module) -> list[torch.nn.Module]:
        layers = getattr(language_model, self.layers_attribute, None)
        return list(layers) if isinstance(layers, torch.nn.ModuleList) else []

    def attention_modules(self, language_model: torch.nn.Module) -> list[torch.nn.Module]:
        """The self-attention module of every decoder layer, in layer order."""
        found = [getattr(layer, self.attention_attribute, None) for layer in self.decoder_layers(language_model)]
        return [module for module in found if isinstance(module, torch.nn.Module)]

    def token_ids(self, model: torch.nn.Module) -> dict[str, int]:
        """The placeholder token ids of images (and videos) in ``model``'s config."""
        ids = {"image": getattr(model.config, self.image_token, None)}
        if self.video_token is not None:
            ids["video"] = getattr(model.config, self.video_token, None)
        return {kind: int(value) for kind, value in ids.items() if isinstance(value, int)}
