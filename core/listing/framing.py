"""Framing by rules: the car's box centred, a margin on each side, the ground line (the box's
bottom) at one height, and one scale for every angle of a car.

Coordinates are pixels; a placement maps photo pixel centres ``p`` to ``p * scale + offset``.
"""

from __future__ import annotations

import math
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
    """The part of ``image`` around ``box`` (``pad`` photo pixels more on each side) scaled by the
    placement: returns the scaled array and its (left, top) in the output of ``size`` (width,
    height). Parts outside the photo are zero (transparent where ``image`` is an alpha)."""
    h, w = image.shape[:2]
    s = placement.scale
    # the output pixels that the padded box covers, then the photo area that feeds them
    x0 = max(0, math.floor((box.left - pad) * s + placement.dx))
    y0 = max(0, math.floor((box.top - pad) * s + placement.dy))
    x1 = min(size[0], math.ceil((box.right + pad) * s + placement.dx))
    y1 = min(size[1], math.ceil((box.bottom + pad) * s + placement.dy))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0) + image.shape[2:], image.dtype), (0, 0)
    matrix = np.array([[s, 0, 0], [0, s, 0]], np.float64)
    # the photo area that feeds the region, with a pixel to spare for interpolation
    sx0 = max(0, math.floor((x0 - placement.dx) / s) - 1)
    sy0 = max(0, math.floor((y0 - placement.dy) / s) - 1)
    sx1 = min(w, math.ceil((x1 - placement.dx) / s) + 2)
    sy1 = min(h, math.ceil((y1 - placement.dy) / s) + 2)
    source = image[sy0:sy1, sx0:sx1]
    shift = sx0 * s + placement.dx - x0, sy0 * s + placement.dy - y0
    if s < 1:  # shrink with area averaging (no aliasing), then place it at the exact sub-pixel offset
        dsize = (max(1, round(source.shape[1] * s)), max(1, round(source.shape[0] * s)))
        small = cv2.resize(source, dsize, interpolation=cv2.INTER_AREA)
        fx, fy = dsize[0] / source.shape[1], dsize[1] / source.shape[0]
        # pixel centres: x_small = (x + 0.5) * fx - 0.5, so x_out = x_small * s / fx + shift + s / 2 * (1 / fx - 1)
        matrix = np.array([[s / fx, 0, shift[0] + s / 2 * (1 / fx - 1)],
                           [0, s / fy, shift[1] + s / 2 * (1 / fy - 1)]], np.float64)
        source = small
    else:
        matrix[:, 2] = shift
    out = cv2.warpAffine(source, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, (x0, y0)
