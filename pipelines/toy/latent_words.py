"""What does each caption word change in the VAE latents, and what survives averaging over positions?

At high noise a flow-matching denoiser can only predict what the caption says about the latents
*on average over everything the caption leaves open*, chiefly the object's position (anywhere on
the torus). For each clip the word is swapped (``caption_sensitivity.swapped``) with every nuisance
kept, both clips are encoded, and two sizes of the change are compared on the latent frames after
the first (normalised like the denoiser's inputs):

* ``local_rms``: root mean square of the change itself, per latent value;
* ``spatial_mean_rms``: root mean square over channels of the change of the per-channel mean over
  frames and pixels, i.e. what is left once the position is averaged away.

A word whose ``spatial_mean_rms`` is near zero tells a denoiser nothing near pure noise: it can only
act once the noisy input shows where the object is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .caption_sensitivity import SWAPS, swapped
from .configs import NUM_FRAMES, SIZE
from .denoiser_probe import unseen_training_clips
from .render import render_clip
from .vae_utils import encode_normalised


@torch.no_grad()
def word_signal_in_latents(vae: Any, clips: int, seed: int = 0,
                           background: str | None = None) -> dict[str, dict[str, float]]:
    """Per swapped word: ``local_rms`` and ``spatial_mean_rms`` of the latent change (frames 1+), mean over
    ``clips`` unseen clips of training captions (the clips of the denoiser and words checks; on
    ``background`` only where given)."""
    samples = unseen_training_clips(clips, seed, background)
    true = encode_normalised(vae, np.stack([clip.frames for clip in samples]))[:, :, 1:]
    results = {}
    for word in SWAPS:
        other = encode_normalised(vae, np.stack([render_clip(swapped(clip.spec, word), clip.params, NUM_FRAMES, SIZE)
                                                 for clip in samples]))
        change = true - other[:, :, 1:]
        results[word] = {"local_rms": float(change.pow(2).mean(dim=(1, 2, 3, 4)).sqrt().mean()),
                         "spatial_mean_rms": float(change.mean(dim=(2, 3, 4)).pow(2).mean(dim=1).sqrt().mean()),
                         "clips": clips}
    return results
