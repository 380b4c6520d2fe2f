"""Framing by rules: the car's box centred, a margin on each side, the ground line (the box's
bottom) at one height, and one scale for every angle of a car.

Coordinates are pixels; a placement maps photo pixel centres ``p`` to ``p * scale + offset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np


@dataclass(frozen=True)
class Box:
    """The car's bounding box in photo pixels; ``right``/``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class GroupFrame:
    """What every angle of one car shares: its ``scale`` and the output row of its ground line."""

    scale: float
    ground: float


@dataclass(frozen=True)
class Placement:
    """Photo -> output: ``x_out = x * scale + dx``, ``y_out = y * scale + dy``."""

    scale: float
    dx: float
    dy: float


def car_box(alpha: np.ndarray, threshold: int = 128) -> Box | None:
    """The box of ``alpha >= threshold`` ((H, W) uint8; a bool mask as it is), None when there is no car."""
    solid = alpha if alpha.dtype == bool else alpha >= threshold
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if rows.size == 0:
        return None
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def fit_group(boxes: Iterable[Box], width: int, height: int, margin: float) -> GroupFrame:
    """One scale for all ``boxes`` (the largest that keeps each inside the margins of a
    ``width`` x ``height`` output) and the ground row that centres the tallest box."""
    boxes = list(boxes)
    if not boxes:
        raise ValueError("no car to frame")
    if not 0 <= margin < 0.5:
        raise ValueError(f"the margin must be in [0, 0.5), got {margin}")
    room_w, room_h = width * (1 - 2 * margin), height * (1 - 2 * margin)
    scale = min(min(room_w / max(1, box.width), room_h / max(1, box.height)) for box in boxes)
    tallest = max(box.height for box in boxes) * scale
    return GroupFrame(scale=scale, ground=(height + tallest) / 2)


def place(box: Box, frame: GroupFrame, width: int) -> Placement:
    """The box centred across a ``width``-wide output, its bottom on ``frame.ground``."""
    centre = (box.left + box.right) / 2
    return Placement(frame.scale, width / 2 - centre * frame.scale, frame.ground - box.bottom * frame.scale)


def warp_region(image: np.ndarray, placement: Placement, size: tuple[int, int], box: Box,
                pad: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The part of ``image`` around ``box`` (``pad`` photo pixels more on each side, within the
    photo) scaled by the placement and clipped to an output of ``size`` (width, height): returns
    the scaled array and its (left, top) in the output. Positions are rounded to whole output
    pixels (framing needs no finer), so one resize does it."""
    h, w = image.shape[:2]
    s = placement.scale
    sx0, sy0 = max(0, box.left - pad), max(0, box.top - pad)
    sx1, sy1 = min(w, box.right + pad), min(h, box.bottom + pad)
    dx0, dy0 = round(sx0 * s + placement.dx), round(sy0 * s + placement.dy)
    dw, dh = max(1, round((sx1 - sx0) * s)), max(1, round((sy1 - sy0) * s))
    ox0, oy0 = max(0, dx0), max(0, dy0)
    ox1, oy1 = min(size[0], dx0 + dw), min(size[1], dy0 + dh)
    if ox1 <= ox0 or oy1 <= oy0:
        return np.zeros((0, 0) + image.shape[2:], image.dtype), (0, 0)
    source = image[sy0:sy1, sx0:sx1]
    if (dw, dh) != (source.shape[1], source.shape[0]):  # area averaging to shrink (no aliasing)
        source = cv2.resize(source, (dw, dh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return source[oy0 - dy0 : oy1 - dy0, ox0 - dx0 : ox1 - dx0], (ox0, oy0)
