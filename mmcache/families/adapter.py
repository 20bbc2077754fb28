"""The declarative description of a model family: where its denoiser, blocks and CFG branches are."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import torch


@dataclasses.dataclass(frozen=True)
class FamilyAdapter:
    """Everything the hook engine needs to know about one family of diffusers pipelines.

    Attributes:
        name: family name shown to users ("wan", "flux", ...).
        pipeline_classes: diffusers pipeline class names of the family.
        denoiser_classes: denoiser (transformer) class names of the family.
        denoiser_attributes: pipeline attributes holding denoisers, in call order (Wan 2.2 has two).
        block_attributes: denoiser attributes holding the ``ModuleList``s of transformer blocks.
        batched_cfg: the pipeline evaluates cond and uncond in one batched call.
        batched_branch_order: with ``batched_cfg``, the order of the branches along the batch.
        channel_dim: dimension of ``hidden_states`` holding latent channels (1 for [B, C, F, H, W],
            -1 for packed token latents [B, S, C]).
        conditioned_channels: ``hidden_states`` carries conditioning channels after the noisy latent
            (image-to-video concatenation); the noisy part is the first ``out_channels`` channels.
        self_attention: attribute names, inside a block, of the self-attention (or joint
            text-video attention) modules that attention methods replace.
        joint_text: where text tokens sit in joint attention ("prefix" or "suffix"; ``None`` when
            text enters through cross-attention).
        hidden_states_argument / timestep_argument: names of those forward arguments.
        block_token_arguments: per-token arguments of a block's forward and the dimension of
            their tokens (e.g. ``{"temb": 2, "rotary_emb": 1}``), which the block-level hook gathers
            when the stack runs over a subset of tokens.
        block_mask_argument: the block argument holding an attention mask over all tokens.
        modulation_argument: the block argument holding the (per-token) timestep modulation.
        rope_attribute: the denoiser attribute computing the rotary table from the input's shape.
        text_projections: dotted names (``fnmatch`` patterns) of the denoiser's modules that project only
            the prompt embedding (its text embedder, the cross-attentions' key/value projections); their
            input is the same in every forward of a generation, so a method may answer them from memory.
        side_forward_flag: (keyword argument, key) marking forwards that only fill the pipeline's
            own KV cache (AnyFlow FAR's cache steps): they run untouched and are not counted as steps.
        own_kv_cache: the pipeline keeps its own KV cache of earlier chunks (chunk methods then
            leave attention to it).
        window_planner: for autoregressive video pipelines, the method (attribute path from the
            pipeline) that plans each denoising loop: ``generate_timestep_matrix`` (diffusion forcing)
            or ``scheduler.set_timesteps`` (one loop per chunk); mmcache reads every window's plan from
            it (``mmcache.runtime.windows``).
        presets: per method name, the settings that suit this family
            (``EasyCacheConfig.preset(family)`` reads ``presets["easycache"]``).
        notes: anything a user should know when applying a method to this family.
    """

    name: str
    pipeline_classes: tuple[str, ...]
    denoiser_classes: tuple[str, ...]
    denoiser_attributes: tuple[str, ...] = ("transformer",)
    block_attributes: tuple[str, ...] = ("blocks",)
    batched_cfg: bool = False
    batched_branch_order: tuple[str, ...] = ("uncond", "cond")
    channel_dim: int = 1
    conditioned_channels: bool = False
    self_attention: tuple[str, ...] = ()
    joint_text: str | None = None
    hidden_states_argument: str = "hidden_states"
    timestep_argument: str = "timestep"
    block_token_arguments: Mapping[str, int] = dataclasses.field(default_factory=dict)
    block_mask_argument: str | None = None
    modulation_argument: str | None = None
    rope_attribute: str | None = None
    text_projections: tuple[str, ...] = ()
    window_planner: str | None = None
    side_forward_flag: tuple[str, str] | None = None
    own_kv_cache: bool = False
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    notes: str = ""

    def blocks(self, denoiser: torch.nn.Module) -> list[torch.nn.Module]:
        """All transformer blocks of ``denoiser``, in order."""
        found: list[torch.nn.Module] = []
        for attribute in self.block_attributes:
            stack = getattr(denoiser, attribute, None)
            if isinstance(stack, torch.nn.ModuleList):
                found.extend(stack)
        return found

    def noisy_latent(self, denoiser: torch.nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
        """The part of ``hidden_states`` the denoiser output refers to (drops I2V condition channels)."""
        if not self.conditioned_channels:
            return hidden_states
        out_channels = getattr(denoiser.config, "out_channels", None) or hidden_states.shape[self.channel_dim]
        return hidden_states.narrow(self.channel_dim, 0, out_channels)
