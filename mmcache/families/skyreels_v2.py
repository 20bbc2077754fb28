"""SkyReels-V2: text/image-to-video pipelines, and the diffusion-forcing pipeline for long videos.

The diffusion-forcing pipeline denoises a long video window after window, each causal block of
latent frames at its own noise level; it plans every window with ``generate_timestep_matrix``,
which mmcache reads (``window_planner``). Step methods take one decision per iteration for the
whole window; FlowCache decides per block of frames.
"""

from .adapter import FamilyAdapter
from .registry import register_family, register_unsupported_pipeline

# the prompt's projections: the text embedder and every cross-attention's keys and values (fused or not)
TEXT_PROJECTIONS = ("condition_embedder.text_embedder", "blocks.*.attn2.to_k", "blocks.*.attn2.to_v",
                    "blocks.*.attn2.to_kv")

SKYREELS_V2 = register_family(FamilyAdapter(
    name="skyreels-v2",
    pipeline_classes=("SkyReelsV2Pipeline", "SkyReelsV2ImageToVideoPipeline"),
    denoiser_classes=("SkyReelsV2Transformer3DModel",),
    block_attributes=("blocks",),
    conditioned_channels=True,
    self_attention=("attn1",),
    presets={"easycache": {"threshold": 0.05, "warmup_steps": 10}},  # a Wan-style DiT: Wan's setting
))

SKYREELS_V2_DF = register_family(FamilyAdapter(
    name="skyreels-v2-df",
    pipeline_classes=("SkyReelsV2DiffusionForcingPipeline",),
    denoiser_classes=(),
    block_attributes=("blocks",),
    self_attention=("attn1",),
    window_planner="generate_timestep_matrix",
    block_token_arguments={"temb": 2, "rotary_emb": 1},
    block_mask_argument="attention_mask",
    modulation_argument="temb",
    rope_attribute="rope",
    text_projections=TEXT_PROJECTIONS,
    presets={
        "easycache": {"threshold": 0.05, "warmup_steps": 10},
        # the paper's "slow" setting: TeaCache's Wan2.1-1.3B rescaling of the modulation's relative L1
        "flowcache": {"threshold": 0.1, "warmup_steps": 5, "final_steps": 1, "metric": "modulation",
                      "rescale": (-5.21862437e4, 9.23041404e3, -5.28275948e2, 1.36987616e1, -4.99875664e-2)},
    },
    notes="diffusion forcing: steps count per window; FlowCache decides per causal block of latent frames.",
))

for _name in ("SkyReelsV2DiffusionForcingImageToVideoPipeline", "SkyReelsV2DiffusionForcingVideoToVideoPipeline"):
    register_unsupported_pipeline(
        _name, "its conditioning frames are not handled yet; SkyReelsV2DiffusionForcingPipeline (text-to-video) is"
    )
