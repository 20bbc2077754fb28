"""AnyFlow FAR: a causal Wan that denoises a video chunk by chunk against its own KV cache of earlier chunks.

Each chunk runs its own scheduler loop (``scheduler.set_timesteps``, read as one window per chunk);
between chunks the pipeline re-encodes the finished chunks at timestep 0 into its KV cache (forwards
flagged ``kv_cache_flag["is_cache_step"]``, which mmcache leaves untouched and does not count as
steps). Cond and uncond are batched in one call.
"""

from .adapter import FamilyAdapter
from .registry import register_family
from .skyreels_v2 import TEXT_PROJECTIONS

ANYFLOW_FAR = register_family(FamilyAdapter(
    name="anyflow-far",
    pipeline_classes=("AnyFlowFARPipeline",),
    denoiser_classes=("AnyFlowFARTransformer3DModel",),
    block_attributes=("blocks",),
    channel_dim=2,
    self_attention=("attn1",),
    block_token_arguments={"temb": 1, "rotary_emb": 2},
    block_mask_argument="attention_mask",
    modulation_argument="temb",
    window_planner="scheduler.set_timesteps",
    side_forward_flag=("kv_cache_flag", "is_cache_step"),
    own_kv_cache=True,
    text_projections=TEXT_PROJECTIONS,
    presets={"flowcache": {"threshold": 0.1, "warmup_steps": 1, "final_steps": 1, "metric": "input"}},
    notes="latents are [B, F, C, H, W]; one window per chunk; the pipeline keeps its own KV cache.",
))
