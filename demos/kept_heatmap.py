"""The kept-token heat map of the Video QA tab: for every visual token, the share of layers (× heads) that kept it,
blended over the frames it covers.

A Qwen2-VL-style processor lays a clip's visual tokens out as ``groups × rows × cols``: ``video_grid_thw`` gives
``(groups, patch rows, patch cols)``, ``groups`` temporal patches of ``temporal_patch_size`` frames, and every
``merge_size × merge_size`` patches make one token. The picture has one panel per temporal group: the group's first
frame (resized as the processor resizes it), each token's square coloured by its share (inferno: black = dropped
by every layer, light yellow = kept by every layer), panels left to right in time.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from matplotlib import colormaps
from PIL import Image

COLOUR_MAP = "inferno"
HEAT_WEIGHT = 0.6  # the heat colour's share of each pixel; the frame shows through the rest
GAP = 8  # pixels between panels
GAP_COLOUR = 255
VIEWING_SIDE = 256  # panels are at least this wide (integer nearest-neighbour upscaling)


def visual_token_grid(share: np.ndarray, input_ids: np.ndarray, video_token: int, grid_thw: tuple[int, int, int],
                      merge_size: int) -> np.ndarray:
    """``[groups, rows, cols]``: the per-position ``share`` (``[T]``, over one prompt ``input_ids``) of the visual
    tokens, in the processor's order (groups, then merged rows, then merged columns)."""
    groups, height, width = grid_thw
    shape = (groups, height // merge_size, width // merge_size)
    visual = share[np.asarray(input_ids) == video_token]
    if visual.size != int(np.prod(shape)):
        raise ValueError(f"The prompt holds {visual.size} visual tokens, but the video grid {tuple(grid_thw)} merged "
                         f"{merge_size}×{merge_size} makes {int(np.prod(shape))}.")
    return visual.reshape(shape)


def group_frames(frames: np.ndarray, groups: int, temporal_patch_size: int, size: int) -> np.ndarray:
    """``[groups, size, size, 3]``: the first frame of each temporal group, resized to the processor's square."""
    picked = frames[[min(group * temporal_patch_size, len(frames) - 1) for group in range(groups)]]
    if picked.shape[1:3] == (size, size):
        return picked
    return np.stack([cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA) for frame in picked])


def panel_side(size: int, cells: int) -> int:
    """A panel's side: the frame upscaled by a whole factor to at least ``VIEWING_SIDE`` and divisible by ``cells``."""
    side = size * max(1, -(-VIEWING_SIDE // size))
    return side if side % cells == 0 else side * cells // np.gcd(side, cells)


def heatmap_panels(grid: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """``[side, side · groups + GAP · (groups − 1), 3]`` uint8: ``grid [groups, rows, cols]`` in [0, 1] blended
    over ``frames [groups, size, size, 3]``, one ``side × side`` panel per group (``panel_side``)."""
    groups, rows, cols = grid.shape
    side = panel_side(frames.shape[1], int(np.lcm(rows, cols)))
    colours = colormaps[COLOUR_MAP](np.clip(grid, 0.0, 1.0))[..., :3] * 255.0
    panels = []
    for frame, heat in zip(frames, colours):
        picture = cv2.resize(frame, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.float64)
        cells = heat.repeat(side // rows, axis=0).repeat(side // cols, axis=1)
        panels.append((1 - HEAT_WEIGHT) * picture + HEAT_WEIGHT * cells)
    gap = np.full((side, GAP, 3), GAP_COLOUR, dtype=np.float64)
    joined = [part for panel in panels for part in (panel, gap)][:-1]
    return np.clip(np.concatenate(joined, axis=1) + 0.5, 0, 255).astype(np.uint8)


def save_heatmap_png(grid: np.ndarray, frames: np.ndarray, path: str | Path) -> Path:
    """``heatmap_panels`` written as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(heatmap_panels(grid, frames)).save(path, format="PNG")
    return path
