"""The study's metric: the Dice coefficient DSC = 2|X∩Y| / (|X| + |Y|), 1 when both are empty."""

from __future__ import annotations

from typing import Iterable

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
