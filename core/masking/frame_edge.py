"""A second look at a car cut by the frame: the model runs again on the photo reflected outward.

The network was trained mostly on whole cars, so where a car runs off the photo's edge it rounds the
car off a little before the edge: a car cut by the frame loses a strip along it. After the first
pass, on each side of the frame that the main car's body touches (``car_body``: the largest region
of the cleaned working-size mask opened by ``SOLID_RADIUS`` of the working size, so that thin false
car such as a reflection or a shadow streak, and another car the clean-up kept beside the main one,
do not count; covering more than ``TOUCH`` of that side), the photo is reflected outward
(``cv2.BORDER_REFLECT_101``) by ``PAD`` of its height or width, masked again and cropped back: the
car no longer ends at the network's border. There is no second look where the first pass is in
doubt about the photo (``doubt.pass_doubt`` above ``EDGE_DOUBT``) and undecided (probability between
``doubt.UNDECIDED``) about more than ``MAX_UNDECIDED`` of what it may take for car (probability above
its lower end) within ``PAD`` of those sides: there the car reaching the edge is itself a guess (a
blurred frame's background joined to the car), and a second look would only carry it further.
The second answer replaces the first within ``REACH`` of the working size of the main car's body,
unless it changes the mask away from the reflected sides (farther than ``STABLE_BAND`` of the photo)
by more than ``MAX_CHANGE`` of the car's area: then the model is unsure of the scene (a dealer's
canopy taken for car) and the first answer stands.

Measured in the default model's card (its notes, sessions 43 and 44).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.masking.cleanup import clean_probability
from core.masking.doubt import UNDECIDED
from core.models.preprocess import upsample_probability

PAD = 0.08  # of the photo's height (top, bottom) or width (left, right) reflected on a touched side
TOUCH = 0.02  # share of a side the car's body must cover for the side to count as touched
SOLID_RADIUS = 0.02  # of the working size: the opening that leaves only the car's body
STABLE_BAND = 0.10  # of the photo's height or width along the touched sides, where the second pass may differ
MAX_CHANGE = 0.08  # of the car's area: more change than this elsewhere and the first answer stands
REACH = 0.06  # of the working size: how far from the main car's body the second answer is used
MAX_UNDECIDED = 0.75  # share of the possible car along the reflected sides the first pass is undecided about...
EDGE_DOUBT = 0.18  # ...and its doubt score: above both, no second look


@dataclass(frozen=True)
class Reflection:
    """Pixels added on each side of a photo: (top, bottom, left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The (H, W, 3) photo reflected outward: (H + top + bottom, W + left + right, 3)."""
        return cv2.copyMakeBorder(np.ascontiguousarray(rgb), self.top, self.bottom, self.left, self.right,
                                  cv2.BORDER_REFLECT_101)

    def crop(self, padded: np.ndarray, width: int, height: int) -> np.ndarray:
        """The (height, width) photo's part of a map of the reflected photo (a view)."""
        return padded[self.top : self.top + height, self.left : self.left + width]


@dataclass(frozen=True)
class EdgeLook:
    """The second pass of one photo: how it was reflected, the model's (S, S) float32 working-size
    car probabilities of the reflected photo (not yet cleaned), and the bool working-size map of
    the first pass (``edge_plan``'s zone) where the second answer may be used."""

    reflection: Reflection
    probability: np.ndarray
    zone: np.ndarray


def _disc(pixels: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))


