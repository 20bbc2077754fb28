"""The Image (VAR) tab's picture of head classes and kept tokens: for every block and head class, after every scale,
the share of the class's heads that keep each token of the scales so far.

One row per transformer block and head class (HACK: contextual, structural; a method with one group per block:
that group, e.g. ScaleKV's drafter or refiner). The row's label names the block and class, with a strip of the
block's heads, filled in the class's colour where the head belongs to it. Then one column per scale ``s`` but the
last (after the last scale nothing is kept): the token maps of scales ``0 … s`` side by side, coarse to fine, each
in a ``panel × panel`` square, every token coloured by the share of the class's heads that kept it after scale
``s`` (inferno: black where no head of the class keeps it, light yellow where every head does). A class a block has
no heads of is grey. Drawn from ``ScaleKVHandle.kept_tokens()`` (the first batch row: the first image's
conditional branch).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

from mmcache.kv.scale_cache import KeptTokens
from mmcache.kv.scale_layout import ScaleLayout

COLOUR_MAP = "inferno"
PANEL = 48  # side of one token map, in pixels (a map of pn tokens a side: PANEL // pn pixels a token)
MAP_GAP = 2  # between the token maps of one column
COLUMN_GAP = 12  # between columns (scales)
ROW_GAP = 2  # between the rows of one block
BLOCK_GAP = 8  # between blocks
MARGIN = 8
HEADER = 16  # the column titles
LABEL_WIDTH = 150  # the row labels (wider when the head strip needs it)
LEGEND_WIDTH, LEGEND_HEIGHT = 48, 8  # the colour ramp above the labels
STRIP_CELL = 8  # one head in the strip under a row's label
STRIP_GAP = 2
BACKGROUND = (255, 255, 255)
ABSENT = (215, 215, 215)  # a class the block has no heads of
EMPTY_HEAD = (235, 235, 235)
TEXT = (40, 40, 40)
CLASS_COLOURS = {"contextual": (31, 119, 180), "structural": (255, 127, 14)}
OTHER_COLOURS = ((44, 160, 44), (148, 103, 189), (140, 86, 75), (227, 119, 194))

KeptTable = dict[int, dict[int, tuple[KeptTokens, ...]]]  # layer → scale → per head group


@dataclasses.dataclass(frozen=True)
class ShareRow:
    """One block's head class: its heads and, per column (after scale ``s``), the share of them keeping each token
    of scales ``0 … s`` (``[tokens_through(s)]``; ``None`` for every column when the block has no heads of it)."""

    block: int
    group: str
    heads: tuple[int, ...]
    shares: tuple[np.ndarray | None, ...]


def _share(part: KeptTokens, tokens: int) -> np.ndarray:
    counts = np.zeros(tokens)
    ids = part.ids.long().numpy()
    np.add.at(counts, ids.reshape(-1), 1.0)
    return counts / max(1, len(part.heads))


def share_rows(kept: KeptTable, layout: ScaleLayout) -> list[ShareRow]:
    """The picture's rows: per block, one per head class (the classes of all blocks: contextual, structural, then
    others in order of appearance), or the block's only group when every block has one."""
    if layout.num_scales < 2:
        raise ValueError("A model of one scale keeps nothing between scales: there are no kept tokens to draw.")
    columns = range(layout.num_scales - 1)
    missing = [(block, scale) for block in sorted(kept) for scale in columns if scale not in kept[block]]
    if not kept or missing:
        raise ValueError("The kept tokens of every block after every scale but the last are needed (record them with "
                         f"ScaleKVHandle.record_kept = True); missing (block, scale): {missing or 'all'}.")
    first = {block: kept[block][0] for block in sorted(kept)}
    one_group = all(len(parts) == 1 for parts in first.values())
    seen = list(dict.fromkeys(part.group for parts in first.values() for part in parts))
    classes = [name for name in CLASS_COLOURS if name in seen] + [name for name in seen if name not in CLASS_COLOURS]
    rows = []
    for block, parts in first.items():
        names = [parts[0].group] if one_group else classes
        for name in names:
            index = next((i for i, part in enumerate(parts) if part.group == name), None)
            if index is None:
                rows.append(ShareRow(block, name, (), (None,) * len(columns)))
                continue
            shares = tuple(_share(kept[block][scale][index], layout.tokens_through(scale)) for scale in columns)
            rows.append(ShareRow(block, name, parts[index].heads, shares))
    return rows


def label_width(num_heads: int) -> int:
    return max(LABEL_WIDTH, num_heads * (STRIP_CELL + STRIP_GAP) + MARGIN)


def panel_side(layout: ScaleLayout) -> int:
    """A token map's square: ``PANEL``, or more for a map finer than ``PANEL`` tokens a side (one pixel a token)."""
    return max(PANEL, *layout.patch_nums)


def column_width(scale: int, side: int) -> int:
    return (scale + 1) * side + scale * MAP_GAP


