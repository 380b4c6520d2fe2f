"""Corrections of the whole mask at once, on the smart tools' ``EdgeGuide``: Car in Box (outside a
box around the car everything is background; inside, a GrabCut seeded by the mask cuts the car
from what the model took with it) and Snap Outline (the whole outline moves onto the photo's edges
nearby). Each returns ``(rect, values)`` for one ``MaskEditor.patch``. Never imports Qt.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.masking.cleanup import outline_band
from core.masking.mask_edit import Rect
from core.masking.smart_tools import MIN_BOX, EdgeGuide, connected_to, grabcut_foreground, guided_coefficients, guided_filter

EDGE_SNAP_SHARE, EDGE_SNAP_EPS = 1 / 128, 1e-3  # Snap Outline' filter radius (share of the longer side), its edge term
EDGE_SNAP_PASSES = 2  # Snap Outline filters this many times: an edge a few pixels off comes all the way
EDGE_SNAP_SIDE = 640  # Snap Outline filters a halved copy of a photo over this many pixels a side
GRABCUT_SIDE = 320  # Car in Box's GrabCut works at most this many pixels a side
GRABCUT_RING = 0.05  # share of the box's longer side around it that GrabCut learns the background from
SURE_CAR = 250  # the model's probability (0..255) above which Car in Box keeps a car pixel for sure


def car_in_box_values(guide: EdgeGuide, alpha: np.ndarray, rect: Rect, *, iterations: int = 2) -> tuple[Rect, np.ndarray]:
    """The car is inside ``rect``: (rect of the change, new alpha). Outside the box everything
    becomes background; inside, a GrabCut seeded by the mask (probable car / background), the
    model's confident car (sure car) and a ring of photo around the box (sure background) decides.

    GrabCut works at most ``GRABCUT_SIDE`` pixels a side; only the parts where it differs from the
    mask by more than that scale's resampling error change, so the mask's own edges stay where it
    agrees. A box under ``MIN_BOX`` pixels a side raises ValueError.
    """
    height, width = alpha.shape
    box = rect.clip(width, height)
    if box.width < MIN_BOX or box.height < MIN_BOX:
        raise ValueError(f"the box is too small: draw one at least {MIN_BOX} pixels a side around the car")
    car = alpha >= 128
    ring = max(4, int(GRABCUT_RING * max(box.width, box.height)))
    work = Rect(box.left - ring, box.top - ring, box.right + ring, box.bottom + ring).clip(width, height)
    scale = min(1.0, GRABCUT_SIDE / max(work.width, work.height))
    seeds = np.where(car[work.slices], cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if guide.probability is not None:
        sure = car[work.slices] & (guide.probability[work.slices] >= SURE_CAR)
        seeds[cv2.erode(sure.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = cv2.GC_FGD
    inside = np.zeros((work.height, work.width), bool)
    inside[box.top - work.top : box.bottom - work.top, box.left - work.left : box.right - work.left] = True
    seeds[~inside] = cv2.GC_BGD
    # no car seed in the box: no car; no background seed: the mask's car inside the box stays
    found = grabcut_foreground(guide.rgb[work.slices], seeds, GRABCUT_SIDE, iterations)
    found = np.zeros((work.height, work.width), bool) if found is None else (found >= 0.5) & inside
    old = car[work.slices]
    # only parts of the difference wider than the resampling error change (edges stay the mask's)
    step = 2 * math.ceil(1 / scale) + 1
    differ = (found != old).astype(np.uint8)
    kept = cv2.morphologyEx(differ, cv2.MORPH_OPEN, np.ones((step, step), np.uint8)) > 0
    change = connected_to(differ > 0, kept)
    values = np.zeros_like(alpha)  # outside the box: background
    values[box.slices] = alpha[box.slices]
    window = values[work.slices]
    window[change & found] = 255
    window[change & ~found] = 0
    return Rect(0, 0, width, height), values


def snap_edges_values(guide: EdgeGuide, alpha: np.ndarray, *, radius: int | None = None) -> tuple[Rect, np.ndarray]:
    """The whole outline of the mask snapped to the photo's edges at once: (rect, new alpha).

    The mask is smoothed by a guided filter whose guide is the photo (``radius``, default
    ``EDGE_SNAP_SHARE`` of the photo's longer side) and thresholded at a half, ``EDGE_SNAP_PASSES``
    times: an edge that runs beside the photo's edge moves onto it, ragged rims smooth out along
    the photo's lines. Only pixels within ``radius`` of the mask's outline change. A photo over
    ``EDGE_SNAP_SIDE`` pixels a side is filtered on a halved copy, and the last pass's linear
    model (He's fast guided filter) is applied to the full-size photo: the edges stay full-size.
    """
    height, width = alpha.shape
    radius = radius or max(2, round(EDGE_SNAP_SHARE * max(height, width)))
    level = max(0, math.ceil(math.log2(max(height, width) / EDGE_SNAP_SIDE)))
    small = guide.level(level)
    small_radius = max(1, round(radius / (1 << level)))
    car = alpha >= 128
    gray = cv2.cvtColor(small.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    size = (gray.shape[1], gray.shape[0])
    mask = car.astype(np.float32) if not level else cv2.resize(car.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    for _ in range(EDGE_SNAP_PASSES - 1):
        mask = (guided_filter(gray, mask, small_radius, EDGE_SNAP_EPS) >= 0.5).astype(np.float32)
    a, b = guided_coefficients(gray, mask, small_radius, EDGE_SNAP_EPS)
    # the band within ``radius`` of the outline, and the rect that holds it
    band = outline_band(car, radius)
    rect = Rect.bounding(band)
    if rect is None:
        return Rect(0, 0, 0, 0), alpha[:0, :0].copy()
    if level:
        a, b = (cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR)[rect.slices] for c in (a, b))
        full_gray = cv2.cvtColor(guide.rgb[rect.slices], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    else:
        a, b, full_gray = a[rect.slices], b[rect.slices], gray[rect.slices]
    snapped = a * full_gray + b >= 0.5
    values = alpha[rect.slices].copy()
    inside, near = car[rect.slices], band[rect.slices]
    values[near & snapped & ~inside] = 255
    values[near & ~snapped & inside] = 0
    return rect, values
