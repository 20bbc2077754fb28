"""The multi-scale VQ tokenizer: token maps per scale, their sum, teacher-forcing inputs, training gradients."""

import pytest
import torch

from mmcache.pipelines.var import build_tiny_var
from mmcache.pipelines.var.data import image_batch


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_var().tokenizer


def test_round_trip_shapes(tokenizer):
    images = image_batch(0, 0, 3, size=tokenizer.image_size)[0]
    indices = tokenizer.encode_indices(images)
    assert [tuple(index.shape) for index in indices] == [(3, 1), (3, 4), (3, 16)]
    assert all(int(index.max()) < tokenizer.config.vocab_size for index in indices)
    assert tokenizer.reconstruct(images).shape == images.shape
    z = tokenizer.config.z_channels
    assert tokenizer.quantize.teacher_forcing_input(indices).shape == (3, 4 + 16, z)  # every scale but the first


def test_indices_rebuild_the_quantized_features(tokenizer):
    images = image_batch(0, 0, 2, size=tokenizer.image_size)[0]
    quantized = tokenizer.quantize(tokenizer.quant_conv(tokenizer.encoder(images)))
    assert torch.allclose(tokenizer.quantize.fhat_from_indices(quantized.indices), quantized.f_hat, atol=1e-6)


def test_training_reaches_encoder_decoder_and_codebook():
    tokenizer = build_tiny_var().tokenizer.train()
    images = image_batch(0, 0, 2, size=tokenizer.image_size)[0]
    reconstruction, quantized = tokenizer(images)
    ((reconstruction - images).square().mean() + quantized.loss).backward()
    for module in (tokenizer.encoder, tokenizer.decoder, tokenizer.quantize.embedding):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_wrong_image_size_is_refused(tokenizer):
    with pytest.raises(ValueError, match="last scale"):
        tokenizer.encode_indices(torch.zeros(1, 3, 32, 32))