def picture_size(layout: ScaleLayout, rows: list[ShareRow], num_heads: int) -> tuple[int, int]:
    """``(width, height)`` of the picture of ``rows``."""
    side, blocks = panel_side(layout), len({row.block for row in rows})
    columns = layout.num_scales - 1
    width = (2 * MARGIN + label_width(num_heads) + sum(column_width(s, side) for s in range(columns))
             + (columns - 1) * COLUMN_GAP)
    height = 2 * MARGIN + HEADER + len(rows) * side + (len(rows) - blocks) * ROW_GAP + (blocks - 1) * BLOCK_GAP
    return width, height


def class_colour(name: str, classes: list[str]) -> tuple[int, int, int]:
    others = [other for other in classes if other not in CLASS_COLOURS]
    return CLASS_COLOURS.get(name) or OTHER_COLOURS[others.index(name) % len(OTHER_COLOURS)]


def _token_map(share: np.ndarray | None, pn: int, side: int) -> np.ndarray:
    """``[side, side, 3]``: a ``pn × pn`` map of ``share`` (row by row) in inferno, centred on white."""
    square = np.full((side, side, 3), BACKGROUND, dtype=np.uint8)
    cell = max(1, side // pn)
    colours = (np.full((pn, pn, 3), ABSENT, dtype=np.float64) if share is None
               else colormaps[COLOUR_MAP](np.clip(share.reshape(pn, pn), 0.0, 1.0))[..., :3] * 255.0)
    drawn = np.clip(colours + 0.5, 0, 255).astype(np.uint8).repeat(cell, axis=0).repeat(cell, axis=1)
    offset = (side - pn * cell) // 2
    square[offset:offset + pn * cell, offset:offset + pn * cell] = drawn
    return square


def draw_kept_picture(rows: list[ShareRow], layout: ScaleLayout, num_heads: int) -> Image.Image:
    """The picture of ``share_rows`` output for a model of ``num_heads`` heads a block."""
    width, height = picture_size(layout, rows, num_heads)
    side, labels = panel_side(layout), label_width(num_heads)
    canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    row_tops, y = [], MARGIN + HEADER
    for index, row in enumerate(rows):
        if index:
            y += BLOCK_GAP if row.block != rows[index - 1].block else ROW_GAP
        row_tops.append(y)
        y += side
    column_lefts, x = [], MARGIN + labels
    for scale in range(layout.num_scales - 1):
        column_lefts.append(x)
        x += column_width(scale, side) + COLUMN_GAP
    for row, top in zip(rows, row_tops):
        for scale, left in enumerate(column_lefts):
            share = row.shares[scale]
            for k in range(scale + 1):
                begin, end = layout.begin_ends[k]
                x0 = left + k * (side + MAP_GAP)
                canvas[top:top + side, x0:x0 + side] = _token_map(None if share is None else share[begin:end],
                                                                 layout.patch_nums[k], side)
    picture = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    for scale, left in enumerate(column_lefts):
        draw.text((left, MARGIN), f"scale {scale}", fill=TEXT, font=font)
    _draw_legend(picture, draw, font)
    classes = list(dict.fromkeys(row.group for row in rows))
    for row, top in zip(rows, row_tops):
        draw.text((MARGIN, top), f"block {row.block} · {row.group}", fill=TEXT, font=font)
        draw.text((MARGIN, top + 13), f"{len(row.heads)} of {num_heads} heads", fill=TEXT, font=font)
        colour, strip_top = class_colour(row.group, classes), top + 28
        for head in range(num_heads):
            x0 = MARGIN + head * (STRIP_CELL + STRIP_GAP)
            draw.rectangle((x0, strip_top, x0 + STRIP_CELL - 1, strip_top + STRIP_CELL - 1),
                           fill=colour if head in row.heads else EMPTY_HEAD)
    return picture


def _draw_legend(picture: Image.Image, draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont) -> None:
    """Above the labels: "kept by none [inferno ramp] all" (of the class's heads)."""
    draw.text((MARGIN, MARGIN), "kept by none", fill=TEXT, font=font)
    left = MARGIN + int(draw.textlength("kept by none ", font=font))
    ramp = colormaps[COLOUR_MAP](np.linspace(0.0, 1.0, LEGEND_WIDTH))[:, :3] * 255.0
    bar = np.clip(ramp + 0.5, 0, 255).astype(np.uint8)[None].repeat(LEGEND_HEIGHT, axis=0)
    picture.paste(Image.fromarray(bar), (left, MARGIN + 2))
    draw.text((left + LEGEND_WIDTH + 3, MARGIN), "all", fill=TEXT, font=font)


def save_kept_picture(rows: list[ShareRow], layout: ScaleLayout, num_heads: int, path: str | Path) -> Path:
    """``draw_kept_picture`` written as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_kept_picture(rows, layout, num_heads).save(path, format="PNG")
    return path