def car_body(cleaned: np.ndarray, *, radius: float = SOLID_RADIUS) -> np.ndarray:
    """The main car's body in the first pass's working-size probabilities after
    ``cleanup.clean_probability``: the largest region (8-connected) of the mask opened by a disc of
    ``radius`` x the working size. (S, S) bool, all False without a car."""
    body = (cleaned >= 0.5).astype(np.uint8)
    pixels = round(radius * max(cleaned.shape))
    if pixels:
        body = cv2.morphologyEx(body, cv2.MORPH_OPEN, _disc(pixels))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(body, connectivity=8)
    if count <= 1:
        return np.zeros(cleaned.shape, dtype=bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def near_car_body(body: np.ndarray, *, reach: float = REACH) -> np.ndarray:
    """A (S, S) bool ``car_body`` grown by ``reach`` x the working size: (S, S) bool."""
    pixels = round(reach * max(body.shape))
    return cv2.dilate(body.astype(np.uint8), _disc(pixels)).astype(bool) if pixels else body


def touched_sides(mask: np.ndarray, *, touch: float = TOUCH) -> dict[str, bool]:
    """Which sides of the frame a (S, S) bool mask covers along more than ``touch`` of their length:
    {"top", "bottom", "left", "right"} -> bool."""
    return {"top": bool(mask[0].mean() > touch), "bottom": bool(mask[-1].mean() > touch),
            "left": bool(mask[:, 0].mean() > touch), "right": bool(mask[:, -1].mean() > touch)}


def undecided_along(cleaned: np.ndarray, reflection: Reflection, *, pad: float = PAD) -> float:
    """Of the (S, S) working-size probabilities above ``UNDECIDED``'s lower end within ``pad`` x S of
    the sides ``reflection`` pads, the share below its upper end (0 where there are none)."""
    low, high = UNDECIDED
    band = np.zeros(cleaned.shape, dtype=bool)
    rows, columns = (max(1, round(pad * side)) for side in cleaned.shape)
    if reflection.top:
        band[:rows] = True
    if reflection.bottom:
        band[-rows:] = True
    if reflection.left:
        band[:, :columns] = True
    if reflection.right:
        band[:, -columns:] = True
    possible = band & (cleaned > low)
    return float(np.count_nonzero(possible & (cleaned < high)) / max(1, np.count_nonzero(possible)))


def edge_plan(cleaned: np.ndarray, width: int, height: int, *, pad: float = PAD, touch: float = TOUCH,
              radius: float = SOLID_RADIUS, reach: float = REACH, doubt: float = 0.0,
              max_undecided: float = MAX_UNDECIDED, max_doubt: float = EDGE_DOUBT,
              ) -> tuple[Reflection, np.ndarray] | None:
    """The second look a (width x height) photo needs, from its first pass's working-size
    probabilities after ``cleanup.clean_probability``: how to reflect it (``pad`` of its size on each
    side the main car's body touches, ``touched_sides`` of ``car_body``) and the working-size zone
    where the second answer may be used (``near_car_body``); None when the body touches no side, or
    when the first pass's ``doubt`` (``doubt.pass_doubt``) is above ``max_doubt`` and it is undecided
    about more than ``max_undecided`` of the car along those sides (``undecided_along``)."""
    if not any(touched_sides(cleaned >= 0.5, touch=touch).values()):  # the body lies inside the mask
        return None
    body = car_body(cleaned, radius=radius)
    sides = touched_sides(body, touch=touch)
    rows, columns = round(pad * height), round(pad * width)
    reflection = Reflection(rows if sides["top"] else 0, rows if sides["bottom"] else 0,
                            columns if sides["left"] else 0, columns if sides["right"] else 0)
    if not any((reflection.top, reflection.bottom, reflection.left, reflection.right)):
        return None
    if doubt > max_doubt and undecided_along(cleaned, reflection, pad=pad) > max_undecided:
        return None
    return reflection, near_car_body(body, reach=reach)


def edge_probability(look: EdgeLook, width: int, height: int, *, clean: bool = True) -> np.ndarray:
    """The second pass's (height, width) uint8 car probability of the photo itself."""
    small = clean_probability(look.probability) if clean else look.probability
    reflection = look.reflection
    padded = upsample_probability(small, width + reflection.left + reflection.right,
                                  height + reflection.top + reflection.bottom)
    return reflection.crop(padded, width, height)


def apply_edge_look(probability: np.ndarray, look: EdgeLook, *, clean: bool = True, band: float = STABLE_BAND,
                    max_change: float = MAX_CHANGE) -> bool:
    """Replace the photo-size uint8 ``probability`` (the first pass's) with the second pass's within
    ``look.zone``, in place, unless the two masks differ farther than ``band`` from the reflected
    sides by more than ``max_change`` of the first mask's area. Whether it was replaced."""
    height, width = probability.shape
    second = edge_probability(look, width, height, clean=clean)
    changed = (probability >= 128) ^ (second >= 128)  # one byte a pixel at a time: photos can be 100 MP
    reflection = look.reflection
    rows, columns = round(band * height), round(band * width)
    if reflection.top:
        changed[:rows] = False
    if reflection.bottom:
        changed[height - rows :] = False
    if reflection.left:
        changed[:, :columns] = False
    if reflection.right:
        changed[:, width - columns :] = False
    far_change = int(np.count_nonzero(changed))
    del changed
    if far_change > max_change * max(1, int(np.count_nonzero(probability >= 128))):
        return False
    zone = cv2.resize(look.zone.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).view(bool)
    np.copyto(probability, second, where=zone)
    return True
