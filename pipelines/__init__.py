"""Pipelines mmcache ships or knows: the bundled reference models, tiny random families, loading.

``mmcache.pipelines.load(name_or_path, device=None, dtype=None)`` returns a ready diffusers pipeline
for ``"toy-t2v"``, ``"toy-df"``, ``"toy-ar"``, ``"tiny:<family>"``, a local folder or a hub id, and a
video-QA pipeline (``pipe(frames, question) -> str``) for ``"toy-vlm"`` or ``"tiny:vlm"``.
"""

from .loader import available_models, available_vlms, default_model, load

__all__ = ["available_models", "available_vlms", "default_model", "load"]
