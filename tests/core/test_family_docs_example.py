"""The family example of docs/FAMILIES.md, run as written, serves every method (sparse attention included)."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from diffusers import WanPipeline, WanTransformer3DModel

import mmcache
from mmcache.families import registry
from mmcache.pipelines.tiny import build_tiny_pipeline, tiny_call_kwargs

DOC = Path(__file__).resolve().parents[2] / "docs" / "FAMILIES.md"


class MyVideoTransformer3DModel(WanTransformer3DModel):
    pass


class MyVideoPipeline(WanPipeline):
    pass


def _example_code() -> str:
    section = DOC.read_text().split("## Adding a family", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return "\n".join(line[3:] if line.startswith("   ") else line for line in code.splitlines())


def test_the_documented_family_serves_step_and_attention_methods(monkeypatch):
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    code = _example_code().replace("from .adapter", "from mmcache.families.adapter")
    exec(compile(code.replace("from .registry", "from mmcache.families.registry"), str(DOC), "exec"), {})
    tiny = build_tiny_pipeline("wan2.1-t2v", head_dim=32)
    transformer = MyVideoTransformer3DModel.from_config(tiny.transformer.config)
    transformer.load_state_dict(tiny.transformer.state_dict())
    pipe = MyVideoPipeline(tokenizer=tiny.tokenizer, text_encoder=tiny.text_encoder, vae=tiny.vae,
                           scheduler=tiny.scheduler, transformer=transformer.to(torch.bfloat16))
    kwargs = {**tiny_call_kwargs("wan2.1-t2v"), "num_inference_steps": 3, "height": 160, "width": 160}
    sparse = mmcache.SparseAttentionConfig(density=0.5)
    with mmcache.enabled(pipe, mmcache.EasyCacheConfig.preset("my-video"), sparse) as handle:
        pipe(**kwargs)
    assert handle.family == "my-video"
    assert handle.history[-1].calls == 6
    assert handle.attention_stats()[0]["sparse_calls"] > 0
