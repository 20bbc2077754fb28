"""Qwen2-VL: a native-resolution vision transformer and a Qwen2 language model with multimodal RoPE."""

from .registry import register_family
from .vlm_adapter import VLMAdapter

QWEN2_VL = register_family(VLMAdapter(
    name="qwen2-vl",
    model_classes=("Qwen2VLForConditionalGeneration", "Qwen2VLModel"),
    vision_tower="model.visual",
    rope="mrope",
    image_token="image_token_id",
    video_token="video_token_id",
    notes="multimodal RoPE: vision tokens carry (time, height, width) positions, so rotary positions run "
          "behind the token count; inputs need mm_token_type_ids.",
))
