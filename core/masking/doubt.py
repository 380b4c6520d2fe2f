"""How doubtful the model is about a mask: one score for the batch review's order and the
editor's "Masked, check". Qt-free, no torch."""

from __future__ import annotations

import numpy as np

UNDECIDED = (0.1, 0.9)  # probabilities between these are undecided

# A mask covering less than this share of the working image probably missed the car.
EMPTY_AREA = 0.02
# Above this doubt the editor says "Masked, check". Calibrated on the shipped default model,
# stage 10 (mirror on; benchmarks/calibrate_doubt.py --held-out --limit 120), as the highest value
# that flags at least 90 % of the bad masks (Dice under 0.9): of 334 held-out photos (120
# stanford-cars and 94 car-parts test photos against teacher labels, 120 Carvana) it flags 16 of
# the 17 bad masks, 16 % of the others and no Carvana photo (0.18, stage 9's value: all 17 and
# 27 %). The model that learned outdoor photos is soft in backgrounds it saw no label for, so its
# good outdoor masks score 0.06-0.34: 0.03, set for the studio-only model, flagged every outdoor photo.
CHECK_DOUBT = 0.22


def doubt_score(uncertainty: float, mirror: float | None = None, area: float | None = None) -> float:
    """Larger = less sure: the share of undecided pixels (probability in (0.1, 0.9)), plus the
    share of pixels where the photo and its mirror image disagree when measured, plus a
    penalty that grows as the mask (``area``, its share of the photo) nears empty."""
    score = uncertainty + (mirror or 0.0)
    if area is not None and area < EMPTY_AREA:
        score += 0.5 * (EMPTY_AREA - area) / EMPTY_AREA
    return score


def undecided_share(probability: np.ndarray) -> float:
    """The share of a probability map (float, 0..1) that is ``UNDECIDED``: the doubt's ``uncertainty``."""
    low, high = UNDECIDED
    return float(np.mean((probability > low) & (probability < high)))


def pass_doubt(probability: np.ndarray, mirror: float | None = None) -> float:
    """``doubt_score`` of a model's working-size (S, S) probabilities before the clean-up, with the
    mirror disagreement when measured: what ``Prediction.doubt`` will be for that pass."""
    return doubt_score(undecided_share(probability), mirror, float(np.mean(probability >= 0.5)))
