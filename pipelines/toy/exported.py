"""Parts of an exported toy pipeline (a bundled name such as ``toy-t2v``, or a saved folder) to train from."""

from __future__ import annotations

from pathlib import Path

from diffusers import WanTransformer3DModel
from transformers import UMT5EncoderModel

from ..loader import pipeline_folder


def exported_transformer(source: str | Path) -> WanTransformer3DModel:
    """The Wan transformer of ``source`` (toy-df's loads too: same backbone and parameter names)."""
    return WanTransformer3DModel.from_pretrained(str(pipeline_folder(source) / "transformer"))


def exported_text_encoder(source: str | Path) -> UMT5EncoderModel:
    """The UMT5 text encoder of ``source``."""
    return UMT5EncoderModel.from_pretrained(str(pipeline_folder(source) / "text_encoder"))


def exported_patch(transformer: WanTransformer3DModel) -> int:
    """Spatial patch size (latent pixels) of a Wan transformer."""
    return int(transformer.config.patch_size[-1])
