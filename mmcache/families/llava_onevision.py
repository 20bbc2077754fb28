"""LLaVA-OneVision: a SigLIP vision tower with any-resolution tiles, a Qwen2 language model; images and videos."""

from .registry import register_family
from .vlm_adapter import VLMAdapter

LLAVA_ONEVISION = register_family(VLMAdapter(
    name="llava-onevision",
    model_classes=("LlavaOnevisionForConditionalGeneration", "LlavaOnevisionModel"),
    vision_tower="model.vision_tower",
    rope="1d",
    image_token="image_token_id",
    video_token="video_token_id",
    notes="any-resolution images become many tiles' tokens; video frames are pooled before the language model.",
))
