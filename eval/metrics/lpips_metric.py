"""LPIPS (AlexNet) against the baseline, only where its weights are already on disk.

The ``lpips`` package builds torchvision's AlexNet with ImageNet weights, which torchvision
downloads into the torch hub cache on first use. Here LPIPS counts as available only when
``lpips`` and ``torchvision`` are installed and that file is already in the cache, so nothing is
ever downloaded during an evaluation and LPIPS never runs with random weights.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from .availability import AVAILABLE, Availability, unavailable

ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"
LINEAR_WEIGHTS = Path("weights") / "v0.1" / "alex.pth"


def alexnet_weights_path() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_WEIGHTS


def lpips_availability() -> Availability:
    for package in ("lpips", "torchvision"):
        if importlib.util.find_spec(package) is None:
            return unavailable(f"the {package} package is not installed (pip install lpips torchvision)")
    spec = importlib.util.find_spec("lpips")
    package_dir = Path(spec.origin).parent if spec and spec.origin else None
    if package_dir is None or not (package_dir / LINEAR_WEIGHTS).is_file():
        return unavailable(f"lpips' linear-layer weights ({LINEAR_WEIGHTS}) are missing from the lpips package")
    weights = alexnet_weights_path()
    if not weights.is_file():
        return unavailable(f"AlexNet weights are not in the torch hub cache ({weights}); they are never "
                           "downloaded during an evaluation — fetch them once with torchvision where you have "
                           "network")
    return AVAILABLE


class LpipsScorer:
    """Mean per-frame LPIPS (alex) of a video against its reference; the network is built once."""

    def __init__(self, device: Any = "cpu") -> None:
        import lpips

        self.device = device
        self.model = lpips.LPIPS(net="alex", verbose=False).to(device).eval()

    def __call__(self, video: np.ndarray, reference: np.ndarray) -> float:
        import torch

        def to_tensor(frames: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255).to(self.device)

        with torch.no_grad():
            distances = self.model(to_tensor(video), to_tensor(reference), normalize=True)
        return float(distances.mean().item())
