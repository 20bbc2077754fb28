"""Test-suite wide settings: everything runs on the CPU; Triton kernels run in its interpreter."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import mmcache  # noqa: E402,F401  (loads the installed `kernels` package ahead of the checkout folder)

torch.set_num_threads(1)  # tiny models: one thread is as fast and keeps runs stable
