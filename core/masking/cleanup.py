"""Remove what a user would otherwise paint away, on the working-size probabilities: tiny car
islands in the background, tiny background pinholes in the car, and car regions standing apart
from the main car (another car on the lot, a piece of background taken for car).

Measured on the 864 held-out photos with the stage-3 default model (`maskingnet eval
--held-out`): clearing regions under 1.2e-4 of the working area (31 pixels at 512x512) takes
the speckles from 28 to 11 and the holes from 123 to 50, and the mean Dice from 0.99486 to
0.99485. (With 6e-5, the earlier share: 28 speckles, 123 holes.) The share was chosen from the
sizes of the validation speckles, 16 to 30 pixels for most. Real gaps (between spokes, under a
pickup) are larger.

Keeping the main car, measured with the stage-8 default on the 94 labelled car-parts test photos
and the 210 held-out stanford-cars photos (trusted-pixel Dice against the teacher labels; the
same working-size maps scored with and without it): 0.9209 -> 0.9246 and 0.9749 -> 0.9753; of
the hand-labelled car-part pixels 0.9793 kept both ways, mirrors 0.8576 -> 0.8575. Keeping only
the largest region gave 0.9258, but dropped mirrors that a thin gap cuts off (0.8569) and pieces
of a car the model had split (a snow-covered hood).

Filling glass seen through, measured with the session-22 default on the 100 car-parts test photos
(hand-labelled part pixels kept, the same maps with and without it): all parts 0.9813 -> 0.9820,
rear glass 0.9115 -> 0.9244, tailgate 0.9689 -> 0.9947, wheels and mirrors unchanged; 864 held-out
Carvana photos 0.99299 -> 0.99299. The radius rule comes from the Carvana truth masks: of their
7,489 enclosed gaps (under a rear wing, between a mirror and the pillar, between spokes, under a
side step) the thickest has an inscribed radius of 0.043 x the car's height. Windscreens seen
through as a thin band (radius about 0.026) stay open: as thin as a mirror's gap, so no shape rule
tells them apart.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

STRAY_SHARE = 1.2e-4  # regions smaller than this share of the working area are strays
MAIN_CAR_REACH = 0.01  # a car region this close to the main car (share of the side) is part of it
MAIN_CAR_PEER = 0.5  # a car region at least this share of the main car's area is kept too
# An enclosed background region this thick (inscribed radius, share of the car's height) is glass seen
# through; the Carvana masks' own enclosed gaps (under a rear wing, beside a mirror, between spokes,
# under a side step) reach 0.043.
GLASS_RADIUS = 0.05


def outline_band(car: np.ndarray, width: int) -> np.ndarray:
    """The pixels within ``width`` pixels of a boolean car mask's outline, both sides: (H, W) bool."""
    square = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.morphologyEx(car.astype(np.uint8), cv2.MORPH_GRADIENT, square) > 0


def ground_below(car: np.ndarray, depth: int) -> np.ndarray:
    """The background pixels within ``depth`` pixels straight below a boolean car mask: (H, W) bool.
    There lies a car's ground shadow, which teacher labels and models take for car (model card, session 45)."""
    if depth <= 0:
        return np.zeros(car.shape, dtype=bool)
    column = np.ones((depth + 1, 1), np.uint8)
    # anchored at the column's bottom row, the dilation spreads each car pixel ``depth`` pixels downward
    return cv2.dilate(car.astype(np.uint8), column, anchor=(0, depth)).astype(bool) & ~car.astype(bool)


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


def clean_probability(probability: np.ndarray) -> np.ndarray:
    """The clean-up every mask gets: ``remove_strays``, ``keep_main_car``, then ``fill_glass``. The input
    is not changed."""
    return fill_glass(keep_main_car(remove_strays(probability)))


def fill_glass(probability: np.ndarray, *, radius: float = GLASS_RADIUS) -> np.ndarray:
    """(S, S) float car probabilities -> the same with the thick background regions the car encloses
    set to car: windows and windscreens the model saw through, which a cut-out keeps opaque.

    A background region (4-connected, p < 0.5) that does not touch the border is filled when a disc of
    ``radius`` x the car's height (its rows with p >= 0.5, at least 2 pixels) fits inside it. Thin or
    small enclosed gaps (between wheel spokes, a mirror and its pillar, under a rear wing or a side
    step) stay background.
    The input is not changed; it is returned as is when nothing is filled.
    """
    car = probability >= 0.5
    holes = enclosed_background(car)
    if not holes.any():
        return probability
    rows = np.nonzero(car.any(axis=1))[0]
    least = max(2.0, radius * (rows[-1] - rows[0] + 1))
    count, labels = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
    inside = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, 3)
    widest = np.zeros(count, np.float32)
    np.maximum.at(widest, labels[holes], inside[holes])
    glass = widest >= least
    glass[0] = False  # label 0: everything but the holes
    if not glass.any():
        return probability
    result = probability.copy()
    result[glass[labels]] = 1.0
    return result


def keep_main_car(probability: np.ndarray, *, reach: float = MAIN_CAR_REACH,
                  peer: float = MAIN_CAR_PEER) -> np.ndarray:
    """(S, S) float car probabilities -> the same with the car regions apart from the main car
    cleared to 0.

    The main car is the largest car region (8-connected, p >= 0.5). A region is kept when it
    comes within ``reach`` x S pixels of it (a mirror or an antenna cut off by a thin gap), lies
    at least half inside its convex hull (a piece of the car the model split off), or has at
    least ``peer`` of its area (a car split by a post in front, two cars side by side). The input
    is not changed; it is returned as is when nothing is cleared.
    """
    car = probability >= 0.5
    count, labels, stats, _ = cv2.connectedComponentsWithStats(car.astype(np.uint8), connectivity=8)
    if count <= 2:  # the background and at most one car region
        return probability
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0  # label 0: the background
    main = int(np.argmax(areas))
    kept = areas >= peer * areas[main]
    radius = max(1, round(reach * probability.shape[0]))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    main_car = (labels == main).astype(np.uint8)
    near_main = cv2.dilate(main_car, disc).astype(bool)
    kept[np.unique(labels[near_main & car])] = True
    outline, _ = cv2.findContours(main_car, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = np.zeros_like(main_car)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.concatenate(outline)), 1)
    kept |= 2 * np.bincount(labels[hull.astype(bool)], minlength=count) >= areas
    kept[0] = True
    if kept.all():
        return probability
    result = probability.copy()
    result[~kept[labels]] = 0.0
    return result
