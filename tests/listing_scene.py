"""A drawn car (body, cabin, two wheels on the ground) with an anti-aliased alpha, for the
listing tests, the benchmark and the screenshots: no photo of a real car is needed."""

from __future__ import annotations

import cv2
import numpy as np

CAR_RED = (200, 30, 35)


def car_alpha(width: int = 480, height: int = 320, *, scale: float = 1.0, left: float = 0.12,
              ground: float = 0.8) -> np.ndarray:
    """(height, width) uint8 alpha of a side-view car, drawn at 4x and averaged down (soft edges)."""
    k = 4
    big = np.zeros((height * k, width * k), np.uint8)
    car_w = 0.7 * width * scale
    x0, g = left * width, ground * height
    wheel = 0.09 * car_w

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x * k)), int(round(y * k))

    cv2.rectangle(big, pt(x0, g - wheel - 0.18 * car_w), pt(x0 + car_w, g - 0.6 * wheel), 255, -1)
    cv2.rectangle(big, pt(x0 + 0.25 * car_w, g - wheel - 0.33 * car_w), pt(x0 + 0.72 * car_w, g - wheel - 0.1 * car_w),
                  255, -1)
    for cx in (x0 + 0.2 * car_w, x0 + 0.8 * car_w):
        cv2.circle(big, pt(cx, g - wheel), int(round(wheel * k)), 255, -1)
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def car_colours(alpha: np.ndarray) -> np.ndarray:
    """The car's own colour everywhere (red paint, dark tyres at the bottom)."""
    out = np.empty(alpha.shape + (3,), np.uint8)
    out[:] = CAR_RED
    rows = np.flatnonzero((alpha >= 128).any(axis=1))
    if rows.size:
        bottom = rows[-1]
        out[bottom - max(2, (bottom - rows[0]) // 6) :] = (35, 35, 38)
    return out


def composite(alpha: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """The car over a flat ``background`` colour: the photo a camera would take."""
    a = alpha.astype(np.float32)[..., None] / 255
    fore = car_colours(alpha).astype(np.float32)
    return np.clip(fore * a + np.array(background, np.float32) * (1 - a) + 0.5, 0, 255).astype(np.uint8)
