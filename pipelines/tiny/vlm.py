"""Tiny random-weight vision-language models of every supported VLM family, built from configs, and their inputs.

They are transformers' own classes (``LlavaForConditionalGeneration``, ``LlavaOnevisionForConditionalGeneration``,
``Qwen2VLForConditionalGeneration``, ``Qwen2_5_VLForConditionalGeneration``) with a few hundred
thousand parameters, so the KV methods run through exactly the code users run, on a CPU, in
seconds. The language model has head dim 32 (a size the Triton kernels take) and grouped-query
attention (2 query heads, 1 key/value head). Weights are random: they say nothing about quality.

``tiny_vlm_inputs`` builds model inputs without a processor: token ids with the right number of
image (or video) placeholders, random pixels, and the grids, sizes and token types each family needs.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

VOCAB = 256
IMAGE_TOKEN, VIDEO_TOKEN, VISION_START, VISION_END = VOCAB - 1, VOCAB - 2, VOCAB - 3, VOCAB - 4
BOS, EOS = 1, 2
TEXT_IDS = (4, VOCAB - 8)  # ordinary text tokens are drawn from this range


def _text_config(num_layers: int) -> dict[str, Any]:
    return dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=num_layers,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024, bos_token_id=BOS,
                eos_token_id=EOS, pad_token_id=0)


def build_llava(num_layers: int = 4) -> torch.nn.Module:
    """LLaVA: CLIP vision tower (64×64 images, 8×8 patches: 64 image tokens), LLaMA language model."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=64, patch_size=8, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=LlamaConfig(**_text_config(num_layers), head_dim=32),
                         image_token_index=IMAGE_TOKEN, image_seq_length=64, vision_feature_layer=-1)
    return LlavaForConditionalGeneration(config)


def build_llava_onevision(num_layers: int = 4) -> torch.nn.Module:
    """LLaVA-OneVision: SigLIP tower (16×16 tiles, any-resolution up to 32×32), Qwen2 language model."""
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, Qwen2Config, SiglipVisionConfig

    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                image_size=16, patch_size=4)
    config = LlavaOnevisionConfig(vision_config=vision, text_config=Qwen2Config(**_text_config(num_layers)),
                                  image_token_index=IMAGE_TOKEN, video_token_index=VIDEO_TOKEN, vision_feature_layer=-1,
                                  image_grid_pinpoints=[[16, 16], [16, 32], [32, 16], [32, 32]])
    return LlavaOnevisionForConditionalGeneration(config)


def _qwen_text(num_layers: int) -> dict[str, Any]:
    return dict(_text_config(num_layers),
                rope_parameters={"rope_type": "default", "mrope_section": [4, 6, 6], "rope_theta": 10000.0})


def _qwen_tokens() -> dict[str, int]:
    return dict(image_token_id=IMAGE_TOKEN, video_token_id=VIDEO_TOKEN, vision_start_token_id=VISION_START,
                vision_end_token_id=VISION_END)


def build_qwen2_vl(num_layers: int = 4) -> torch.nn.Module:
    """Qwen2-VL: native-resolution vision transformer (4×4 patches, 2×2 merge), multimodal RoPE."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    vision = dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, patch_size=4, spatial_merge_size=2,
                  temporal_patch_size=2)
    return Qwen2VLForConditionalGeneration(Qwen2VLConfig(text_config=_qwen_text(num_layers), vision_config=vision,
                                                         **_qwen_tokens()))


def build_qwen2_5_vl(num_layers: int = 4) -> torch.nn.Module:
    """Qwen2.5-VL: windowed vision transformer, time-aligned multimodal RoPE."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    vision = dict(depth=1, hidden_size=32, out_hidden_size=64, intermediate_size=64, num_heads=2, patch_size=4,
                  spatial_merge_size=2, temporal_patch_size=2, window_size=16, fullatt_block_indexes=[0])
    return Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(text_config=_qwen_text(num_layers),
                                                               vision_config=vision, **_qwen_tokens()))


TINY_VLMS: dict[str, Callable[[int], torch.nn.Module]] = {
    "llava": build_llava,
    "llava-onevision": build_llava_onevision,
    "qwen2-vl": build_qwen2_vl,
    "qwen2.5-vl": build_qwen2_5_vl,
}
VIDEO_FAMILIES = ("llava-onevision", "qwen2-vl", "qwen2.5-vl")


