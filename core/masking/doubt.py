"""How doubtful the model is about a mask: one score for the batch review's order and the
editor's "Masked, check". Qt-free, no torch."""

from __future__ import annotations

# A mask covering less than this share of the working image probably missed the car.
EMPTY_AREA = 0.02
# Above this doubt the editor says "Masked, check". Measured with the shipped default model
# (mirror on): 120 held-out Carvana studio photos score 0.005 (median) to 0.012 (max); 60
# Stanford Cars street photos 0.049 (10th percentile), 0.076 (median), 98 % above 0.03.
CHECK_DOUBT = 0.03


def doubt_score(uncertainty: float, mirror: float | None = None, area: float | None = None) -> float:
    """Larger = less sure: the share of undecided pixels (probability in (0.1, 0.9)), plus the
    share of pixels where the photo and its mirror image disagree when measured, plus a
    penalty that grows as the mask (``area``, its share of the photo) nears empty."""
    score = uncertainty + (mirror or 0.0)
    if area is not None and area < EMPTY_AREA:
        score += 0.5 * (EMPTY_AREA - area) / EMPTY_AREA
    return score
