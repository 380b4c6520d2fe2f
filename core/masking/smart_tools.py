"""Edge-aware corrections: a smart brush / eraser that snaps to the photo's edges, a Refine Edge
stroke that re-draws the edge under it, a click that flips the wrongly masked region it falls
in, and re-masking inside a box (the tools that act on the whole mask at once, Car in Box and
Snap Outline, are ``core.masking.smart_whole``). Never imports Qt.

The labeller (``snap``, ``refine``): in a window around the edit, each pixel gets a score, the
log-odds of car, from colour histograms of car and background learnt from the mask's own pixels
nearby and the model's probability as a weak prior; the score is smoothed by a guided filter
whose guide is the photo (cost-volume filtering, an edge-aware stand-in for a graph cut that
costs a few box filters), the stroke's pull is added, and the sign decides. Only pixels inside
the tool's reach change, only in the tool's direction, and only where connected to the side
they join, so a sloppy stroke along a sill gives a clean sill and never a speck elsewhere.

A click (``region_values``) flips the connected part of the clicked side when it is small (a
window, a speck); on a large side it takes the larger of a colour fill from the click and the
connected part whose colours are more like the other side's, and snaps its rim.

Every tool returns ``(rect, values)``: the new uint8 alpha of a rectangle, which a
``MaskEditor`` applies as one undo step (``patch``) or as part of a stroke (``stroke_patch``).
Costs stay local: a stroke piece works in a window of a few brush widths (``SmartStroke``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from core.masking.mask_edit import BRUSH, ERASER, EditDiff, MaskEditor, Rect, capsule_distance

if TYPE_CHECKING:
    from core.masking.inference import Segmenter

BINS = 16  # colour histogram levels per channel
SCORE_CLIP = 4.0  # |log-odds| of one colour, at most
PRIOR_LIMIT = 0.5  # the model's log-odds count up to this much: the user corrects where it was wrong
INTENT_BIAS = 0.25  # log-odds toward the tool's side inside its reach
INTENT_WEIGHT = 0.25  # share of the target side's colour model taken from the pixels the user pointed at
OVERRIDE_AGREEMENT = 0.1  # below this share of target-coloured pixels in reach, the stroke overrides the colours
OVERRIDE_WEIGHT, OVERRIDE_BIAS = 0.5, 1.0
SMALL_REGION_SHARE = 0.05  # a click flips a whole connected region up to this share of the photo
CLASSIFY_SIDE = 384  # clicks tell the sides' colours apart at this size
PART_SHARE = 0.25  # a region grown from a click stays under this share of the photo and half its side
FILL_TOLERANCES = (3, 5, 8, 12, 18)  # colour steps (0..255 per channel) a click's region grows over
MIN_BOX = 8  # pixels a side of the smallest box worth re-masking
SNAP_RADIUS = 24  # a stroke of twice this radius or more is snapped on a halved copy of the photo
REFINE = "refine"  # a stroke that re-draws the edge under it, adding and removing
LABELS = {BRUSH: "Smart Brush Stroke", ERASER: "Smart Eraser Stroke", REFINE: "Refine Edge Stroke"}


class EdgeGuide:
    """What the tools see of a photo: ``rgb`` (H, W, 3) uint8 and the model's car
    ``probability`` (H, W) uint8 0..255, or None (restored corrections carry none)."""

    def __init__(self, rgb: np.ndarray, probability: np.ndarray | None = None) -> None:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb.shape} {rgb.dtype}")
        if probability is not None and probability.shape != rgb.shape[:2]:
            raise ValueError(f"probability {probability.shape} does not match the photo {rgb.shape[:2]}")
        self.rgb = rgb
        self.probability = probability
        self._smooth: np.ndarray | None = None
        self._index: np.ndarray | None = None
        self._prior: np.ndarray | None = None
        self._small: EdgeGuide | None = None
        self._levels: dict[int, EdgeGuide] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.rgb.shape[0], self.rgb.shape[1]

    @property
    def smooth(self) -> np.ndarray:
        """The photo slightly blurred (JPEG noise off), made on first use: what clicks grow over."""
        if self._smooth is None:
            self._smooth = cv2.GaussianBlur(self.rgb, (0, 0), 1.0)
        return self._smooth

    @property
    def index(self) -> np.ndarray:
        """(H, W) uint16: each pixel's colour histogram bin, made on first use."""
        if self._index is None:
            quantised = self.rgb >> (8 - int(math.log2(BINS)))
            self._index = ((quantised[..., 0].astype(np.uint16) * BINS + quantised[..., 1]) * BINS
                           + quantised[..., 2]).astype(np.uint16)
        return self._index

    @property
    def small(self) -> EdgeGuide:
        """The photo at most ``CLASSIFY_SIDE`` pixels a side (itself when smaller), made on first use."""
        if self._small is None:
            height, width = self.shape
            scale = min(1.0, CLASSIFY_SIDE / max(height, width))
            if scale == 1.0:
                self._small = self
            else:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                self._small = EdgeGuide(cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA))
        return self._small

    def level(self, level: int) -> EdgeGuide:
        """The photo (and probability) at 1 / 2**level of its size, made on first use."""
        if level <= 0:
            return self
        if level not in self._levels:
            height, width = self.shape
            size = (max(1, width >> level), max(1, height >> level))
            probability = None if self.probability is None else cv2.resize(self.probability, size, interpolation=cv2.INTER_AREA)
            self._levels[level] = EdgeGuide(cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA), probability)
        return self._levels[level]

    @property
    def prior(self) -> np.ndarray | None:
        """(H, W) float32: the model's log-odds of car, clipped to ``PRIOR_LIMIT``; None without."""
        if self._prior is None and self.probability is not None:
            p = np.clip(self.probability.astype(np.float32) / 255.0, 0.02, 0.98)
            self._prior = np.clip(0.5 * np.log(p / (1 - p)), -PRIOR_LIMIT, PRIOR_LIMIT).astype(np.float32)
        return self._prior


