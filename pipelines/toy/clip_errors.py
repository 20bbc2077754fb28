"""Which frames and which clips lose a reconstruction's PSNR, and whether the object survives encoding.

The mean PSNR over held-out clips hides two things a decoder fine-tune cannot see from its loss
curve: the error per frame index (the first frame has a latent frame of its own in the causal Wan
VAE) and the few clips that drag the mean down. For those, ``object_signal`` asks whether the
*encoder* kept the object at all: the RMS difference, per latent frame, between the clip's latents
and those of the same clip with the object removed (its flat background alone). A signal that fades
over the latent frames means the object is lost before the decoder sees it, so no decoder-only
fine-tune can bring those clips back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .data import Clip, to_model_range
from .region_errors import background_rgb
from .vae_utils import encode_mean, psnr, psnr_from_mse


def per_frame_psnr(clips: Sequence[Clip], decoded: np.ndarray) -> list[float]:
    """PSNR (dB) per frame index, of the squared error averaged over all clips at that index."""
    squared = np.stack([((frames.astype(np.float64) - clip.frames.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
                        for clip, frames in zip(clips, decoded)])
    return [psnr_from_mse(mse) for mse in squared.mean(axis=0)]


@torch.no_grad()
def object_signal(vae: Any, clip: Clip, latents: torch.Tensor | None = None) -> list[float]:
    """RMS latent difference between ``clip`` and its background alone, per latent frame.

    ``latents`` (``[C, F, h, w]``, the clip's posterior mean) saves encoding the clip again when the
    caller already has them; only the background is encoded then."""
    empty = np.broadcast_to(background_rgb(clip), clip.frames.shape)
    if latents is None:
        both = encode_mean(vae, torch.from_numpy(to_model_range(np.stack([clip.frames, empty]))))
        latents, background = both[0], both[1]
    else:
        background = encode_mean(vae, torch.from_numpy(to_model_range(empty[None])))[0]
    return [float(value) for value in (latents - background).pow(2).mean(dim=(0, 2, 3)).sqrt()]


def worst_clips(clips: Sequence[Clip], decoded: np.ndarray, count: int = 5) -> list[dict[str, Any]]:
    """The ``count`` clips of lowest PSNR, lowest first: index, caption and PSNR."""
    scores = [psnr(clip.frames, frames) for clip, frames in zip(clips, decoded)]
    order = np.argsort(scores, kind="stable")[:count]
    return [{"index": int(i), "caption": clips[i].caption, "psnr_db": float(scores[i])} for i in order]
