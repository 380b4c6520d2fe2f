"""A closer look at the main car: the model runs a second time on a crop around it.

The network works at a fixed square size, so a car that fills a third of a street photo gets a
third of the working pixels: its outline, mirrors and wheels are drawn coarsely. After the first
pass, the box around the main car (the cleaned mask), widened by ``MARGIN`` of its longer side
on every side and made no flatter than ``MAX_ASPECT``, is cut from the photo at its own
resolution and masked again; inside the box the two answers are averaged (each brings what the
other misses: the close-up the detail, the whole photo the context), outside it the first pass
stands.

Only where the photo holds detail the first pass could not see: the crop, at the working size,
must sample the photo at least ``MIN_DETAIL`` times as finely as the first pass did (along its
width or its height), and cover less than ``MAX_SHARE`` of it. A crop that would only be enlarged
(a photo no bigger than the working size) brings no detail, and measured on the held-out studio
photos at 512x512 it made the outline worse (-0.0008 Dice), so it is not looked at.

Measured in the default model's card (its notes, "Session 17: a closer look at small cars").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.masking.cleanup import clean_probability
from core.masking.mask_edit import Rect
from core.models.preprocess import upsample_probability

MARGIN = 0.15  # of the car box's longer side, on every side
MAX_ASPECT = 16 / 9  # width over height; a flatter box grows in height (photos are rarely flatter)
MAX_SHARE = 0.8  # of the photo's area: a box this large or larger is not looked at again
MIN_DETAIL = 1.5  # how many times finer the close-up must sample the photo than the first pass
WEIGHT = 0.5  # of the close-up in the average inside the box (the first pass has the rest)


@dataclass(frozen=True)
class CloseUp:
    """The second pass of one photo: ``box`` in photo pixels and the model's (S, S) float32
    working-size car probabilities of that crop, not yet cleaned."""

    box: Rect
    probability: np.ndarray


def close_up_box(cleaned: np.ndarray, width: int, height: int, *, margin: float = MARGIN,
                 max_share: float = MAX_SHARE, min_detail: float = MIN_DETAIL) -> Rect | None:
    """The crop worth a second look for a (width x height) photo whose first pass gave the
    working-size probabilities ``cleaned`` (after ``cleanup.clean_probability``, as the mask is);
    None when there is no car, the box covers ``max_share`` of the photo or more, or it would not
    sample the photo ``min_detail`` times as finely as the first pass (see the module docstring)."""
    size_y, size_x = cleaned.shape
    if max(1.0, width / size_x, height / size_y) < min_detail:  # no crop can sample it that much finer
        return None
    car = cleaned >= 0.5
    bounds = Rect.bounding(car)
    if bounds is None:
        return None
    scale_x, scale_y = width / size_x, height / size_y
    left, right = bounds.left * scale_x, bounds.right * scale_x
    top, bottom = bounds.top * scale_y, bounds.bottom * scale_y
    pad = margin * max(right - left, bottom - top)
    left, right, top, bottom = left - pad, right + pad, top - pad, bottom + pad
    if (right - left) > MAX_ASPECT * (bottom - top):
        grow = ((right - left) / MAX_ASPECT - (bottom - top)) / 2
        top, bottom = top - grow, bottom + grow
    box = Rect(int(np.floor(left)), int(np.floor(top)), int(np.ceil(right)), int(np.ceil(bottom))).clip(width, height)
    if box.empty or box.width * box.height >= max_share * width * height:
        return None
    finer_x = min(1.0, size_x / box.width) / min(1.0, size_x / width)
    finer_y = min(1.0, size_y / box.height) / min(1.0, size_y / height)
    return box if max(finer_x, finer_y) >= min_detail else None


def apply_close_up(probability: np.ndarray, close_up: CloseUp, *, clean: bool = True, weight: float = WEIGHT) -> None:
    """Average the close-up's answer (``weight`` of it) into the photo-size uint8 ``probability``
    inside its box, in place."""
    small = clean_probability(close_up.probability) if clean else close_up.probability
    box = close_up.box
    closer = upsample_probability(small, box.width, box.height).astype(np.float32)
    region = probability[box.slices]
    region[:] = np.clip(weight * closer + (1 - weight) * region + 0.5, 0, 255).astype(np.uint8)