# -- the labeller ----------------------------------------------------------------------------
def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter, one-channel ``guide`` (float32, about 0..1): ``source``
    smoothed, except across the guide's edges."""
    a, b = guided_coefficients(guide, source, radius, eps)
    return a * guide + b


def guided_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's mean linear model (a, b): ``a * guide + b`` is ``guided_filter``'s output,
    and a and b, being smooth, may be scaled up to filter a larger copy of the guide."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(guide), box(source)
    a = (box(guide * source) - mean_i * mean_p) / (box(guide * guide) - mean_i * mean_i + eps)
    return box(a), box(mean_p - a * mean_i)


def _principal_guide(rgb: np.ndarray) -> np.ndarray:
    """The colours projected on their direction of largest spread, scaled to about 0..1: one
    channel that separates car and background when luminance alone would not."""
    pixels = rgb.reshape(-1, 3)
    sample = pixels[:: max(1, len(pixels) // 4096)].astype(np.float32)
    mean = sample.mean(axis=0)
    centred = sample - mean
    _, vectors = np.linalg.eigh(centred.T @ centred / max(1, len(centred) - 1) + np.eye(3, dtype=np.float32) * 1e-3)
    direction = vectors[:, -1].astype(np.float32)
    projected = cv2.transform(rgb.astype(np.float32), direction[None, :]).reshape(rgb.shape[:2]) - float(mean @ direction)
    spread = float(projected.max() - projected.min())
    return projected / spread if spread > 1e-3 else np.zeros(rgb.shape[:2], np.float32)


def _density(index: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The colour distribution (BINS**3,) of the pixels ``where``, smoothed over neighbouring bins,
    5 % uniform so that no colour is impossible."""
    hist = np.zeros((BINS + 2,) * 3, np.float32)
    hist[1:-1, 1:-1, 1:-1] = np.bincount(index[where], minlength=BINS**3).reshape(BINS, BINS, BINS)
    hist = hist[:-2] + hist[1:-1] + hist[2:]  # a 3-tap box along each axis
    hist = hist[:, :-2] + hist[:, 1:-1] + hist[:, 2:]
    hist = hist[:, :, :-2] + hist[:, :, 1:-1] + hist[:, :, 2:]
    total = max(float(hist.sum()), 1e-12)
    return 0.95 * hist.ravel() / total + 0.05 / BINS**3


def _log_odds(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """log(first / second) of two densities, clipped to ``SCORE_CLIP``: a lookup table by bin."""
    return np.clip(np.log(first / second), -SCORE_CLIP, SCORE_CLIP).astype(np.float32)


def car_score(guide: EdgeGuide, rect: Rect, log_odds: np.ndarray, *, smoothing: int = 3) -> np.ndarray:
    """Edge-smoothed log-odds of car for the pixels of ``rect`` (float32, the rect's shape):
    ``log_odds`` (the colours' and the tool's) plus the model's prior, smoothed by a guided
    filter with the photo as the guide."""
    prior = guide.prior
    score = log_odds if prior is None else log_odds + prior[rect.slices]
    return guided_filter(_principal_guide(guide.rgb[rect.slices]), score.astype(np.float32), smoothing, 1e-3)


def snap(guide: EdgeGuide, alpha: np.ndarray, rect: Rect, reach: np.ndarray, *, add: bool,
         intent: np.ndarray | None = None, smoothing: int = 3, override: bool | None = None) -> np.ndarray:
    """The new alpha of ``rect`` (uint8, 0/255 where changed) after snapping inside ``reach``.

    ``reach`` (bool, the rect's shape) is where pixels may change; ``add`` makes car of those
    that score as car (else background of those that score as background); ``intent`` (bool)
    marks pixels the user pointed at as the target side, used as samples and kept connected.
    ``override`` (default: ``overrides_colours`` decides) trusts the user over the colours.
    Added pixels must connect (8-neighbours) to the car or to ``intent``, removed ones to the
    background or to ``intent``.
    """
    values = alpha[rect.slices].copy()
    car = values >= 128
    intent = np.zeros_like(reach) if intent is None else intent
    target = car if add else ~car
    other = ~target & ~reach & ~intent
    if not other.any():  # nothing on the other side to tell apart: the plain tool
        change = reach & ~target
    else:
        # the target side's colours: those of the side nearby, and some of those the user pointed
        # at; more of those, and a stronger pull, when nothing in reach has the target side's
        # colours (a dark underside over a dark shadow): then only the user knows
        index = guide.index[rect.slices]
        side_density, other_density = _density(index, target & ~reach), _density(index, other)
        if override is None:
            override = _disagree(_log_odds(side_density, other_density), index, reach & ~target)
        weight, pull = (OVERRIDE_WEIGHT, OVERRIDE_BIAS) if override and intent.any() else (INTENT_WEIGHT, INTENT_BIAS)
        if intent.any():
            side_density = (1 - weight) * side_density + weight * _density(index, intent)
        target_odds = _log_odds(side_density, other_density)[index]
        # the pull is added after the smoothing: in a flat area the stroke paints its whole reach
        score = car_score(guide, rect, target_odds if add else -target_odds, smoothing=smoothing)
        change = reach & ~target & ((score > -pull) if add else (score < pull))
    change &= connected_to(target | change, target | intent)
    values[change] = 255 if add else 0
    return values


def refine(guide: EdgeGuide, alpha: np.ndarray, rect: Rect, reach: np.ndarray, *, smoothing: int = 3) -> np.ndarray:
    """The new alpha of ``rect`` after re-drawing the edge inside ``reach`` from the photo: each
    pixel there takes the side that its colours (learnt from both sides outside the reach) and
    the model's prior say, in both directions; a changed pixel stays connected to its new side."""
    values = alpha[rect.slices].copy()
    car = values >= 128
    car_out, background_out = car & ~reach, ~car & ~reach
    if not car_out.any() or not background_out.any():
        return values
    index = guide.index[rect.slices]
    score = car_score(guide, rect, _log_odds(_density(index, car_out), _density(index, background_out))[index],
                      smoothing=smoothing)
    added, removed = reach & ~car & (score > 0), reach & car & (score < 0)
    values[added & connected_to(car | added, car)] = 255
    values[removed & connected_to(~car | removed, ~car)] = 0
    return values


def _disagree(lookup: np.ndarray, index: np.ndarray, where: np.ndarray) -> bool:
    """True when hardly any pixel ``where`` has the target side's colours (``lookup``: log-odds
    of the target side by bin): then the user's stroke, not the colours, says what is car."""
    return not where.any() or float(np.mean(lookup[index[where]] > 0)) < OVERRIDE_AGREEMENT


def overrides_colours(guide: EdgeGuide, alpha: np.ndarray, rect: Rect, reach: np.ndarray, *, add: bool) -> bool:
    """Whether a stroke covering ``reach`` in ``rect`` of ``alpha`` should trust the user over
    the colours (see ``snap``)."""
    target = (alpha[rect.slices] >= 128) == add
    other = ~target & ~reach
    if not other.any() or not (target & ~reach).any():
        return bool(other.any())
    index = guide.index[rect.slices]
    return _disagree(_log_odds(_density(index, target & ~reach), _density(index, other)), index, reach & ~target)


def grabcut_foreground(rgb: np.ndarray, seeds: np.ndarray, side: int, iterations: int) -> np.ndarray | None:
    """GrabCut of ``rgb`` seeded by ``seeds`` (a ``cv2.GC_*`` label per pixel), worked out on copies
    at most ``side`` pixels a side: the share of foreground per pixel (float32, 0..1) at the seeds'
    size. Seeds that hold no background there give their own foreground (nothing to learn the
    background from); seeds that hold no foreground give None (nothing to cut)."""
    height, width = seeds.shape
    scale = min(1.0, side / max(height, width))
    cut = seeds
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        cut = cv2.resize(seeds, size, interpolation=cv2.INTER_NEAREST)
    foreground = (cv2.GC_FGD, cv2.GC_PR_FGD)
    if not np.isin(cut, foreground).any():
        return None
    if not np.isin(cut, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        return np.isin(seeds, foreground).astype(np.float32)
    cut = np.ascontiguousarray(cut)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(rgb), cut, None, *models, iterations, cv2.GC_INIT_WITH_MASK)
    found = np.isin(cut, foreground).astype(np.float32)
    return found if scale == 1.0 else cv2.resize(found, (width, height), interpolation=cv2.INTER_LINEAR)


def connected_to(region: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` in an 8-connected component that holds an ``anchors`` pixel."""
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[anchors & region])] = True
    keep[0] = False
    return keep[labels]


# -- the smart brush -------------------------------------------------------------------------
def stroke_values(guide: EdgeGuide, alpha: np.ndarray, points: list[tuple[float, float]], radius: float,
                  *, add: bool | None, before: np.ndarray | None = None) -> tuple[Rect, np.ndarray] | None:
    """A smart stroke (polyline ``points``, brush ``radius``) at once: (rect, new alpha).

    ``add`` None re-draws the edge in both directions (``refine``). Whether the user overrides
    the colours (see ``snap``) is decided on ``before``, the alpha before the stroke began
    (default: ``alpha``): a stroke's own changes do not count. A ``radius`` of twice
    ``SNAP_RADIUS`` or more is snapped on a copy of the photo halved until it is under that
    (``_coarse_stroke``): its cost stays that of a small brush, its edge is as fine as that copy."""
    level = max(0, int(math.floor(math.log2(max(radius, 1.0) / SNAP_RADIUS))))
    if level:
        return _coarse_stroke(guide, alpha, points, radius, level, add=add, before=before)
    return _stroke_window(guide, alpha, points, radius, add=add, before=before)


def _stroke_window(guide: EdgeGuide, alpha: np.ndarray, points: list[tuple[float, float]], radius: float,
                   *, add: bool | None, before: np.ndarray | None) -> tuple[Rect, np.ndarray] | None:
    height, width = alpha.shape
    reach_px = radius + _margin(radius)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    rect = Rect(int(min(xs) - reach_px), int(min(ys) - reach_px), int(max(xs) + reach_px) + 2,
                int(max(ys) + reach_px) + 2).clip(width, height)
    if rect.empty:
        return None
    cols = np.arange(rect.left, rect.right, dtype=np.float32)[None, :] + 0.5
    rows = np.arange(rect.top, rect.bottom, dtype=np.float32)[:, None] + 0.5
    distance = np.full((rect.height, rect.width), np.inf, np.float32)
    for start, end in zip(points, points[1:] or points):
        np.minimum(distance, capsule_distance(cols, rows, start, end), out=distance)
    reach = distance <= radius
    intent = distance <= max(0.75, 0.2 * radius)
    if add is None:
        return rect, refine(guide, alpha, rect, reach, smoothing=_smoothing(radius))
    override = overrides_colours(guide, alpha if before is None else before, rect, reach, add=add)
    return rect, snap(guide, alpha, rect, reach, add=add, intent=intent, smoothing=_smoothing(radius), override=override)


def _coarse_stroke(guide: EdgeGuide, alpha: np.ndarray, points: list[tuple[float, float]], radius: float,
                   level: int, *, add: bool | None, before: np.ndarray | None) -> tuple[Rect, np.ndarray] | None:
    """``stroke_values`` worked out on ``guide.level(level)``: the window of the mask is scaled
    down, snapped there, and what changed is scaled back up, inside the stroke's full-size reach."""
    height, width = alpha.shape
    scale = 1 << level
    reach_px = radius + (_margin(radius / scale) + 3) * scale  # holds the small stroke's own window
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    # the window in whole cells of the small copy, so that both sizes cover the same pixels
    rect = Rect(int(min(xs) - reach_px) // scale * scale, int(min(ys) - reach_px) // scale * scale,
                -(-int(max(xs) + reach_px + 2) // scale) * scale,
                -(-int(max(ys) + reach_px + 2) // scale) * scale).clip(width >> level << level, height >> level << level)
    if rect.empty:
        return None
    small_guide = guide.level(level)
    small_rect = Rect(rect.left // scale, rect.top // scale, rect.right // scale, rect.bottom // scale)
    size = (small_rect.width, small_rect.height)

    def shrink(mask: np.ndarray) -> np.ndarray:
        canvas = np.zeros(small_guide.shape, np.uint8)  # only the window is read
        canvas[small_rect.slices] = cv2.resize(mask[rect.slices], size, interpolation=cv2.INTER_AREA)
        return canvas

    small_alpha = shrink(alpha)
    small_points = [((x + 0.5) / scale - 0.5, (y + 0.5) / scale - 0.5) for x, y in points]
    found = _stroke_window(small_guide, small_alpha, small_points, radius / scale, add=add,
                           before=None if before is None else shrink(before))
    if found is None:
        return None
    small_found, small_values = found
    small_alpha[small_found.slices] = small_values
    car_after = cv2.resize(small_alpha[small_rect.slices].astype(np.float32), (rect.width, rect.height),
                           interpolation=cv2.INTER_LINEAR) >= 128
    reach = np.zeros((rect.height, rect.width), np.uint8)
    for start, end in zip(points, points[1:] or points):
        cv2.line(reach, (round(start[0] - rect.left), round(start[1] - rect.top)),
                 (round(end[0] - rect.left), round(end[1] - rect.top)), 1, max(1, round(2 * radius)))
    values = alpha[rect.slices].copy()
    car, reach = values >= 128, reach > 0
    if add is not False:
        values[reach & car_after & ~car] = 255
    if add is not True:
        values[reach & ~car_after & car] = 0
    return rect, values


def _margin(radius: float) -> int:
    """How far around the reach the labeller looks for samples."""
    return int(min(max(8.0, radius), 48.0))


def _smoothing(radius: float) -> int:
    return int(min(8, max(2, round(radius / 4))))


class SmartStroke:
    """An edge-snapping brush (adds car), eraser or ``REFINE`` stroke on ``editor``: each ``to(x, y)`` snaps
    the newly covered piece at once (the live preview), ``end()`` makes the stroke one undo step.

    Pieces are snapped every ``radius / 2`` of pointer travel, so a pointer event costs a window
    of a few brush widths whatever the stroke's length.
    """

    def __init__(self, editor: MaskEditor, guide: EdgeGuide, tool: str, size: float) -> None:
        if guide.shape != editor.shape:
            raise ValueError(f"photo {guide.shape} and mask {editor.shape} differ in size")
        self.editor, self.guide = editor, guide
        self.add = None if tool == REFINE else tool == BRUSH
        self.radius = max(0.5, float(size) / 2.0)
        self._snapped: tuple[float, float] | None = None
        self._pending: tuple[float, float] | None = None
        self._before = editor.alpha.copy()  # what the stroke found (its own changes do not count)
        editor.begin_stroke(BRUSH if tool == REFINE else tool, size, label=LABELS[tool])

    def to(self, x: float, y: float) -> Rect | None:
        """Extend the stroke to (x, y); returns the rect that changed."""
        point = (float(x), float(y))
        if self._snapped is None:
            self._snapped = point
            return self._piece([point])
        self._pending = point
        if math.dist(self._snapped, point) < max(1.0, self.radius / 2):
            return None
        return self.flush()

    def end(self) -> EditDiff | None:
        """Snap what is left and commit the stroke (None when it changed nothing)."""
        self.flush()
        return self.editor.end_stroke()

    def abort(self) -> Rect | None:
        return self.editor.abort_stroke()

    def flush(self) -> Rect | None:
        """Snap the piece since the last snapped point now; returns the rect that changed."""
        if self._pending is None or self._snapped is None:
            return None
        points, self._snapped, self._pending = [self._snapped, self._pending], self._pending, None
        return self._piece(points)

    def _piece(self, points: list[tuple[float, float]]) -> Rect | None:
        found = stroke_values(self.guide, self.editor.alpha, points, self.radius, add=self.add, before=self._before)
        if found is None:
            return None
        rect, values = found
        return self.editor.stroke_patch(*changed_part(rect, values, self.editor.alpha))


def changed_part(rect: Rect, values: np.ndarray, alpha: np.ndarray) -> tuple[Rect, np.ndarray]:
    """``(rect, values)`` cut down to the bounding box of the pixels that differ from ``alpha``
    (an empty rect when none do): what a repaint needs."""
    inner = Rect.bounding(values != alpha[rect.slices])
    if inner is None:
        return Rect(rect.left, rect.top, rect.left, rect.top), values[:0, :0]
    return (Rect(rect.left + inner.left, rect.top + inner.top, rect.left + inner.right, rect.top + inner.bottom),
            values[inner.slices])


def smart_stroke(editor: MaskEditor, guide: EdgeGuide, tool: str, size: float,
                 points: list[tuple[float, float]]) -> EditDiff | None:
    """A whole smart stroke through ``points`` as the app would draw it: one undo step."""
    return draw_through(SmartStroke(editor, guide, tool, size), points)


class Stroke(Protocol):
    """A stroke begun on an editor: the pointer moves it (``to``), the release commits it (``end``)."""

    def to(self, x: float, y: float) -> Rect | None: ...

    def end(self) -> EditDiff | None: ...


def draw_through(stroke: Stroke, points: list[tuple[float, float]]) -> EditDiff | None:
    """Move a begun stroke (``SmartStroke``, ``smart_cut.CutStroke``) through ``points`` and
    commit it, as the pointer would: one undo step, None when nothing changed."""
    for x, y in points:
        stroke.to(x, y)
    return stroke.end()


# -- click to flip a region ------------------------------------------------------------------
def region_values(guide: EdgeGuide, alpha: np.ndarray, x: float, y: float) -> tuple[Rect, np.ndarray] | None:
    """Flip the region a click at (x, y) falls in: (rect, new alpha), None outside the photo.

    The region is on the clicked side of the mask (car: it becomes background; background: it
    becomes car) and connected to the click: the whole connected part of that side when it is
    small (a hole such as a window, a speck) or apart from the side's main part (a patch of
    background masked apart from the car), else the pixels of the photo's colour around the
    click (grown step by step while it stays a part, not the whole side), snapped to the edges.
    """
    height, width = alpha.shape
    col, row = int(x), int(y)
    if not (0 <= col < width and 0 <= row < height):
        return None
    side = alpha >= 128
    clicked = bool(side[row, col])
    same = (side == clicked).astype(np.uint8)
    small = SMALL_REGION_SHARE * height * width
    area, rect, part = _flood(same, None, (col, row), 0)
    if area <= small or _apart(same, area):  # a speck, a hole, a part apart from the main one
        values = alpha[rect.slices].copy()
        values[part] = 0 if clicked else 255
        return rect, values
    limit = min(PART_SHARE * height * width, area / 2)
    rect, part = _colour_part(guide, same, (col, row), limit)
    classified = _classified_part(guide, same, (col, row), limit)
    if classified is not None and classified[1].sum() > part.sum():
        rect, part = classified
    pad = _margin(4)  # snap the grown part's rim to the photo's edges
    grown = Rect(rect.left - pad, rect.top - pad, rect.right + pad, rect.bottom + pad).clip(width, height)
    inner = np.zeros((grown.height, grown.width), np.uint8)
    inner[rect.top - grown.top : rect.bottom - grown.top, rect.left - grown.left : rect.right - grown.left] = part
    reach = (cv2.dilate(inner, np.ones((5, 5), np.uint8)) > 0) & (same[grown.slices] > 0)
    intent = cv2.erode(inner, np.ones((3, 3), np.uint8)) > 0
    return grown, snap(guide, alpha, grown, reach, add=not clicked, intent=intent, smoothing=2)


def _apart(same: np.ndarray, area: int) -> bool:
    """Whether a connected part of ``area`` pixels of the side ``same`` is not its largest part."""
    if 2 * area > np.count_nonzero(same):
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(same, connectivity=4)
    return bool(stats[1:, cv2.CC_STAT_AREA].max() > area)


def _flood(image: np.ndarray, blocked: np.ndarray | None, seed: tuple[int, int],
           tolerance: int) -> tuple[int, Rect, np.ndarray]:
    """(area, bounding rect, bool pixels in it) of the 4-connected fill of ``image`` from
    ``seed``, steps of at most ``tolerance`` between neighbours, not entering ``blocked``."""
    height, width = image.shape[:2]
    mask = np.zeros((height + 2, width + 2), np.uint8)
    if blocked is not None:
        mask[1:-1, 1:-1] = blocked
    tol = (tolerance,) * 3
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    area, _, _, (left, top, w, h) = cv2.floodFill(image, mask, seed, 0, tol, tol, flags)
    rect = Rect(left, top, left + w, top + h)
    return area, rect, mask[top + 1 : top + h + 1, left + 1 : left + w + 1] == 2


def _colour_part(guide: EdgeGuide, same: np.ndarray, seed: tuple[int, int], limit: float) -> tuple[Rect, np.ndarray]:
    """(rect, bool pixels) of the largest colour fill from ``seed`` inside ``same`` that stays
    under ``limit`` pixels and does not leak (a step that more than quadruples the area)."""
    blocked = 1 - same
    best = None
    for tolerance in FILL_TOLERANCES:
        area, rect, part = _flood(guide.smooth, blocked, seed, tolerance)
        if area > limit or (best is not None and area > 4 * best[0] + 64):
            break
        best = (area, rect, part)
    if best is None:  # even the finest fill is not a part: a small disc around the click
        height, width = same.shape
        rect = Rect(seed[0] - 6, seed[1] - 6, seed[0] + 7, seed[1] + 7).clip(width, height)
        part = np.zeros((rect.height, rect.width), np.uint8)
        cv2.circle(part, (seed[0] - rect.left, seed[1] - rect.top), 6, 1, -1)
        return rect, (part > 0) & (same[rect.slices] > 0)
    return best[1], best[2]


def _classified_part(guide: EdgeGuide, same: np.ndarray, seed: tuple[int, int],
                     limit: float) -> tuple[Rect, np.ndarray] | None:
    """(rect, bool pixels) of the connected part around ``seed`` of the clicked side whose
    colours are more like the other side's than its own (a textured floor patch taken for car),
    worked out at most ``CLASSIFY_SIDE`` pixels a side; None when the click's own pixel is not
    such, or the part is over ``limit`` pixels."""
    height, width = same.shape
    small_guide = guide.small
    scale = small_guide.shape[1] / width
    rgb, index, size = small_guide.rgb, small_guide.index, small_guide.shape[::-1]
    side = cv2.resize(same, size, interpolation=cv2.INTER_NEAREST) > 0
    if side.all():
        return None
    other_like = _log_odds(_density(index, ~side), _density(index, side))[index]
    other_like = guided_filter(_principal_guide(rgb), other_like, 2, 1e-3)
    x, y = min(size[0] - 1, int(seed[0] * scale)), min(size[1] - 1, int(seed[1] * scale))
    candidates = (side & (other_like > 0)).astype(np.uint8)
    if not candidates[y, x]:
        return None
    area, small_rect, small = _flood(candidates, None, (x, y), 0)
    if area / (scale * scale) > limit:
        return None
    padded = Rect(small_rect.left - 1, small_rect.top - 1, small_rect.right + 1, small_rect.bottom + 1).clip(*size)
    part = np.zeros((padded.height, padded.width), np.uint8)
    part[small_rect.top - padded.top : small_rect.bottom - padded.top,
         small_rect.left - padded.left : small_rect.right - padded.left] = small
    rect = Rect(math.floor(padded.left / scale), math.floor(padded.top / scale),
                math.ceil(padded.right / scale), math.ceil(padded.bottom / scale)).clip(width, height)
    full = cv2.resize(part, (rect.width, rect.height), interpolation=cv2.INTER_LINEAR) > 0
    return rect, full & (same[rect.slices] > 0)


# -- re-mask inside a box --------------------------------------------------------------------
def box_values(segmenter: Segmenter, rgb: np.ndarray, rect: Rect, photo_alpha: np.ndarray | None = None,
               *, context: float = 0.1) -> tuple[Rect, np.ndarray]:
    """Re-mask inside ``rect`` with the model at its full working size: (rect, new alpha).

    The model sees the box widened by ``context`` of its size on each side (a little of the
    surroundings; the box is the close-up, so ``Segmenter.close_up`` is not used, nor
    ``Segmenter.frame_edge``, measured on whole photos only), and only the box's pixels are
    replaced. ``photo_alpha`` (the photo's own transparency) limits the mask as in
    ``Segmenter.predict``. A box under ``MIN_BOX`` pixels a
    side raises ValueError.
    """
    height, width = rgb.shape[:2]
    rect = rect.clip(width, height)
    if rect.width < MIN_BOX or rect.height < MIN_BOX:
        raise ValueError(f"the box is too small to re-mask: draw one at least {MIN_BOX} pixels a side")
    pad_x, pad_y = int(context * rect.width), int(context * rect.height)
    crop = Rect(rect.left - pad_x, rect.top - pad_y, rect.right + pad_x, rect.bottom + pad_y).clip(width, height)
    limit = None if photo_alpha is None else photo_alpha[crop.slices]
    prediction = segmenter.predict(np.ascontiguousarray(rgb[crop.slices]), limit, close_up=False,
                                   frame_edge=False)
    inside = (slice(rect.top - crop.top, rect.bottom - crop.top), slice(rect.left - crop.left, rect.right - crop.left))
    return rect, prediction.mask[inside].astype(np.uint8) * 255