def build_tiny_vlm(family: str, num_layers: int = 4, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A tiny random-weight model of ``family`` (one of ``TINY_VLMS``), in eval mode."""
    if family not in TINY_VLMS:
        raise ValueError(f"No tiny VLM for {family!r}; choose one of {sorted(TINY_VLMS)}.")
    torch.manual_seed(seed)
    return TINY_VLMS[family](num_layers).to(dtype).eval()


def _text(generator: torch.Generator, length: int) -> list[int]:
    return torch.randint(*TEXT_IDS, (length,), generator=generator).tolist()


def _vision_part(model: torch.nn.Module, family: str, kind: str, generator: torch.Generator,
                 dtype: torch.dtype) -> tuple[list[int], dict[str, Any]]:
    """The placeholder tokens and pixel inputs of one image (or video) for ``family``."""
    if family == "llava":
        return [IMAGE_TOKEN] * 64, {"pixel_values": torch.randn(1, 3, 64, 64, generator=generator, dtype=dtype)}
    if family == "llava-onevision":
        if kind == "video":
            pixels = torch.randn(1, 4, 3, 16, 16, generator=generator, dtype=dtype)
            with torch.no_grad():
                count = model.model.get_video_features(pixels).pooler_output.shape[1]
            return [VIDEO_TOKEN] * count, {"pixel_values_videos": pixels}
        pixels = torch.randn(1, 5, 3, 16, 16, generator=generator, dtype=dtype)
        sizes = torch.tensor([[32, 32]])
        with torch.no_grad():
            features = model.model.get_image_features(pixels, sizes, batch_num_images=torch.tensor([1]))
        count = sum(int(part.shape[0]) for part in features.pooler_output)
        return [IMAGE_TOKEN] * count, {"pixel_values": pixels, "image_sizes": sizes, "batch_num_images": torch.tensor([1])}
    if kind == "video":  # 4 frames → 2 temporal patches of an 8×8-patch grid → 2 × 16 merged tokens
        grid = torch.tensor([[2, 8, 8]])
        pixels = torch.randn(128, 3 * 2 * 4 * 4, generator=generator, dtype=dtype)
        extra = {"pixel_values_videos": pixels, "video_grid_thw": grid}
        if family == "qwen2.5-vl":
            extra["second_per_grid_ts"] = torch.tensor([1.0])
        return [VISION_START] + [VIDEO_TOKEN] * 32 + [VISION_END], extra
    grid = torch.tensor([[1, 12, 12]])  # 144 patches → 36 merged tokens
    pixels = torch.randn(144, 3 * 2 * 4 * 4, generator=generator, dtype=dtype)
    return [VISION_START] + [IMAGE_TOKEN] * 36 + [VISION_END], {"pixel_values": pixels, "image_grid_thw": grid}


def tiny_vlm_inputs(model: torch.nn.Module, family: str, kind: str = "image", seed: int = 0, before: int = 6,
                    after: int = 10, pad: int = 0) -> dict[str, Any]:
    """Inputs for one prompt: ``before`` text tokens, one image (or ``kind="video"``), ``after`` text tokens.

    ``pad > 0`` adds a second prompt with the same image and ``pad`` fewer text tokens at the end,
    left-padded to the same length (a padded batch); families with multimodal RoPE get ``mm_token_type_ids``.
    """
    if kind == "video" and family not in VIDEO_FAMILIES:
        raise ValueError(f"{family} takes images only; video families: {VIDEO_FAMILIES}.")
    if not 0 <= pad < after:
        raise ValueError(f"pad must be in [0, after={after}), got {pad}.")
    generator = torch.Generator().manual_seed(seed)
    dtype = next(model.parameters()).dtype
    vision, extra = _vision_part(model, family, kind, generator, dtype)
    ids = [BOS] + _text(generator, before) + vision + _text(generator, after)
    rows, masks = [ids], [[1] * len(ids)]
    if pad:
        second = [BOS] + _text(generator, before) + vision + _text(generator, after - pad)
        rows.append([0] * pad + second)
        masks.append([0] * pad + [1] * len(second))
        extra = _repeat_vision_for_batch(extra)
    input_ids = torch.tensor(rows)
    inputs = {"input_ids": input_ids, "attention_mask": torch.tensor(masks), **extra}
    if family in ("qwen2-vl", "qwen2.5-vl"):
        inputs["mm_token_type_ids"] = ((input_ids == IMAGE_TOKEN).int() + 2 * (input_ids == VIDEO_TOKEN).int())
    return inputs


def _repeat_vision_for_batch(extra: dict[str, Any]) -> dict[str, Any]:
    """The vision inputs of two prompts that each hold the same image (or video)."""
    return {key: torch.cat([value, value]) if isinstance(value, torch.Tensor) else value for key, value in extra.items()}


def text_tokens(text: str) -> list[int]:
    """A prompt's characters as text token ids (a stand-in tokenizer for the tiny models)."""
    low, high = TEXT_IDS
    return [low + ord(character) % (high - low) for character in text] or [low]


def tiny_text_inputs(model: torch.nn.Module, family: str, prompt: str, seed: int = 0) -> dict[str, Any]:
    """Inputs for ``prompt`` with one random image (seeded): the image first, then the prompt's characters."""
    generator = torch.Generator().manual_seed(seed)
    vision, extra = _vision_part(model, family, "image", generator, next(model.parameters()).dtype)
    input_ids = torch.tensor([[BOS] + vision + text_tokens(prompt)])
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), **extra}
    if family in ("qwen2-vl", "qwen2.5-vl"):
        inputs["mm_token_type_ids"] = (input_ids == IMAGE_TOKEN).int()
    return inputs
