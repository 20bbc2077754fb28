"""The block-level hook: the denoiser's block stack runs over a subset of its tokens, the rest are reused.

A DiT's forward embeds its input into tokens, runs them through a ``ModuleList`` of blocks and
projects them out. This hook sits on those blocks. At the first block a client (a method, e.g.
FlowCache) looks at the tokens entering the stack and says which of them to compute; the first
block's hook then runs the whole stack over those tokens only (per-token block arguments, such as
per-token modulation or rotary tables, gathered to match), gives every other token its entry value
plus the residual the client stored for it, and the later blocks pass their input through. Tokens
not computed cost no block compute at all. With no plan (every token computed) the blocks run as
they are and the client only sees the stack's input and output.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping, Protocol

import torch
from diffusers.hooks import HookRegistry, ModelHook

HOOK_NAME = "mmcache_block_stack"


@dataclasses.dataclass
class TokenPlan:
    """Which tokens run through the blocks this forward (``compute``: positions along dim 1), and the
    residuals that stand in for the others (``reused``: (first, last + 1) token range, residual))."""

    compute: torch.Tensor
    reused: list[tuple[tuple[int, int], torch.Tensor]]


class BlockStackClient(Protocol):
    def plan_tokens(self, hidden_states: torch.Tensor, arguments: Mapping[str, Any]) -> TokenPlan | None:
        """Called with the tokens entering the stack; ``None`` computes every token."""

    def stack_finished(self, entry: torch.Tensor, exit: torch.Tensor, plan: TokenPlan | None) -> None:
        """Called with the stack's input and output (all tokens, reused ones filled in)."""


def gather_tokens(value: Any, index: torch.Tensor, dim: int, length: int) -> Any:
    """``value`` (a tensor or a tuple of tensors) restricted to ``index`` along ``dim`` when that dim has ``length``."""
    if isinstance(value, tuple):
        return tuple(gather_tokens(item, index, dim, length) for item in value)
    if isinstance(value, torch.Tensor) and value.dim() > dim and value.shape[dim] == length:
        return value.index_select(dim, index)
    return value


@dataclasses.dataclass
class _StackState:
    entry: torch.Tensor | None = None
    pass_through: bool = False


class _BlockHook(ModelHook):
    def __init__(self, stack: "BlockStack", position: int) -> None:
        super().__init__()
        self.stack = stack
        self.position = position

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        return self.stack.forward(self, module, args, kwargs)


class BlockStack:
    """Token-subset execution over one denoiser's block stack (see the module docstring)."""

    def __init__(self, blocks: list[torch.nn.Module], client: BlockStackClient, token_arguments: Mapping[str, int],
                 mask_argument: str | None) -> None:
        self.blocks = blocks
        self.client = client
        self.token_arguments = dict(token_arguments)
        self.mask_argument = mask_argument
        self.signature = inspect.signature(blocks[0].forward)
        self.state = _StackState()
        self.hooks = [_BlockHook(self, index) for index in range(len(blocks))]
        for block, hook in zip(blocks, self.hooks):
            HookRegistry.check_if_exists_or_initialize(block).register_hook(hook, HOOK_NAME)

    def detach(self) -> None:
        for block in self.blocks:
            registry = getattr(block, "_diffusers_hook", None)
            if registry is not None and registry.get_hook(HOOK_NAME) is not None:
                registry.remove_hook(HOOK_NAME, recurse=False)

    def forward(self, hook: _BlockHook, module: torch.nn.Module, args: tuple, kwargs: dict) -> Any:
        last = hook.position == len(self.blocks) - 1
        if hook.position > 0:
            if self.state.pass_through:
                self.state.pass_through = not last
                return args[0] if args else kwargs[next(iter(self.signature.parameters))]
            output = hook.fn_ref.original_forward(*args, **kwargs)
            return self._finish(output) if last else output
        bound = self.signature.bind(*args, **kwargs)
        hidden_states = next(iter(bound.arguments.values()))
        plan = self.client.plan_tokens(hidden_states, bound.arguments)
        self.state.entry = hidden_states
        if plan is None:
            output = hook.fn_ref.original_forward(*args, **kwargs)
            return self._finish(output) if last else output
        output = self._run_subset(hidden_states, bound.arguments, plan)
        self.client.stack_finished(hidden_states, output, plan)
        self.state.entry = None
        self.state.pass_through = not last
        return output

    def _finish(self, output: torch.Tensor) -> torch.Tensor:
        entry, self.state.entry = self.state.entry, None
        if entry is not None:
            self.client.stack_finished(entry, output, None)
        return output

    def _run_subset(self, hidden_states: torch.Tensor, arguments: Mapping[str, Any], plan: TokenPlan) -> torch.Tensor:
        length = hidden_states.shape[1]
        names = list(arguments)
        sliced = {name: gather_tokens(value, plan.compute, self.token_arguments[name], length)
                  if name in self.token_arguments else value for name, value in arguments.items()}
        if self.mask_argument in sliced:
            sliced[self.mask_argument] = None  # the attention hook builds the masks of a subset
        output = hidden_states.clone()
        for (first, stop), residual in plan.reused:
            output[:, first:stop] = (hidden_states[:, first:stop].float() + residual).to(output.dtype)
        if plan.compute.numel():
            tokens = hidden_states.index_select(1, plan.compute)
            rest = {name: sliced[name] for name in names[1:]}
            for hook in self.hooks:
                tokens = hook.fn_ref.original_forward(tokens, **rest)
            output[:, plan.compute] = tokens
        return output
