"""Pipelines mmcache ships or knows: the bundled reference models, tiny random families, loading.

``mmcache.pipelines.load(name_or_path, device=None, dtype=None)`` returns a ready pipeline for ``"toy-t2v"``,
``"toy-df"``, ``"toy-ar"``, ``"toy-var"``, ``"tiny:<family>"``, a local folder or a hub id: a diffusers one, for
next-scale prediction (``toy-var``, ``tiny:var``) a ``mmcache.pipelines.var.VARPipeline``, and a video-QA
pipeline (``pipe(frames, question) -> str``) for ``"toy-vlm"`` or ``"tiny:vlm"``.
"""

from .loader import available_models, available_vlms, default_model, load

__all__ = ["available_models", "available_vlms", "default_model", "load"]
