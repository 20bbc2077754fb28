"""LLaVA (1.5 style): a CLIP vision tower, a projector and a LLaMA-style language model; images only."""

from .registry import register_family
from .vlm_adapter import VLMAdapter

LLAVA = register_family(VLMAdapter(
    name="llava",
    model_classes=("LlavaForConditionalGeneration", "LlavaModel"),
    vision_tower="model.vision_tower",
    rope="1d",
    image_token="image_token_id",
    notes="image tokens are a contiguous run of placeholders expanded by the processor.",
))
