"""Where does a toy text-to-video model lose its prompt? Seven checks that separate the suspects.

* ``decoder``: the VAE ceiling. Encode held-out ground-truth clips, add Gaussian noise to the
  latents (in units of the per-channel latent std), decode, and score PSNR and the detector. If
  these stay high, the decoder is not what turns generated latents into clutter. The PSNR is also
  split by region (``region_errors``: object interior, edge band, background) and by frame index,
  and the worst clips are listed with the encoder's object signal per latent frame (``clip_errors``).
* ``guidance``: adherence over a sweep of CFG scales on held-out prompts.
* ``train``: adherence on *training* captions. Low here too means under-fitting or a model limit,
  not a failure to generalise to held-out triplets.
* ``denoiser``: the denoiser on ground truth (``denoiser_probe``): velocity error per noise level,
  and whether noised clips come back when the flow ODE is integrated from σ₀ to 0.
* ``words``: does the denoiser use each caption word (``caption_sensitivity``)? Velocity error with
  the true caption against the same caption with its motion, colour or shape swapped, at a few σ,
  with all frames noised and with the first latent frame given clean; then videos generated from
  each clip's first latent frame with the true and with the opposite motion word. The all-frames
  errors are also given per unit of the clips' own structure against its signal-to-noise ratio
  (``words_per_structure``), so backgrounds with fainter latents can be compared at equal SNR.
* ``latents``: what each word changes in the VAE latents, locally and once the object's position is
  averaged away (``latent_words``): the part a denoiser can use near pure noise.
* ``text``: how far apart the frozen text encoder puts captions that differ in one word, per background
  (``caption_encodings``): a word the encoder hardly separates on one background cannot steer the denoiser
  there. It covers every caption of the grammar, whatever ``--background``.

    python -m mmcache.pipelines.toy.diagnose --model toy-t2v --out runs/toy/diagnose

Writes ``diagnosis.json`` (atomically) into ``--out`` and prints each result as it comes.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcache.files import atomic_write_json

from .caption_encodings import word_swap_distances
from .caption_sensitivity import caption_sensitivity, caption_states, first_frame_rollout, scale_free_effects
from .captions import BACKGROUNDS, held_out_specs, on_backgrounds, spread, train_specs
from .configs import NUM_FRAMES, SIZE
from .data import first_clips, to_model_range
from .clip_errors import object_signal, per_frame_psnr, worst_clips
from .denoiser_probe import ground_truth, recovery, score_against, velocity_error
from .latent_contrast import within_clip_variance
from .latent_words import word_signal_in_latents
from .region_errors import region_errors
from .sampling import adherence
from .vae_utils import encode_mean, to_uint8

CHECKS = ("decoder", "guidance", "train", "denoiser", "words", "latents", "text")


@torch.no_grad()
def decoder_under_latent_noise(vae: Any, clips: int, levels: Sequence[float], seed: int = 0,
                               background: str | None = None) -> list[dict[str, float]]:
    """PSNR and detector scores of encode → noise → decode on held-out ground-truth clips (on ``background``
    only where given), per noise level, with the error split by region and frame index and the worst clips listed."""
    samples = first_clips(seed, clips, "held_out", 0, background, NUM_FRAMES, SIZE)
    video = torch.from_numpy(to_model_range(np.stack([clip.frames for clip in samples])))
    latents = encode_mean(vae, video)
    std = torch.tensor(vae.config.latents_std, dtype=latents.dtype).view(1, -1, 1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    signals: dict[int, list[float]] = {}  # per clip, whatever the noise level: encoded once

    def with_signal(row: dict[str, Any]) -> dict[str, Any]:
        index = row["index"]
        if index not in signals:
            signals[index] = [round(v, 4) for v in object_signal(vae, samples[index], latents[index])]
        return {**row, "object_signal": signals[index]}

    results = []
    for level in levels:
        noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype)
        decoded = to_uint8(vae.decode(latents + float(level) * std * noise).sample)
        results.append({"noise_std": float(level), **score_against(samples, decoded),
                        "regions": region_errors(samples, decoded), "per_frame_psnr": per_frame_psnr(samples, decoded),
                        "worst_clips": [with_signal(row) for row in worst_clips(samples, decoded)]})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy-t2v", help="toy-t2v or a WanPipeline folder")
    parser.add_argument("--out", type=Path, default=Path("runs/toy/diagnose"))
    parser.add_argument("--checks", nargs="+", default=list(CHECKS), choices=CHECKS)
    parser.add_argument("--prompts", type=int, default=15, help="captions per adherence measurement")
    parser.add_argument("--clips", type=int, default=12, help="ground-truth clips for the decoder, denoiser, words and latents checks")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.4],
                        help="latent noise levels (× latent std) for the decoder check")
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.5, 5.0, 8.0])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
                        help="noise levels of the denoiser's velocity error")
    parser.add_argument("--word-sigmas", type=float, nargs="+", default=[0.5, 0.8, 0.95],
                        help="noise levels of the words check")
    parser.add_argument("--starts", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.85, 1.0],
                        help="σ₀ from which the denoiser check integrates noised clips back")
    parser.add_argument("--steps", type=int, default=30, help="sampling steps (pipeline and Euler recovery)")
    parser.add_argument("--background", default=None, choices=list(BACKGROUNDS),
                        help="ground-truth clips (decoder, denoiser, words, latents checks) and prompts (guidance, train "
                             "checks) on this background only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if min(args.noise) < 0 or min(args.guidance) < 1 or args.prompts < 1 or args.clips < 1 or args.steps < 1:
        parser.error("--noise must be ≥ 0, --guidance ≥ 1, --prompts, --clips and --steps ≥ 1.")
    if not all(0 < s <= 1 for s in args.sigmas + args.starts + args.word_sigmas):
        parser.error("--sigmas, --word-sigmas and --starts must lie in (0, 1].")
    torch.set_num_threads(args.threads)
    from diffusers import WanPipeline

    from ..loader import pipeline_folder_or_usage_error

    folder = pipeline_folder_or_usage_error(parser, args.model)
    pipe = WanPipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    call = {"num_inference_steps": args.steps, "height": SIZE, "width": SIZE, "num_frames": NUM_FRAMES}
    backgrounds = None if args.background is None else [args.background]
    report: dict[str, Any] = {"model": args.model, "seed": args.seed, "settings": call,
                              "background": args.background}
    if "decoder" in args.checks:
        report["decoder"] = decoder_under_latent_noise(pipe.vae, args.clips, args.noise, args.seed, args.background)
        print("decoder", report["decoder"], flush=True)
    if "guidance" in args.checks:
        held_out = spread(on_backgrounds(held_out_specs(), backgrounds), args.prompts)
        report["guidance"] = {str(g): adherence(pipe, held_out, seed=args.seed, guidance_scale=g, **call)
                              for g in args.guidance}
        print("guidance", report["guidance"], flush=True)
    if "train" in args.checks:
        captions = spread(on_backgrounds(train_specs(), backgrounds), args.prompts)
        report["train_captions"] = adherence(pipe, captions, seed=args.seed, guidance_scale=5.0, **call)
        print("train captions", report["train_captions"], flush=True)
    needs_truth = {"denoiser", "words"} & set(args.checks)
    truth = ground_truth(pipe, args.clips, args.seed, args.background) if needs_truth else None
    if "denoiser" in args.checks:
        report["velocity_error"] = velocity_error(pipe, truth, args.sigmas, args.seed)
        print("velocity error", report["velocity_error"], flush=True)
        report["recovery"] = recovery(pipe, truth, args.starts, args.steps, args.seed)
        print("recovery", report["recovery"], flush=True)
    if "words" in args.checks:
        report["words"] = {mode: caption_sensitivity(pipe, truth, args.word_sigmas, first, args.seed)
                           for mode, first in (("all_frames_noised", False), ("first_frame_given", True))}
        print("words", report["words"], flush=True)
        variance = float(within_clip_variance(truth.latents).mean())
        report["words_per_structure"] = {"within_clip_variance": variance,
                                         "rows": scale_free_effects(report["words"]["all_frames_noised"], variance)}
        print("words per unit of structure", report["words_per_structure"], flush=True)
        report["first_frame_rollout"] = first_frame_rollout(pipe, truth, args.steps, 5.0, args.seed)
        print("first-frame rollout", report["first_frame_rollout"], flush=True)
    if "latents" in args.checks:
        report["latent_words"] = word_signal_in_latents(pipe.vae, args.clips, args.seed, args.background)
        print("latent words", report["latent_words"], flush=True)
    if "text" in args.checks:
        report["text_encodings"] = word_swap_distances(lambda texts: caption_states(pipe, texts))
        print("text encodings", report["text_encodings"], flush=True)
    print(f"report: {atomic_write_json(args.out / 'diagnosis.json', report)}")


if __name__ == "__main__":
    main()
