"""FlowCache (arXiv 2602.10825): chunkwise reuse and a causal KV cache for diffusion-forcing video.

A diffusion-forcing pipeline denoises a window of latent frames in causal blocks (chunks), each
at its own noise level. Per iteration the plain pipeline (diffusers' SkyReels-V2 DF) runs the whole
window through the denoiser. FlowCache saves work three ways, each a knob here:

1. **Causal restructuring** (block-causal models): a finished chunk, at timestep 0, has keys and
   values that no longer change; they are computed once, kept per layer in a KV cache, and the
   chunk is never forwarded again; chunks that have not started are not forwarded (no earlier
   chunk sees them). Only the chunks still being denoised run, against the cache. Exact up to
   float rounding (with ``addnoise_condition`` > 0 the plain pipeline re-noises the prefix every
   iteration, so caching it is an approximation).
2. **Chunkwise reuse**: per chunk and CFG branch an accumulator of the chunk's relative L1 change
   (of its timestep modulation, optionally through a rescaling polynomial, or of its embedded
   input). A chunk computes during its first ``warmup_steps`` and last ``final_steps`` steps, or when
   the accumulator reaches ``threshold`` (which resets it); otherwise it adds its stored block-stack
   residual and does not run through the blocks (``hooks.blocks``); later chunks read its keys and
   values as last computed. With ``fresh_kv`` (block-causal models) a computing chunk makes every
   earlier chunk being denoised compute too, so no computed chunk reads keys and values of an older step.
3. **KV compression** (``kv_budget`` tokens per head and layer): once the finished chunks hold more,
   each head keeps the tokens with the highest ``λ·a − (1 − λ)·r`` (``mmcache.kv.scoring``), scored
   with the queries of the chunks being denoised; memory stays bounded however long the video.

With ``window_threshold`` an EasyCache decision for the whole iteration comes first: when it reuses,
the iteration runs nothing (every frame takes the whole call's last output offset, as EasyCache does);
when it computes, the iteration runs restructured (and with chunkwise reuse if ``threshold`` > 0).
Restructuring stays exact, so this composes its saving with whole-window reuse.

With ``text_kv`` (on by default where the family names its text projections) the prompt's
projections, the same in every forward, run once per generation and CFG branch
(``hooks.constant_inputs``); exact, and a saving of its own, reported apart from the three above.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, ClassVar, Mapping

import torch

from ..context import DenoiserCall
from ..errors import ConfigError
from ..families.registry import family_preset
from ..hooks.attention import redirect, restore, self_attention_modules
from ..hooks.blocks import BlockStack, TokenPlan
from ..hooks.constant_inputs import ConstantInputMemo, matching_modules
from ..kv.router import ChunkAttentionPlan, ChunkAttentionRouter, Compression
from ..kv.selection import CacheSelectionRouter
from ..kv.store import KVStore
from ..runtime.tracker import RunTracker
from ..runtime.windows import Window
from ..stats import ChunkRecord
from .base import Decision, MethodConfig, StepPolicy, is_number, require

METRICS = ("modulation", "input", "rate")
REUSE_TARGETS = ("residual", "output")


@dataclasses.dataclass
class FlowCacheConfig(MethodConfig):
    """FlowCache for diffusion-forcing pipelines (see the module docstring).

    Args:
        threshold: reuse a chunk while its accumulated change stays below this; ``0`` never reuses.
        warmup_steps: a chunk's first steps are always computed (the paper: 5).
        final_steps: a chunk's last steps are always computed (the paper: 1).
        kv_budget: tokens per head and layer kept of the finished chunks (``None``: keep all).
        importance_weight: λ of the compression score (the paper: 0.07).
        pool_kernel: max-pooling width of the attention importance (odd; the paper: 7).
        metric: ``"modulation"`` (relative L1 of the chunk's timestep modulation, SkyReels variant),
            ``"input"`` (of its embedded noisy input, MAGI-1 variant), or ``"rate"`` (EasyCache's
            estimate of the chunk's relative output change from its input change and its last
            transformation rate, applied per chunk).
        rescale: coefficients of a polynomial (highest power first) applied to the relative L1
            before accumulating (TeaCache's rescaling; ``None``: the raw value).
        restructure: forward only the chunks being denoised, against a KV cache of finished ones.
            ``None``: on for block-causal models; it cannot apply to a bidirectional one.
        reuse: what a reused chunk takes from its last computed step: ``"residual"`` (the paper's:
            its block-stack residual, then the output head) or ``"output"`` (its output offset
            ``o − x``, as EasyCache reuses a whole call; the head's output for it is replaced).
        window_threshold: EasyCache's τ for one decision per iteration before the chunks are planned
            (``warmup_steps`` / ``final_steps`` count the window's iterations there); ``None``: off.
        fresh_kv: a chunk is reused only while every later chunk being denoised is reused too, so no
            computed chunk reads a reused chunk's stale keys and values (block-causal models; ``False``:
            the paper's rule, each chunk decides alone and later chunks read its K/V as last computed).
        text_kv: project the prompt once per generation and CFG branch (the text embedder and every
            cross-attention's keys and values) and answer later forwards from memory, instead of
            projecting the same text in every forward; exact. ``None``: on where the family names its
            text projections (``text_projections``).
    """

    method: ClassVar[str] = "flowcache"
    role: ClassVar[str] = "step"

    threshold: float = 0.1
    warmup_steps: int = 5
    final_steps: int = 1
    kv_budget: int | None = None
    importance_weight: float = 0.07
    pool_kernel: int = 7
    metric: str = "modulation"
    rescale: tuple[float, ...] | None = None
    restructure: bool | None = None
    reuse: str = "residual"
    window_threshold: float | None = None
    fresh_kv: bool = False
    text_kv: bool | None = None

    def coerce(self, name: str, value: Any) -> Any:
        return tuple(value) if name == "rescale" and isinstance(value, list) else value

    def validate(self) -> None:
        def whole(value: Any, low: int) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= low

        require(is_number(self.threshold) and math.isfinite(self.threshold) and self.threshold >= 0,
                f"FlowCacheConfig.threshold must be a finite number >= 0 (0 never reuses), got {self.threshold!r}.")
        require(whole(self.warmup_steps, 0), f"FlowCacheConfig.warmup_steps must be an integer >= 0, got "
                                             f"{self.warmup_steps!r}.")
        require(whole(self.final_steps, 0), f"FlowCacheConfig.final_steps must be an integer >= 0, got "
                                            f"{self.final_steps!r}.")
        require(self.kv_budget is None or whole(self.kv_budget, 1),
                f"FlowCacheConfig.kv_budget must be None or a number of tokens >= 1, got {self.kv_budget!r}.")
        require(is_number(self.importance_weight) and 0 <= self.importance_weight <= 1,
                f"FlowCacheConfig.importance_weight must be in [0, 1], got {self.importance_weight!r}.")
        require(whole(self.pool_kernel, 1) and self.pool_kernel % 2 == 1,
                f"FlowCacheConfig.pool_kernel must be an odd integer >= 1, got {self.pool_kernel!r}.")
        require(self.metric in METRICS, f"FlowCacheConfig.metric must be one of {METRICS}, got {self.metric!r}.")
        require(self.rescale is None or (isinstance(self.rescale, tuple) and len(self.rescale) > 0 and all(
            is_number(c) and math.isfinite(c) for c in self.rescale)),
            f"FlowCacheConfig.rescale must be None or a list of finite polynomial coefficients, got {self.rescale!r}.")
        require(self.restructure is None or isinstance(self.restructure, bool),
                f"FlowCacheConfig.restructure must be None, true or false, got {self.restructure!r}.")
        require(self.reuse in REUSE_TARGETS, f"FlowCacheConfig.reuse must be one of {REUSE_TARGETS}, got {self.reuse!r}.")
        require(self.window_threshold is None or (is_number(self.window_threshold) and math.isfinite(
            self.window_threshold) and self.window_threshold >= 0),
            f"FlowCacheConfig.window_threshold must be None or a finite number >= 0, got {self.window_threshold!r}.")
        require(isinstance(self.fresh_kv, bool), f"FlowCacheConfig.fresh_kv must be true or false, got {self.fresh_kv!r}.")
        require(self.text_kv is None or isinstance(self.text_kv, bool),
                f"FlowCacheConfig.text_kv must be None, true or false, got {self.text_kv!r}.")

    @classmethod
    def preset(cls, family: str, **overrides: Any) -> "FlowCacheConfig":
        """The defaults for a model family (``FlowCacheConfig.preset("skyreels-v2-df")``), with optional overrides."""
        return cls(**{**family_preset(family, cls.method), **overrides})

    def policy(self, tracker: RunTracker) -> "FlowCachePolicy":
        return FlowCachePolicy(self, tracker)


def relative_l1(now: torch.Tensor, before: torch.Tensor) -> float:
    """mean|now − before| / mean|before| (float32)."""
    scale = float(before.float().abs().mean())
    return float((now.float() - before.float()).abs().mean()) / scale if scale > 0 else math.inf


@dataclasses.dataclass
class _Forward:
    """The chunk layout of the forward in progress."""

    branch: str
    iteration: int
    first_chunk: int              # first forwarded chunk (window-local)
    forwarded: list[int]
    active: list[int]
    finished: list[int]
    tokens_per_chunk: int = 0
    computed: list[int] = dataclasses.field(default_factory=list)


class FlowCachePolicy(StepPolicy):
    """Per-chunk decisions, the restructured forward and the KV cache; see the module docstring."""

    method = "flowcache"

    def __init__(self, config: FlowCacheConfig, tracker: RunTracker) -> None:
        self.config = config
        self.store = KVStore()
        self.attention_plan: ChunkAttentionPlan | None = None
        self.modules: list[tuple[int, torch.nn.Module]] = []
        self.selectors: list[CacheSelectionRouter] = []
        self.stack: BlockStack | None = None
        self.rope_hook: Any = None
        self.window_policy: StepPolicy | None = None
        self.text_memo: ConstantInputMemo | None = None
        # sees each chunk's decision signal (before a decision) and computed output: ``observer(kind, branch, chunk,
        # step, tensor)`` with kind "signal" or "output" (analysis tools, e.g. eval/flowcache_metrics.py)
        self.observer: Callable[[str, str, int, int, torch.Tensor], None] | None = None
        if config.window_threshold is not None:
            from .easycache import EasyCacheConfig

            self.window_policy = EasyCacheConfig(threshold=config.window_threshold, warmup_steps=config.warmup_steps,
                                                 final_steps=config.final_steps).policy(tracker)
        super().__init__(tracker)

    # -- attaching ------------------------------------------------------------------------------
    def attach(self, target: Any) -> None:
        adapter = target.adapter
        if adapter.window_planner is None or target.pipeline is None:
            raise ConfigError(
                f"FlowCache works on diffusion-forcing pipelines (e.g. SkyReelsV2DiffusionForcingPipeline), enabled "
                f"on the pipeline; got the {adapter.name} family{'' if target.pipeline is not None else ' (a bare denoiser)'}."
                " For whole-call reuse use EasyCacheConfig."
            )
        denoiser = target.denoisers[0]
        self.denoiser = denoiser
        self.adapter = adapter
        self.modules = self_attention_modules(adapter, denoiser)
        selection = self._compression()
        for layer, (_, module) in enumerate(self.modules):
            if not adapter.own_kv_cache:
                redirect(module, ChunkAttentionRouter(self, self.store, layer))
            elif selection is not None:
                self.selectors.append(CacheSelectionRouter(selection))
                redirect(module, self.selectors[-1])
        if adapter.own_kv_cache and selection is None:
            self.modules = []
        blocks = adapter.blocks(denoiser)
        self.stack = BlockStack(blocks, self, adapter.block_token_arguments, adapter.block_mask_argument)
        rope = getattr(denoiser, adapter.rope_attribute) if adapter.rope_attribute else None
        self.rope_hook = rope.register_forward_hook(self._offset_rope) if rope is not None else None
        self.text_memo = self._text_memo(adapter, denoiser)

    def _text_memo(self, adapter: Any, denoiser: torch.nn.Module) -> ConstantInputMemo | None:
        if self.config.text_kv is False:
            return None
        modules = matching_modules(denoiser, adapter.text_projections)
        if not modules:
            if self.config.text_kv:
                raise ConfigError(f"FlowCache's text_kv needs the {adapter.name} family to name its text projections "
                                  "(FamilyAdapter.text_projections); it names none. Leave text_kv=None or False.")
            return None
        return ConstantInputMemo(modules).attach()

    def detach(self) -> None:
        for _, module in self.modules:
            restore(module)
        if self.stack is not None:
            self.stack.detach()
        if self.rope_hook is not None:
            self.rope_hook.remove()
        if self.text_memo is not None:
            self.text_memo.detach()
        self.modules, self.selectors, self.stack, self.rope_hook, self.text_memo = [], [], None, None, None

    # -- runs and windows -----------------------------------------------------------------------
    def start_run(self) -> None:
        if self.window_policy is not None:
            self.window_policy.start_run()
        self.records: list[ChunkRecord] = []
        self.store.peak_bytes = 0
        for selector in self.selectors:
            selector.tokens_cached = selector.tokens_read = 0
        if self.text_memo is not None:
            self.text_memo.clear()
        self.start_window()

    def start_window(self) -> None:
        if self.window_policy is not None:
            self.window_policy.start_window()
        self.store.clear()
        self._accumulated: dict[tuple[str, int], float] = {}
        self._previous: dict[tuple[str, int], torch.Tensor] = {}
        self._residuals: dict[tuple[str, int], torch.Tensor] = {}
        self._offsets: dict[tuple[str, int], torch.Tensor] = {}  # o − x per chunk (reuse="output")
        self._rates: dict[tuple[str, int], tuple[float | None, torch.Tensor, torch.Tensor]] = {}  # k, x, o (metric="rate")
        self._latent: torch.Tensor | None = None
        self._encoded: dict[str, set[int]] = {}  # finished chunks whose timestep-0 K/V are in the store
        self._forward: _Forward | None = None
        self._rope_window: tuple[int, int] | None = None
        self._computed_frames = 0

    def _window(self) -> Window:
        window = self.tracker.window
        if window is None:
            raise ConfigError("FlowCache found no diffusion-forcing window plan for this forward; call the pipeline "
                              "it was enabled on (its generate_timestep_matrix plans each window).")
        return window

    def _compression(self) -> Compression | None:
        if self.config.kv_budget is None:
            return None
        return Compression(self.config.kv_budget, float(self.config.importance_weight), self.config.pool_kernel)

    def _causal(self, window: Window) -> bool:
        return int(getattr(self.denoiser.config, "num_frame_per_block", 1)) > 1 and window.block_size > 1

    def _restructured(self, window: Window) -> bool:
        if self.adapter.own_kv_cache:
            return False  # the pipeline forwards one chunk at a time against its own cache already
        causal = self._causal(window)
        if self.config.restructure and not causal:
            raise ConfigError(
                "FlowCache's causal restructuring needs a block-causal model (num_frame_per_block > 1, e.g. toy-ar); "
                "this one attends bidirectionally within the window, so caching finished chunks would change its "
                "output. Use restructure=None or False: chunkwise reuse applies to it."
            )
        if self.config.kv_budget is not None and not causal:
            raise ConfigError("FlowCache's KV compression compresses the cache of a block-causal model; this model is "
                              "bidirectional (num_frame_per_block == 1). Leave kv_budget=None.")
        if self.config.fresh_kv and not causal:
            raise ConfigError("FlowCache's fresh_kv orders reuse along a block-causal model's chunks; on this "
                              "bidirectional model every chunk reads every other, so it would never reuse. Leave "
                              "fresh_kv=False.")
        return causal and self.config.restructure is not False

    # -- the whole call -------------------------------------------------------------------------
    def decide(self, call: DenoiserCall) -> Decision:
        window = self._window()
        iteration = call.info.step
        branch = call.info.state_key
        active = window.active_blocks(iteration)
        finished = window.finished_blocks(iteration)
        if self.window_policy is not None:
            verdict = self.window_policy.decide(call)
            if not verdict.compute:
                self._record_skipped(window, iteration, branch, active, finished)
                return verdict
        if self._restructured(window):
            encoded = self._encoded.setdefault(branch, set())
            pending = [chunk for chunk in finished if chunk not in encoded]
            encoded.update(pending)
            first = min(pending + active) if pending or active else 0
            forwarded = list(range(first, max(active) + 1)) if active else pending
        else:
            forwarded = list(range(window.num_blocks))
        first = forwarded[0] if forwarded else 0
        self._forward = _Forward(branch, iteration, first, forwarded, active, finished)
        self._latent = call.latent
        self._computed_frames = 0
        return Decision(True, "per-chunk decisions (FlowCache)")

    def adjust_inputs(self, call: DenoiserCall, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        window, forward = self._window(), self._forward
        if not forward.forwarded or len(forward.forwarded) == window.num_blocks:
            self._rope_window = None
            return args, kwargs
        first, stop = forward.forwarded[0] * window.block_size, (forward.forwarded[-1] + 1) * window.block_size
        self._rope_window = (first, window.num_frames)
        names = ("hidden_states", "timestep")
        args = list(args)
        for position, name in enumerate(names):
            if name in kwargs:
                kwargs = {**kwargs, name: kwargs[name].narrow(2 if name == "hidden_states" else 1, first, stop - first)}
            elif len(args) > position:
                args[position] = args[position].narrow(2 if position == 0 else 1, first, stop - first)
        return tuple(args), kwargs

    def adjust_output(self, call: DenoiserCall, output: torch.Tensor) -> torch.Tensor:
        window, forward = self._window(), self._forward
        self.store.note_peak()
        self._forward = None
        if self._rope_window is not None:
            first = self._rope_window[0]
            full = output.new_zeros(*output.shape[:2], window.num_frames, *output.shape[3:])
            full[:, :, first:first + output.shape[2]] = output
            output, self._rope_window = full, None
        if self.observer is not None and forward is not None:
            for chunk in (chunk for chunk in forward.computed if chunk in forward.active):
                first, stop = window.block_frames(chunk)
                self.observer("output", forward.branch, chunk, window.block_step(forward.iteration, chunk),
                              output.narrow(2, first, stop - first))
        if self.config.reuse == "output" and self.config.threshold > 0 and forward is not None:
            output = self._reuse_offsets(call.latent, output, window, forward)
        if self.config.metric == "rate" and self.config.threshold > 0 and forward is not None:
            self._learn_rates(call.latent, output, window, forward)
        if self.window_policy is not None:
            self.window_policy.after_compute(call, output)
        return output

    def _learn_rates(self, latent: torch.Tensor, output: torch.Tensor, window: Window, forward: _Forward) -> None:
        """EasyCache's transformation rate k = mean|o − o_last| / mean|x − x_last| of every computed chunk."""
        for chunk in forward.active:
            if chunk not in forward.computed:
                continue
            first, stop = window.block_frames(chunk)
            x, o = (t.narrow(2, first, stop - first).detach().float() for t in (latent, output))
            key = (forward.branch, chunk)
            rate = None
            if key in self._rates:
                _, x_last, o_last = self._rates[key]
                moved = float((x - x_last).abs().mean())
                rate = float((o - o_last).abs().mean()) / moved if moved > 0 else None
            self._rates[key] = (rate, x, o)

    def _reuse_offsets(self, latent: torch.Tensor, output: torch.Tensor, window: Window, forward: _Forward) -> torch.Tensor:
        """Store ``o − x`` of the computed chunks; give the reused ones ``x + (o − x)`` of their last computation."""
        frame_dim = 2
        output = output.clone()
        for chunk in forward.active:
            first, stop = window.block_frames(chunk)
            key = (forward.branch, chunk)
            x = latent.narrow(frame_dim, first, stop - first).float()
            if chunk in forward.computed:
                self._offsets[key] = output.narrow(frame_dim, first, stop - first).float() - x
            elif key in self._offsets:
                output.narrow(frame_dim, first, stop - first).copy_(x + self._offsets[key])
        return output

    def reused_output(self, call: DenoiserCall) -> torch.Tensor:
        if self.window_policy is None:
            raise AssertionError("Without window_threshold FlowCache computes every denoiser call and reuses per chunk")
        return self.window_policy.reused_output(call)

    def after_compute(self, call: DenoiserCall, output: torch.Tensor) -> None:
        return None

    def computed_positions(self, call: DenoiserCall, plain: int) -> int:
        return plain * self._computed_frames // self._window().num_frames

    def _offset_rope(self, module: torch.nn.Module, args: tuple, output: Any) -> Any:
        """The rotary table of the forwarded frames at their positions in the window."""
        if self._rope_window is None:
            return output
        first, frames = self._rope_window
        hidden_states = args[0]
        full = module.forward(hidden_states[:, :, :1].expand(*hidden_states.shape[:2], frames, *hidden_states.shape[3:]))
        per_frame = full[0].shape[1] // frames
        stop = first + hidden_states.shape[2]
        return tuple(table[:, first * per_frame:stop * per_frame] for table in full)

    # -- the block stack (hooks.blocks client) --------------------------------------------------
    def plan_tokens(self, hidden_states: torch.Tensor, arguments: Mapping[str, Any]) -> TokenPlan | None:
        forward = self._forward
        if forward is None:  # a forward mmcache does not decide (e.g. one filling the pipeline's own cache)
            return None
        window = self._window()
        per_chunk = hidden_states.shape[1] // max(len(forward.forwarded), 1)
        forward.tokens_per_chunk = per_chunk
        name = self.adapter.modulation_argument
        modulation = arguments.get(name) if name else None
        token_dim = self.adapter.block_token_arguments.get(name, 1) if name else 1
        per_token = isinstance(modulation, torch.Tensor) and modulation.dim() > token_dim and \
            modulation.shape[token_dim] == hidden_states.shape[1]
        reused: list[int] = []
        for chunk in forward.active:
            if chunk not in forward.forwarded:
                continue
            local = chunk - forward.first_chunk
            rows = (local * per_chunk, (local + 1) * per_chunk)
            if self.config.metric == "rate":
                first_frame, stop_frame = window.block_frames(chunk)
                signal = self._latent.narrow(2, first_frame, stop_frame - first_frame)
            elif self.config.metric == "modulation" and per_token:
                signal = modulation.select(token_dim, rows[0])
            else:
                signal = hidden_states[:, rows[0]:rows[1]]
            step = window.block_step(forward.iteration, chunk)
            if self.observer is not None:
                self.observer("signal", forward.branch, chunk, step, signal)
            if not self._computes(forward.branch, chunk, step, window, signal):
                reused.append(chunk)
        if self.config.fresh_kv:
            reused = self._after_last_computing(forward, reused)
        forward.computed = [chunk for chunk in forward.forwarded if chunk not in reused]
        self._record_chunks(window, forward, reused)
        self.attention_plan = self._attention_plan(window, forward, reused, hidden_states.device, per_chunk)
        if not reused:
            return None
        index = torch.cat([torch.arange((c - forward.first_chunk) * per_chunk, (c - forward.first_chunk + 1) * per_chunk)
                           for c in forward.computed]).to(hidden_states.device) if forward.computed else \
            torch.zeros(0, dtype=torch.long, device=hidden_states.device)
        return TokenPlan(index, [(((c - forward.first_chunk) * per_chunk, (c - forward.first_chunk + 1) * per_chunk),
                                  self._residuals[(forward.branch, c)]) for c in reused])

    def stack_finished(self, entry: torch.Tensor, exit: torch.Tensor, plan: TokenPlan | None) -> None:
        forward = self._forward
        self.attention_plan = None
        if self.config.threshold == 0 or forward is None:
            return
        per_chunk = forward.tokens_per_chunk
        for chunk in forward.active:
            if chunk in forward.computed:
                local = chunk - forward.first_chunk
                rows = slice(local * per_chunk, (local + 1) * per_chunk)
                self._residuals[(forward.branch, chunk)] = exit[:, rows].float() - entry[:, rows].float()

    # -- decisions --------------------------------------------------------------------------------
    def _computes(self, branch: str, chunk: int, step: int, window: Window, signal: torch.Tensor) -> bool:
        key = (branch, chunk)
        previous = self._previous.get(key)
        self._previous[key] = signal.detach().clone()
        config = self.config
        if (config.threshold == 0 or step < config.warmup_steps or step >= window.num_steps - config.final_steps
                or previous is None or key not in self._residuals):
            self._accumulated[key] = 0.0
            return True
        if config.metric == "rate":
            rate, _, o_last = self._rates.get(key, (None, None, None))
            if rate is None:
                self._accumulated[key] = 0.0
                return True
            scale = float(o_last.abs().mean())
            change = rate * float((signal.float() - previous.float()).abs().mean()) / scale if scale > 0 else math.inf
        else:
            change = relative_l1(signal, previous)
        if config.rescale is not None:
            change = sum(coefficient * change ** power
                         for power, coefficient in enumerate(reversed(config.rescale)))
        accumulated = self._accumulated.get(key, 0.0) + change
        if accumulated >= config.threshold:
            self._accumulated[key] = 0.0
            return True
        self._accumulated[key] = accumulated
        return False

    def _after_last_computing(self, forward: _Forward, reused: list[int]) -> list[int]:
        """``fresh_kv``: the reused chunks after the last computing one; the earlier ones compute (and reset)."""
        computing = [chunk for chunk in forward.active if chunk in forward.forwarded and chunk not in reused]
        last = max(computing, default=-1)
        for chunk in (chunk for chunk in reused if chunk < last):
            self._accumulated[(forward.branch, chunk)] = 0.0
        return [chunk for chunk in reused if chunk > last]

    def _attention_plan(self, window: Window, forward: _Forward, reused: list[int], device: torch.device,
                        per_chunk: int) -> ChunkAttentionPlan | None:
        restructured = self._restructured(window)
        keep_active = self.config.threshold > 0
        if self.adapter.own_kv_cache or (not restructured and not reused and not keep_active):
            return None
        stored = [c for c in range(window.num_blocks) if c not in forward.computed and
                  (c in reused or (restructured and c in forward.finished))]
        store = [c for c in forward.computed if (keep_active and c in forward.active)
                 or (restructured and c in forward.finished)]
        compression = self._compression() if restructured and forward.active else None
        chunks = torch.tensor([c for c in forward.computed for _ in range(per_chunk)], dtype=torch.long, device=device)
        return ChunkAttentionPlan(
            branch=forward.branch, query_chunks=chunks, stored_key_chunks=stored, store_chunks=store,
            causal=self._causal(window), compressible=list(forward.finished), compression=compression,
            query_chunks_for_scores=[c for c in forward.computed if c in forward.active] or list(forward.computed),
        )

    # -- stats ------------------------------------------------------------------------------------
    def _record_chunks(self, window: Window, forward: _Forward, reused: list[int]) -> None:
        restructured = self._restructured(window)
        for chunk in range(window.num_blocks):
            if chunk in reused:
                state = "reused"
            elif chunk in forward.active:
                state = "computed"
            elif chunk in forward.computed:
                state = "encoded" if chunk in forward.finished and restructured else "context"
            elif chunk in forward.finished:
                state = "cached"
            else:
                state = "skipped"
            self.records.append(ChunkRecord(window.index, forward.iteration, forward.branch, chunk, state))
        self._computed_frames = len(forward.computed) * window.block_size

    def _record_skipped(self, window: Window, iteration: int, branch: str, active: list[int],
                        finished: list[int]) -> None:
        """Timeline of an iteration the whole-window decision reused: nothing ran."""
        for chunk in range(window.num_blocks):
            state = "reused" if chunk in active else "cached" if chunk in finished else "skipped"
            self.records.append(ChunkRecord(window.index, iteration, branch, chunk, state))
        self._computed_frames = 0

    def run_stats(self) -> dict[str, Any]:
        """What the run's chunk decisions and KV cache came to (merged into ``CacheStats``)."""
        cached = sum(selector.tokens_cached for selector in self.selectors)
        return {"chunk_timeline": tuple(self.records),
                "peak_kv_bytes": None if self.adapter.own_kv_cache else self.store.peak_bytes,
                "kv_read_fraction": sum(s.tokens_read for s in self.selectors) / cached if cached else None,
                "text_kv_bytes": self.text_memo.peak_bytes if self.text_memo is not None else None}
