"""A soft contact shadow under the car, made from its alpha alone.

Two parts, drawn at a quarter of the resolution and blurred there: an ambient shadow that
spreads from the lowest rows of the car onto the floor (``length`` of the car's height beyond
its ground line, ``softness`` a share of its width), and dark contact spots where the car
touches the ground (columns whose lowest car pixel is within 2 % of the car's height of the
ground line: the tyres). The result is a (H, W) uint8 shadow strength, 0 = none.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_STEP = 4  # the shadow is drawn at 1/_STEP resolution


@dataclass(frozen=True)
class ShadowStyle:
    """``opacity``: darkness at its densest (0..1); ``softness``: blur as a share of the car's
    width; ``length``: reach beyond the ground line as a share of the car's height."""

    opacity: float = 0.55
    softness: float = 0.03
    length: float = 0.06

    def checked(self) -> ShadowStyle:
        for name, value, top in (("opacity", self.opacity, 1.0), ("softness", self.softness, 0.5),
                                 ("length", self.length, 1.0)):
            if not 0 <= value <= top:
                raise ValueError(f"shadow {name} must be in [0, {top}], got {value}")
        return self


def contact_shadow(alpha: np.ndarray, style: ShadowStyle = ShadowStyle()) -> np.ndarray:
    """The shadow strength (H, W) uint8 for a car of ``alpha`` (H, W) uint8; zeros without a car."""
    height, width = alpha.shape
    small = cv2.resize(alpha, (max(1, -(-width // _STEP)), max(1, -(-height // _STEP))), interpolation=cv2.INTER_AREA)
    solid = small >= 128
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    out = np.zeros((height, width), np.uint8)
    if rows.size == 0 or style.opacity <= 0:
        return out
    top, ground = int(rows[0]), int(rows[-1])
    car_h, car_w = ground - top + 1, int(cols[-1] - cols[0] + 1)
    # the lowest car row of each column, and how close it comes to the ground line
    lowest = np.where(solid.any(axis=0), solid.shape[0] - 1 - np.argmax(solid[::-1], axis=0), -1)
    gap = np.where(lowest >= 0, ground - lowest, car_h)
    contact = np.clip(1 - gap / max(1.0, 0.02 * car_h), 0, 1)
    # columns under the car's lower part: where the floor gets little light
    lower = solid[max(top, ground - car_h // 3) : ground + 1].any(axis=0).astype(np.float32)

    reach = max(1, round(style.length * car_h))
    field = np.zeros(small.shape, np.float32)
    above = max(top, ground - max(1, car_h // 8))
    span = np.arange(above, min(small.shape[0], ground + reach + 1))
    fall = np.clip(1 - (span - ground) / reach, 0, 1) ** 1.5
    fall[span <= ground] = 1.0
    field[span] = 0.6 * fall[:, None] * lower[None, :]
    sigma = max(0.8, style.softness * car_w)
    field = cv2.GaussianBlur(field, (0, 0), sigma)
    spots = np.zeros(small.shape, np.float32)
    spots[ground, :] = contact
    if ground + 1 < small.shape[0]:
        spots[ground + 1, :] = contact
    spots = cv2.GaussianBlur(spots, (0, 0), max(0.8, 0.15 * sigma))
    spots /= max(float(spots.max()), 1e-6)
    strength = np.clip(np.maximum(field, spots) * style.opacity * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(strength, (width, height), interpolation=cv2.INTER_LINEAR)
