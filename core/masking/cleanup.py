"""Remove the specks a user would otherwise paint away: tiny car islands in the background
and tiny background pinholes in the car, on the working-size probabilities.

Measured on the 864 held-out photos with the stage-3 default model (`maskingnet eval
--held-out`): clearing regions under 1.2e-4 of the working area (31 pixels at 512x512) takes
the speckles from 28 to 11 and the holes from 123 to 50, and the mean Dice from 0.99486 to
0.99485. (With 6e-5, the earlier share: 28 speckles, 123 holes.) The share was chosen from the
sizes of the validation speckles, 16 to 30 pixels for most. Real gaps (between spokes, under a
pickup) are larger.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

STRAY_SHARE = 1.2e-4  # regions smaller than this share of the working area are strays


def enclosed_background(car: np.ndarray, max_area: float | None = None) -> np.ndarray:
    """Background regions (4-connected) of a boolean car mask that do not touch the border,
    those of at most ``max_area`` pixels when given: (H, W) bool."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~car).astype(np.uint8), connectivity=4)
    chosen = np.ones(count, dtype=bool)
    chosen[0] = False  # label 0: the car itself
    chosen[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = False
    if max_area is not None:
        chosen &= stats[:, cv2.CC_STAT_AREA] <= max_area
    return chosen[labels]


def small_car_regions(car: np.ndarray, max_area: float, *, keep_largest: bool = False) -> np.ndarray:
    """Car regions (8-connected) of at most ``max_area`` pixels, all but the largest one when
    ``keep_largest``: (H, W) bool."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(car.astype(np.uint8), connectivity=8)
    chosen = stats[:, cv2.CC_STAT_AREA] <= max_area
    chosen[0] = False  # label 0: the background
    if keep_largest and count > 1:
        chosen[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])] = False
    return chosen[labels]


def remove_strays(probability: np.ndarray, share: float = STRAY_SHARE) -> np.ndarray:
    """(S, S) float car probabilities -> the same with small islands and pinholes flipped.

    A car region (8-connected, p >= 0.5) smaller than ``share`` of the area is cleared unless it
    is the largest one; a background region (4-connected) smaller than that which does not
    touch the border is filled. The input is not changed; it is returned as is if clean.
    """
    max_area = math.ceil(share * probability.shape[0] * probability.shape[1]) - 1  # "smaller than" in pixels
    car = probability >= 0.5
    islands = small_car_regions(car, max_area, keep_largest=True)
    holes = enclosed_background(car, max_area)
    if not islands.any() and not holes.any():
        return probability
    result = probability.copy()
    result[islands] = 0.0
    result[holes] = 1.0
    return result
