"""Editing a mask with a brush, clean-up commands and undo/redo that stores diffs. Never imports Qt.

The mask is an (H, W) uint8 alpha, 0 = background, 255 = car; values between come only from a
soft brush edge. ``mask`` (alpha >= 128) is the binary mask the corrections store and training use.

Strokes: ``begin_stroke`` / ``stroke_to`` (any number) / ``end_stroke``. Each ``stroke_to``
stamps the capsule between the previous point and the new one, so a stroke is continuous
however far the pointer moved between events. Within a stroke the brush raises alpha to at
most its own profile (the eraser lowers it), so overlapping dabs never build up.

Undo: one stroke or one command is one ``EditDiff`` (bounding box, positions of the changed
pixels, their values before and after). During a stroke the first touch of each 64x64 tile
copies that tile, so a stroke never copies the whole mask.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from core.masking.cleanup import enclosed_background, small_car_regions

TILE = 64
BRUSH, ERASER = "brush", "eraser"


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle: rows ``top:bottom``, columns ``left:right`` (exclusive ends)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def empty(self) -> bool:
        return self.right <= self.left or self.bottom <= self.top

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def union(self, other: Rect | None) -> Rect:
        if other is None or other.empty:
            return self
        if self.empty:
            return other
        return Rect(min(self.left, other.left), min(self.top, other.top),
                    max(self.right, other.right), max(self.bottom, other.bottom))

    def clip(self, width: int, height: int) -> Rect:
        return Rect(max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom))

    @classmethod
    def bounding(cls, pixels: np.ndarray) -> Rect | None:
        """The smallest rect holding every true pixel of the (H, W) bool ``pixels``; None when none is."""
        rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
        if not len(rows):
            return None
        return cls(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


@dataclass(frozen=True)
class EditDiff:
    """The pixels one edit changed: flat positions inside ``rect`` and their values."""

    label: str
    rect: Rect
    index: np.ndarray  # uint32 positions in the rect, row-major
    before: np.ndarray  # uint8
    after: np.ndarray  # uint8

    @property
    def nbytes(self) -> int:
        return self.index.nbytes + self.before.nbytes + self.after.nbytes

    def apply(self, alpha: np.ndarray, *, reverse: bool = False) -> None:
        rows, cols = np.divmod(self.index, self.rect.width)
        alpha[rows + self.rect.top, cols + self.rect.left] = self.before if reverse else self.after


def brush_profile(distance: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """Brush weight 0..1 at ``distance`` from its centre: 1 inside ``hardness * radius``, a
    smooth fall to 0 at ``radius``; hardness 1 is a hard disc."""
    radius = max(radius, 0.5)
    if hardness >= 1.0:
        return (distance <= radius).astype(np.float32)
    inner = radius * max(0.0, hardness)
    t = np.clip((radius - distance) / max(radius - inner, 1e-6), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def capsule_distance(xs: np.ndarray, ys: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Distance of points (xs, ys) from the segment ``start``-``end``."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 < 1e-12:
        return np.hypot(xs - x0, ys - y0)
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    return np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))


class MaskEditor:
    """An alpha mask with brush strokes, clean-up commands and a bounded undo history.

    Coordinates are continuous image coordinates: pixel (row r, column c) covers
    [c, c + 1) x [r, r + 1), so its centre is (c + 0.5, r + 0.5). Every editing method
    returns the ``Rect`` that changed (None when nothing did) so a view can repaint just that.
    """

    def __init__(self, alpha: np.ndarray, *, max_steps: int = 200, max_bytes: int = 256 << 20) -> None:
        alpha = np.asarray(alpha)
        if alpha.ndim != 2:
            raise ValueError(f"a mask must be 2-D (H, W), got shape {alpha.shape}")
        if alpha.dtype == np.bool_:
            alpha = alpha.astype(np.uint8) * 255
        elif alpha.dtype != np.uint8:
            raise ValueError(f"a mask must be bool or uint8, got {alpha.dtype}")
        self._alpha = np.ascontiguousarray(alpha).copy()
        self.max_steps, self.max_bytes = max_steps, max_bytes
        self._undo: deque[EditDiff] = deque()
        self._redo: list[EditDiff] = []
        self._revision = 0
        self._stroke: dict | None = None

    # -- state ---------------------------------------------------------------------------
    @property
    def alpha(self) -> np.ndarray:
        """The live (H, W) uint8 alpha; treat as read-only (edit through the methods)."""
        return self._alpha

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True = car."""
        return self._alpha >= 128

    @property
    def shape(self) -> tuple[int, int]:
        return self._alpha.shape

    @property
    def revision(self) -> int:
        """Changes on every edit, undo and redo (compare to know whether it was saved)."""
        return self._revision

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str:
        return self._undo[-1].label if self._undo else ""

    @property
    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    @property
    def history_bytes(self) -> int:
        return sum(d.nbytes for d in self._undo) + sum(d.nbytes for d in self._redo)

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    # -- strokes -------------------------------------------------------------------------
    def begin_stroke(self, tool: str = BRUSH, size: float = 20.0, hardness: float = 1.0, *, label: str = "") -> None:
        """Start a stroke of ``tool`` ('brush' adds car, 'eraser' removes), ``size`` = diameter
        in pixels, ``hardness`` 0..1; ``label`` names its undo step (default: the tool's). An
        unfinished stroke is ended first."""
        if tool not in (BRUSH, ERASER):
            raise ValueError(f"unknown tool {tool!r}; use {BRUSH!r} or {ERASER!r}")
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = {"tool": tool, "radius": max(0.5, float(size) / 2.0), "hardness": float(np.clip(hardness, 0, 1)),
                        "last": None, "tiles": {}, "label": label or _label(tool)}

    def stroke_to(self, x: float, y: float) -> Rect | None:
        """Extend the stroke to (x, y): a dab at the first point, a continuous capsule after."""
        stroke = self._stroke
        if stroke is None:
            raise RuntimeError("stroke_to() outside a stroke; call begin_stroke() first")
        point = (float(x), float(y))
        start = stroke["last"] or point
        stroke["last"] = point
        return self._stamp(start, point, stroke)

    def end_stroke(self) -> EditDiff | None:
        """Finish the stroke; it becomes one undo step (None when it changed nothing)."""
        stroke, self._stroke = self._stroke, None
        if stroke is None or not stroke["tiles"]:
            return None
        parts = []
        for (ty, tx), before in stroke["tiles"].items():
            top, left = ty * TILE, tx * TILE
            now = self._alpha[top : top + before.shape[0], left : left + before.shape[1]]
            rows, cols = np.nonzero(now != before)
            if len(rows):
                parts.append((rows + top, cols + left, before[rows, cols], now[rows, cols]))
        if not parts:
            return None
        rows, cols, before, after = (np.concatenate(items) for items in zip(*parts))
        return self._push(_make_diff(stroke["label"], rows, cols, before, after))

    def abort_stroke(self) -> Rect | None:
        """Undo the stroke in progress without recording it."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return None
        changed = None
        for (ty, tx), before in stroke["tiles"].items():
            top, left = ty * TILE, tx * TILE
            self._alpha[top : top + before.shape[0], left : left + before.shape[1]] = before
            changed = Rect(left, top, left + before.shape[1], top + before.shape[0]).union(changed)
        self._revision += 1
        return changed

    def stroke_patch(self, rect: Rect, values: np.ndarray) -> Rect | None:
        """Within a stroke, set the pixels of ``rect`` to ``values`` (uint8, the rect's shape):
        how an edge-snapping stroke paints; part of the stroke's one undo step."""
        if self._stroke is None:
            raise RuntimeError("stroke_patch() outside a stroke; call begin_stroke() first")
        rect = rect.clip(self._alpha.shape[1], self._alpha.shape[0])
        if rect.empty:
            return None
        self._snapshot_tiles(rect, self._stroke["tiles"])
        self._alpha[rect.slices] = values
        self._revision += 1
        return rect

    def dab(self, x: float, y: float, tool: str = BRUSH, size: float = 20.0, hardness: float = 1.0) -> Rect | None:
        """One dab as a complete stroke (one undo step)."""
        self.begin_stroke(tool, size, hardness)
        changed = self.stroke_to(x, y)
        self.end_stroke()
        return changed

    def _stamp(self, start: tuple[float, float], end: tuple[float, float], stroke: dict) -> Rect | None:
        height, width = self._alpha.shape
        radius = stroke["radius"]
        rect = Rect(
            int(np.floor(min(start[0], end[0]) - radius)), int(np.floor(min(start[1], end[1]) - radius)),
            int(np.ceil(max(start[0], end[0]) + radius)) + 1, int(np.ceil(max(start[1], end[1]) + radius)) + 1,
        ).clip(width, height)
        if rect.empty:
            return None
        xs = np.arange(rect.left, rect.right, dtype=np.float32)[None, :] + 0.5
        ys = np.arange(rect.top, rect.bottom, dtype=np.float32)[:, None] + 0.5
        weight = brush_profile(capsule_distance(xs, ys, start, end), radius, stroke["hardness"])
        level = np.rint(weight * 255.0).astype(np.uint8)
        self._snapshot_tiles(rect, stroke["tiles"])
        region = self._alpha[rect.slices]
        if stroke["tool"] == BRUSH:
            np.maximum(region, level, out=region)
        else:
            np.minimum(region, 255 - level, out=region)
        self._revision += 1
        return rect

    def _snapshot_tiles(self, rect: Rect, tiles: dict) -> None:
        for ty in range(rect.top // TILE, (rect.bottom - 1) // TILE + 1):
            for tx in range(rect.left // TILE, (rect.right - 1) // TILE + 1):
                if (ty, tx) not in tiles:
                    tiles[(ty, tx)] = self._alpha[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE].copy()

    # -- commands ------------------------------------------------------------------------
    def fill_holes(self, max_area: int | None = None) -> Rect | None:
        """Make car of background regions enclosed by car (not touching the border), those of
        at most ``max_area`` pixels when given. One undo step."""
        return self._apply_region(enclosed_background(self.mask, max_area), 255, "Fill Holes")

    def remove_islands(self, max_area: int) -> Rect | None:
        """Make background of car regions of at most ``max_area`` pixels. One undo step."""
        return self._apply_region(small_car_regions(self.mask, max_area), 0, "Remove Small Islands")

    def invert(self) -> Rect | None:
        """Swap car and background. One undo step."""
        return self.replace(255 - self._alpha, "Invert Mask")

    def replace(self, alpha: np.ndarray, label: str = "Replace Mask") -> Rect | None:
        """Set the whole mask (bool or uint8, same shape) as one undo step, e.g. a new prediction."""
        alpha = np.asarray(alpha)
        if alpha.shape != self._alpha.shape:
            raise ValueError(f"mask shape {alpha.shape} differs from the edited mask {self._alpha.shape}")
        if alpha.dtype == np.bool_:
            alpha = alpha.astype(np.uint8) * 255
        rows, cols = np.nonzero(alpha != self._alpha)
        if not len(rows):
            return None
        diff = _make_diff(label, rows, cols, self._alpha[rows, cols], alpha[rows, cols].astype(np.uint8))
        return self._commit(diff)

    def patch(self, rect: Rect, values: np.ndarray, label: str) -> Rect | None:
        """Set the pixels of ``rect`` to ``values`` (uint8, the rect's shape) as one undo step."""
        region = self._alpha[rect.slices]
        if region.shape != values.shape:
            raise ValueError(f"patch of shape {values.shape} for a rect of shape {region.shape}")
        rows, cols = np.nonzero(region != values)
        if not len(rows):
            return None
        after = values[rows, cols].astype(np.uint8)
        return self._commit(_make_diff(label, rows + rect.top, cols + rect.left, region[rows, cols], after))

    def _apply_region(self, where: np.ndarray, value: int, label: str) -> Rect | None:
        rows, cols = np.nonzero(where & (self._alpha != value))
        if not len(rows):
            return None
        after = np.full(len(rows), value, dtype=np.uint8)
        return self._commit(_make_diff(label, rows, cols, self._alpha[rows, cols], after))

    def _commit(self, diff: EditDiff) -> Rect:
        if self._stroke is not None:
            self.end_stroke()
        diff.apply(self._alpha)
        self._revision += 1
        self._push(diff)
        return diff.rect

    # -- history -------------------------------------------------------------------------
    def undo(self) -> Rect | None:
        """Revert the last edit; returns the rect that changed, None when there is none."""
        if self._stroke is not None:
            self.end_stroke()
        if not self._undo:
            return None
        diff = self._undo.pop()
        diff.apply(self._alpha, reverse=True)
        self._redo.append(diff)
        self._revision += 1
        return diff.rect

    def redo(self) -> Rect | None:
        if self._stroke is not None or not self._redo:
            return None
        diff = self._redo.pop()
        diff.apply(self._alpha)
        self._undo.append(diff)
        self._revision += 1
        return diff.rect

    def clear_history(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def _push(self, diff: EditDiff) -> EditDiff:
        self._undo.append(diff)
        self._redo.clear()
        total = sum(d.nbytes for d in self._undo)
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps or total > self.max_bytes):
            total -= self._undo.popleft().nbytes
        return diff


def _make_diff(label: str, rows: np.ndarray, cols: np.ndarray, before: np.ndarray, after: np.ndarray) -> EditDiff:
    rect = Rect(int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    index = ((rows - rect.top) * rect.width + (cols - rect.left)).astype(np.uint32)
    return EditDiff(label, rect, index, np.ascontiguousarray(before, np.uint8), np.ascontiguousarray(after, np.uint8))


def _label(tool: str) -> str:
    return "Brush Stroke" if tool == BRUSH else "Eraser Stroke"
