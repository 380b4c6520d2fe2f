"""Edge refinement: align the upsampled probability edge with the full-resolution photo.

A guided filter (He et al., 2010) treats the probability map as a locally linear function of
the photo's brightness, so the soft edge snaps to the car's real outline. It runs on
the band around the edge only, which keeps it cheap for large photos.
"""

from __future__ import annotations

import cv2
import numpy as np


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Guided filter of ``source`` (float32, H x W) by ``guide`` (float32 gray in [0, 1])."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(array: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(array, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_guide = box(guide)
    mean_source = box(source)
    covariance = box(guide * source) - mean_guide * mean_source
    variance = box(guide * guide) - mean_guide * mean_guide
    a = covariance / (variance + eps)
    b = mean_source - a * mean_guide
    return box(a) * guide + box(b)


def refine_edges(
    rgb: np.ndarray, probability: np.ndarray, *, radius: int | None = None, eps: float = 1e-3
) -> np.ndarray:
    """Refine a full-resolution uint8 probability (0..255) against the photo (H, W, 3) uint8.

    Only pixels within the filter radius of the 0.5 contour change; returns uint8 0..255.
    """
    height, width = probability.shape
    if radius is None:
        radius = max(2, round(max(height, width) / 256))
    uncertain = (probability > 8) & (probability < 247)
    if not uncertain.any():
        return probability
    band = cv2.dilate(uncertain.astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8)).astype(bool)
    rows, cols = np.nonzero(band)
    top, bottom = max(0, rows.min() - 2 * radius), min(height, rows.max() + 2 * radius + 1)
    left, right = max(0, cols.min() - 2 * radius), min(width, cols.max() + 2 * radius + 1)
    window = (slice(top, bottom), slice(left, right))
    guide = cv2.cvtColor(np.ascontiguousarray(rgb[window]), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    source = probability[window].astype(np.float32) / 255.0
    filtered = np.clip(guided_filter(guide, source, radius, eps) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    result = probability.copy()
    inside = band[window]
    result[window][inside] = filtered[inside]
    return result
