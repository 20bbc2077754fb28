"""``hooks.constant_inputs``: a module answers an input it has seen from memory, and only then."""

from __future__ import annotations

import pytest
import torch

from mmcache.hooks.constant_inputs import ConstantInputMemo, matching_modules


def counted_linear() -> tuple[torch.nn.Linear, list[int]]:
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    runs: list[int] = []
    layer.register_forward_pre_hook(lambda module, args: runs.append(1))
    return layer, runs


def test_an_input_seen_before_is_answered_without_running_the_module():
    layer, runs = counted_linear()
    memo = ConstantInputMemo([layer]).attach()
    text = torch.randn(2, 5, 8)
    with torch.no_grad():
        first = layer(text)
        again = layer(text)
        equal_copy = layer(text.clone())
    assert len(runs) == 1
    assert again is first and equal_copy is first
    assert memo.counts() == (2, 1) and memo.held_bytes() == first.numel() * 4


def test_new_or_modified_inputs_run_the_module():
    layer, runs = counted_linear()
    ConstantInputMemo([layer], capacity=2).attach()
    text, other = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    with torch.no_grad():
        layer(text)
        assert torch.equal(layer(other), torch.nn.functional.linear(other, layer.weight, layer.bias))
        text.mul_(2)  # the same tensor object, new values
        assert torch.equal(layer(text), torch.nn.functional.linear(text, layer.weight, layer.bias))
        output = layer(other)
        output.add_(1)  # a caller changed the kept output: it is not handed out again
        assert torch.equal(layer(other), torch.nn.functional.linear(other, layer.weight, layer.bias))
    assert len(runs) == 4


def test_calls_with_autograd_always_run():
    layer, runs = counted_linear()
    ConstantInputMemo([layer]).attach()
    text = torch.randn(3, 8)
    layer(text)
    output = layer(text)
    output.sum().backward()
    assert len(runs) == 2 and layer.weight.grad is not None


def test_inference_mode_inputs_are_compared_by_value():
    layer, runs = counted_linear()
    ConstantInputMemo([layer]).attach()
    with torch.inference_mode():
        text = torch.randn(3, 8)
        first = layer(text)
        assert layer(text.clone()) is first
        text.add_(1)
        assert torch.equal(layer(text), torch.nn.functional.linear(text, layer.weight, layer.bias))
    assert len(runs) == 2


def test_detach_restores_the_modules_and_clear_forgets():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))
    keys = list(model.state_dict())
    modules = matching_modules(model, ["1"])
    assert modules == [model[1]]
    memo = ConstantInputMemo(modules).attach()
    assert type(model[1]) is not torch.nn.Linear and isinstance(model[1], torch.nn.Linear)
    assert list(model.state_dict()) == keys
    with torch.no_grad():
        model(torch.randn(2, 8))
    memo.clear()
    assert memo.held_bytes() == 0 and memo.counts() == (0, 0)
    memo.detach()
    assert type(model[1]) is torch.nn.Linear
    with pytest.raises(RuntimeError, match="already"):
        ConstantInputMemo([model[0]]).attach().attach()


def test_the_same_object_is_found_without_comparing_values(monkeypatch):
    layer, runs = counted_linear()
    ConstantInputMemo([layer]).attach()
    prompt, negative = torch.randn(2, 8), torch.randn(2, 8)
    with torch.no_grad():
        layer(prompt)
        layer(negative)
        comparisons: list[int] = []
        equal = torch.equal
        monkeypatch.setattr(torch, "equal", lambda a, b: comparisons.append(1) or equal(a, b))
        for _ in range(3):  # the two CFG branches alternate: each finds its own object, on a GPU with no sync
            layer(prompt)
            layer(negative)
    assert len(runs) == 2 and not comparisons
