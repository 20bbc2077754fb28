"""Small, fast generation arguments for each tiny pipeline (used by tests and smoke runs)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

VIDEO_KWARGS = {"height": 16, "width": 16, "num_frames": 5, "max_sequence_length": 16}
# two windows of 4 latent frames (the second with a 2-frame prefix), blocks of 2 frames 2 steps apart
DIFFUSION_FORCING_KWARGS = {"height": 16, "width": 16, "num_frames": 21, "base_num_frames": 13,
                            "overlap_history": 5, "ar_step": 2, "addnoise_condition": 0, "max_sequence_length": 16}


def test_image(size: int = 16, seed: int = 0) -> Image.Image:
    """A deterministic RGB conditioning image for image-to-video families."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def tiny_call_kwargs(name: str, num_inference_steps: int = 6, guidance_scale: float = 5.0) -> dict[str, Any]:
    """Call arguments that make the tiny pipeline ``name`` run a short denoising loop."""
    kwargs: dict[str, Any] = {
        "prompt": "a red circle moving left",
        "num_inference_steps": num_inference_steps,
        "guidance_scale": guidance_scale,
        "output_type": "pt",
    }
    if name == "flux":
        kwargs.update(height=16, width=16, max_sequence_length=16)
    elif name == "hunyuan-video":
        kwargs.update(height=16, width=16, num_frames=5, max_sequence_length=16,
                      prompt_template={"template": "{}", "crop_start": 0})
    elif name == "cogvideox":
        kwargs.update(height=16, width=16, num_frames=9, max_sequence_length=16)
    elif name == "anyflow-far":
        kwargs.update(height=64, width=64, num_frames=33, max_sequence_length=16)
    elif name.startswith("skyreels-v2-df"):
        kwargs.update(DIFFUSION_FORCING_KWARGS)
    elif name == "ltx-video":
        kwargs.update(height=32, width=32, num_frames=9, max_sequence_length=16)
    else:
        kwargs.update(VIDEO_KWARGS)
    if name.endswith("i2v"):
        kwargs["image"] = test_image()
    if name.startswith("wan") or name.startswith("skyreels"):
        kwargs["negative_prompt"] = "blurry"
    return kwargs


def generate_tiny(pipe: Any, name: str, steps: int = 10, seed: int = 0, **overrides: Any) -> Any:
    """Run the tiny pipeline ``name`` and return its frames (or image) as one tensor."""
    import torch

    kwargs = {**tiny_call_kwargs(name, num_inference_steps=steps), **overrides}
    output = pipe(**kwargs, generator=torch.Generator().manual_seed(seed))
    frames = output.frames if hasattr(output, "frames") else output.images
    return frames if isinstance(frames, torch.Tensor) else torch.as_tensor(frames)
