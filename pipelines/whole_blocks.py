"""Frame counts a block-causal diffusion-forcing pipeline can make: rounded up, then cropped back.

diffusers' SkyReels-V2 diffusion forcing cuts every window into causal blocks of
``causal_block_size`` latent frames and fails when a window is not a whole number of blocks: with
blocks of 2, 41 frames (11 latent frames) cannot be made, 45 (12) can. The Wan VAE decodes causally
in time, so the first 41 frames decoded from 12 latent frames are exactly those decoded from 11.
A bundled block-causal model therefore generates the next whole-block length and crops the video
(or the latents) back to the length asked for.
"""

from __future__ import annotations

from typing import Any

TEMPORAL_FACTOR = 4  # Wan VAE: latent frame k holds pixel frames 4k-3 .. 4k (the first holds one)


def latent_frames(num_frames: int) -> int:
    return (num_frames - 1) // TEMPORAL_FACTOR + 1


def whole_block_frames(num_frames: int, block_size: int) -> int:
    """The smallest frame count >= ``num_frames`` whose latent frames are a whole number of blocks."""
    latents = -(-latent_frames(num_frames) // block_size) * block_size
    return (latents - 1) * TEMPORAL_FACTOR + 1


def crop_output(output: Any, num_frames: int, latent: bool) -> Any:
    """``output.frames`` (or the ``(frames,)`` tuple) cropped to ``num_frames`` (latents: to their latent frames)."""
    frames = output.frames if hasattr(output, "frames") else output[0]
    if latent:
        cropped = frames[:, :, :latent_frames(num_frames)]
    elif isinstance(frames, list):  # output_type="pil": one list of images per video
        cropped = [video[:num_frames] for video in frames]
    else:
        cropped = frames[:, :num_frames]
    if hasattr(output, "frames"):
        output.frames = cropped
        return output
    return (cropped, *output[1:])
