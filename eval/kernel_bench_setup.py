"""Device and kernel-backend choice shared by the kernel benchmarks (``--smoke`` on the CPU, else CUDA)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from mmcache.kernels.triton_compat import is_interpreted


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out`` (the JSON result) and ``--smoke`` (tiny sizes on the CPU)."""
    parser.add_argument("--out", default=None, help="write the results as JSON here (atomically)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (tests the script only)")


def choose_device(args: argparse.Namespace, smoke: dict[str, Any], script: str) -> bool:
    """Set ``args.device`` (``--smoke``: the CPU, with ``smoke``'s sizes set on ``args``; else CUDA).

    False, after one line on stderr, when CUDA is needed and there is none.
    """
    if args.smoke:
        for key, value in smoke.items():
            setattr(args, key, value)
        args.device = torch.device("cpu")
        return True
    if not torch.cuda.is_available():
        print(f"{script} needs a CUDA device and none was found; pass --smoke for a tiny CPU check of the script.",
              file=sys.stderr)
        return False
    args.device = torch.device("cuda")
    return True


def kernel_backend(device: torch.device, kernel: object) -> str:
    """``triton`` on CUDA or when ``kernel`` runs in the Triton interpreter; else the PyTorch reference."""
    if device.type == "cuda" or is_interpreted(kernel):
        return "triton"
    print("note: the kernels were not built for the Triton interpreter (TRITON_INTERPRET=1 before import); "
          "timing the PyTorch reference instead")
    return "reference"
