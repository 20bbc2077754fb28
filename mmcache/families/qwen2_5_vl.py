"""Qwen2.5-VL: Qwen2-VL with a windowed-attention vision transformer and time-aligned multimodal RoPE."""

from .registry import register_family
from .vlm_adapter import VLMAdapter

QWEN2_5_VL = register_family(VLMAdapter(
    name="qwen2.5-vl",
    model_classes=("Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLModel"),
    vision_tower="model.visual",
    rope="mrope",
    image_token="image_token_id",
    video_token="video_token_id",
    notes="multimodal RoPE with absolute time positions for video; inputs need mm_token_type_ids.",
))
