"""toy-vlm's architecture (and the tiny random one for tests): a small Qwen2-VL and its processor settings.

A clip of 8 frames of 64×64 becomes 4 × 16 × 16 patches of 2 frames × 4 × 4 pixels (the vision tower attends
within each 2-frame slice), merged 2 × 2 into 4 × 8 × 8 = 256 visual tokens for the language model.
"""

from __future__ import annotations

import dataclasses

import torch
from transformers import GenerationConfig, Qwen2VLConfig, Qwen2VLForConditionalGeneration

from .pipeline import VideoQAPipeline
from .processor import ToyVLMProcessor
from .tokenizer import EOS, IMAGE_PAD, PAD, VIDEO_PAD, VISION_END, VISION_START, build_tokenizer, vocabulary

MAX_NEW_TOKENS = 4  # an answer is one word and </s>


@dataclasses.dataclass(frozen=True)
class VLMSpec:
    """Sizes of one model: vision tower, language model, and the clips its processor makes."""

    vision_depth: int
    vision_dim: int
    vision_heads: int
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int
    mrope_section: tuple[int, int, int]  # rotary pairs for time, height, width; sums to head_dim / 2
    size: int = 64
    num_frames: int = 8
    patch_size: int = 4
    temporal_patch_size: int = 2
    merge_size: int = 2


TOY_VLM_SPEC = VLMSpec(vision_depth=2, vision_dim=96, vision_heads=3, hidden_size=128, layers=4, heads=4,
                       kv_heads=2, intermediate_size=512, mrope_section=(4, 6, 6))
TINY_VLM_SPEC = VLMSpec(vision_depth=1, vision_dim=32, vision_heads=2, hidden_size=32, layers=2, heads=2,
                        kv_heads=1, intermediate_size=64, mrope_section=(2, 3, 3), size=32, num_frames=4)


def model_config(spec: VLMSpec) -> Qwen2VLConfig:
    ids = vocabulary()
    text = dict(vocab_size=len(ids), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
                num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                max_position_embeddings=1024, bos_token_id=None, eos_token_id=ids[EOS], pad_token_id=ids[PAD],
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                 "mrope_section": list(spec.mrope_section)})
    vision = dict(depth=spec.vision_depth, embed_dim=spec.vision_dim, num_heads=spec.vision_heads,
                  hidden_size=spec.hidden_size, mlp_ratio=4, patch_size=spec.patch_size,
                  temporal_patch_size=spec.temporal_patch_size, spatial_merge_size=spec.merge_size)
    return Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=ids[IMAGE_PAD],
                         video_token_id=ids[VIDEO_PAD], vision_start_token_id=ids[VISION_START],
                         vision_end_token_id=ids[VISION_END], tie_word_embeddings=True)


def build_model(spec: VLMSpec, seed: int = 0) -> Qwen2VLForConditionalGeneration:
    """A randomly initialised model of ``spec`` (the same weights for the same seed), greedy by default."""
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(model_config(spec))
    ids = vocabulary()
    model.generation_config = GenerationConfig(do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                                               eos_token_id=ids[EOS], pad_token_id=ids[PAD])
    return model.eval()


def build_processor(spec: VLMSpec) -> ToyVLMProcessor:
    return ToyVLMProcessor(build_tokenizer(), size=spec.size, patch_size=spec.patch_size,
                           temporal_patch_size=spec.temporal_patch_size, merge_size=spec.merge_size,
                           num_frames=spec.num_frames)


def build_pipeline(spec: VLMSpec, seed: int = 0) -> VideoQAPipeline:
    """A random-weight pipeline of ``spec`` (``tiny:vlm`` is ``TINY_VLM_SPEC``'s)."""
    return VideoQAPipeline(build_model(spec, seed), build_processor(spec))
