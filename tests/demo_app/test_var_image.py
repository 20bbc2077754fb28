"""The Image (VAR) tab driven with gradio_client on tiny:var: both image sets, their costs, the kept-token picture."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

API = "/var_image"
CAPTION = "a red circle on a black background"
# tiny:var: scales 1, 2, 4 (21 tokens), 2 blocks of 4 heads; a fifth of the tokens makes both classes drop some
FIFTH = {"method": "hack", "hack_budget": 0.2}


@pytest.fixture(scope="module")
def client(demo_server: Any, tmp_path_factory: Any) -> Any:
    """One client for the module (connecting reads the whole app's API: a second or so each time)."""
    return demo_server.client(tmp_path_factory.mktemp("var-image"))


def sample(client: Any, **overrides: Any) -> tuple:
    arguments = {"model": "tiny:var", "caption": CAPTION, "seed": 3, "num_images": 2, "guidance_scale": 3.0,
                 **FIFTH, **overrides}
    return client.predict(api_name=API, **arguments)


def native(path: str, count: int, side: int = 16) -> np.ndarray:
    """The ``count`` images of a row PNG at their own size (the row is upscaled with white gaps between images)."""
    from mmcache.demos.outputs import viewing_scale
    from mmcache.demos.var_image import IMAGE_GAP

    factor = viewing_scale(np.zeros((1, side, side, 3)))
    row = np.asarray(Image.open(path).convert("RGB"))
    assert row.shape == (side * factor, count * side * factor + (count - 1) * IMAGE_GAP, 3)
    step = side * factor + IMAGE_GAP
    return np.stack([row[::factor, i * step: i * step + side * factor: factor] for i in range(count)])


def test_both_image_sets_the_numbers_and_the_kept_picture(client):
    from mmcache.demos import kept_scales as picture
    from mmcache.pipelines.loader import load

    plain_path, method_path, summary, kept_path, metrics = sample(client)

    pipe = load("tiny:var", device="cpu")
    expected = pipe(CAPTION, num_images=2, guidance_scale=3.0, generator=torch.Generator().manual_seed(3),
                    output_type="np").images
    assert np.array_equal(native(plain_path, 2), (expected * 255).round().astype(np.uint8))
    assert native(method_path, 2).shape == (2, 16, 16, 3)
    assert metrics["image_shape"] == [2, 16, 16, 3]

    plain, method, ratios = metrics["plain"], metrics["method"], metrics["ratios"]
    for name in ("kv_bytes_peak", "kv_bytes_held", "attention_flops"):
        assert ratios[name] == pytest.approx(method[name] / plain[name])
    assert 0 < ratios["kv_bytes_held"] < 1 and 0 < ratios["kv_bytes_peak"] < 1 and 0 < ratios["attention_flops"] < 1
    assert metrics["wall_speedup"] == pytest.approx(plain["wall_seconds"] / method["wall_seconds"])
    assert 0 < metrics["psnr_db"] <= 100 and 0 < metrics["ssim"] <= 1
    assert f"| KV held between scales | {plain['kv_bytes_held'] / 1024:.1f} KiB |" in summary
    assert f"{ratios['kv_bytes_held']:.2f}× |" in summary
    assert f"| PSNR vs plain |  | {metrics['psnr_db']:.2f} dB |" in summary
    assert "training captions" in metrics["calibration"] and metrics["config"]["calibration"].endswith(".json")

    rows = metrics["kept_rows"]
    assert {row["class"] for row in rows} <= {"contextual", "structural"}
    for block in (0, 1):
        mine = [row for row in rows if row["block"] == block]
        assert sorted(head for row in mine for head in row["heads"]) == [0, 1, 2, 3]
        for scale in (0, 1):  # the mean tokens a head keeps, from the shares
            kept = sum(sum(row["kept_share"][scale]) * len(row["heads"]) for row in mine if row["heads"]) / 4
            assert kept == pytest.approx(metrics["kept_per_head"][str(block)][str(scale)])
    assert all(row["kept_share"][0] == [1.0] for row in rows if row["heads"])  # one token, always kept
    width = 2 * picture.MARGIN + picture.label_width(4) + picture.PANEL + picture.COLUMN_GAP + 2 * picture.PANEL \
        + picture.MAP_GAP
    height = 2 * picture.MARGIN + picture.HEADER + len(rows) * picture.PANEL + (len(rows) - 2) * picture.ROW_GAP \
        + picture.BLOCK_GAP
    assert Image.open(kept_path).size == (width, height)

    again = sample(client, seed=4)[4]
    assert "at an earlier request" in again["calibration"]
    assert again["config"]["calibration"] == metrics["config"]["calibration"]


@pytest.mark.parametrize("method", ["hack", "scaletopk"])
def test_keeping_everything_gives_the_plain_images(client, method):
    plain_path, method_path, summary, kept_path, metrics = sample(client, method=method,
                                                                  **{f"{method}_budget": 1.0}, num_images=1)
    assert np.array_equal(native(plain_path, 1), native(method_path, 1)) and metrics["images_identical"]
    assert {key: value for key, value in metrics["ratios"].items() if key != "wall_seconds"} == {
        "kv_bytes_peak": 1.0, "kv_bytes_held": 1.0, "attention_flops": 1.0}
    assert metrics["psnr_db"] == 100.0 and "are identical to the plain cache's" in summary
    assert [row["class"] for row in metrics["kept_rows"]] == ["all", "all"]
    assert all(share == 1.0 for row in metrics["kept_rows"] for scale in row["kept_share"] for share in scale)
    assert Image.open(kept_path).mode == "RGB"


BAD_INPUTS = [
    ({"caption": "a plaid circle on a black background"},
     "Prompt 'a plaid circle on a black background' has words this model does not know (plaid); use only: a on "
     "background red"),
    ({"caption": "  "}, "The caption is empty"),
    ({"model": "tiny:wan2.1-t2v"}, "tiny:wan2.1-t2v is not a next-scale-prediction (VAR) image model"),
    ({"model": "tiny:vlm"}, "tiny:vlm is not a next-scale-prediction (VAR) image model"),
    ({"model": "no-such-model"}, "Unknown image (VAR) model 'no-such-model'"),
    ({"num_images": 5}, "number of images must be from 1 to 4, got 5"),
    ({"num_images": 1.5}, "number of images must be a whole number, got 1.5"),
    ({"seed": -1}, "seed must be from 0 to"),
    ({"guidance_scale": 0.5}, "guidance scale must be from 1 (no guidance) to 50, got 0.5"),
    ({"hack_budget": 0}, "HACKConfig.budget must be a fraction in (0, 1]"),
    ({"hack_observation_queries": 2.5}, "hack observation queries needs a whole number, got 2.5"),
    ({"hack_calibration": "/no/such/hack.json"}, "hack calibration: file '/no/such/hack.json' does not exist"),
    ({"method": "scalekv", "scalekv_drafters": 2}, "ScaleKVConfig.drafters must be below the model's 2 layers"),
    ({"method": "easycache"}, "Value: easycache is not in the list of choices"),  # Gradio: only scale-KV methods
]


@pytest.mark.parametrize("overrides, message", BAD_INPUTS, ids=[message for _, message in BAD_INPUTS])
def test_bad_input_shows_a_clear_message(client, overrides, message):
    import re

    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=f"^{re.escape(message)}"):
        sample(client, **overrides)


def test_other_folders_and_mismatched_calibrations_are_refused(client, tmp_path):
    from gradio_client.exceptions import AppError

    import mmcache
    from mmcache.pipelines.var import MultiScaleVQVAE, VARPipeline
    from mmcache.pipelines.var.configs import TINY_TOKENIZER, TINY_TRANSFORMER, build_transformer

    with pytest.raises(AppError, match="is a folder but not a saved image \\(VAR\\) model"):
        sample(client, model=str(tmp_path))
    tokenizer = MultiScaleVQVAE(**TINY_TOKENIZER)
    deeper = VARPipeline(tokenizer, build_transformer(tokenizer, **{**TINY_TRANSFORMER, "depth": 3}))
    other = tmp_path / "other.json"
    mmcache.calibrate(deeper, method="hack", prompts=[CAPTION], seeds=[0], progress=False).save(other)
    with pytest.raises(AppError, match="This HACK calibration was made for .* but the model has"):
        sample(client, hack_calibration=str(other))
    assert sample(client, num_images=1)[4]["model"] == "tiny:var"  # and the tab keeps serving
