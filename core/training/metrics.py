"""The study's metric, the Dice coefficient DSC = 2|X∩Y| / (|X| + |Y|) (1 when both are empty),
and counts of the stray regions a user would have to paint away."""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks of the same shape; 1.0 when both are empty."""
    prediction = np.asarray(prediction, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if prediction.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {prediction.shape} vs {truth.shape}")
    total = int(prediction.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, truth).sum()) / total


def mean_dice(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """Per-image Dice averaged over the pairs (the study's mean DSC); nan for no pairs."""
    scores = [dice(prediction, truth) for prediction, truth in pairs]
    return float(np.mean(scores)) if scores else float("nan")


def stray_regions(prediction: np.ndarray, truth: np.ndarray, min_pixels: int = 1) -> tuple[int, int]:
    """(speckles, holes) of a prediction against the truth, as a user sees them.

    A speckle is a connected car region of the prediction (8-connected) that touches no car
    pixel of the truth: an island in the background. A hole is a connected background region
    of the prediction (4-connected) that touches no background pixel of the truth: a gap
    punched into the body. Regions smaller than ``min_pixels`` are not counted.
    """
    prediction = np.asarray(prediction, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if prediction.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {prediction.shape} vs {truth.shape}")
    return (_regions_outside(prediction, truth, 8, min_pixels),
            _regions_outside(~prediction, ~truth, 4, min_pixels))


def _regions_outside(regions: np.ndarray, allowed: np.ndarray, connectivity: int, min_pixels: int) -> int:
    """How many connected regions of ``regions`` share no pixel with ``allowed``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(regions.astype(np.uint8), connectivity=connectivity)
    if count <= 1:
        return 0
    touching = np.zeros(count, dtype=bool)
    touching[np.unique(labels[allowed & regions])] = True
    sizes = stats[:, cv2.CC_STAT_AREA]
    return int(np.sum(~touching[1:] & (sizes[1:] >= min_pixels)))
