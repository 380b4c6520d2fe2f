"""One listing photo from a photo and its car alpha: framed, decontaminated, on its background,
with its shadow. The work is done on the car's region only (its box plus a margin), at the
output's scale, so a listing photo costs about what encoding it does."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.listing.background import parse_background, render_background
from core.listing.decontaminate import WIDE, estimate_foreground
from core.listing.framing import GroupFrame, Placement, car_box, fit_group, place, warp_region
from core.listing.presets import ListingSpec
from core.listing.shadow import contact_shadow


@dataclass
class ListingLayers:
    """The pieces of a listing photo at the output's size: the car's (decontaminated) colour and
    alpha, and the shadow strength (zeros without a shadow)."""

    rgb: np.ndarray
    alpha: np.ndarray
    shadow: np.ndarray
    placement: Placement | None


def frame_for(alpha: np.ndarray, spec: ListingSpec) -> GroupFrame | None:
    """The frame of one photo on its own (None when unframed or without a car)."""
    box = car_box(alpha)
    if not spec.framed or box is None:
        return None
    return fit_group([box], spec.width, spec.height, spec.margin)


def listing_layers(rgb: np.ndarray, alpha: np.ndarray, spec: ListingSpec, frame: GroupFrame | None = None) -> ListingLayers:
    """Frame the car (with ``frame``, a car's shared frame from ``fit_group``, or its own),
    estimate its edge colours and draw its shadow. ``alpha`` (H, W) uint8 is the car's."""
    spec.checked()
    box = car_box(alpha)
    if spec.framed:
        size = (spec.width, spec.height)
    else:
        size = (rgb.shape[1], rgb.shape[0])
    out_rgb = np.zeros((size[1], size[0], 3), np.uint8)
    out_alpha = np.zeros((size[1], size[0]), np.uint8)
    placement = None
    if box is not None:
        if spec.framed:
            frame = frame or fit_group([box], spec.width, spec.height, spec.margin)
            placement = place(box, frame, spec.width)
        else:
            placement = Placement(1.0, 0.0, 0.0)
        pad = math.ceil(WIDE / placement.scale)  # background around the car for the colour estimate
        region_rgb, (x0, y0) = warp_region(rgb, placement, size, box, pad)
        region_alpha, _ = warp_region(alpha, placement, size, box, pad)
        if spec.decontaminate:
            region_rgb = estimate_foreground(region_rgb, region_alpha)
        h, w = region_alpha.shape
        out_rgb[y0 : y0 + h, x0 : x0 + w] = region_rgb
        out_alpha[y0 : y0 + h, x0 : x0 + w] = region_alpha
    shadow = (contact_shadow(out_alpha, spec.shadow_style) if spec.wants_shadow and box is not None
              else np.zeros_like(out_alpha))
    return ListingLayers(out_rgb, out_alpha, shadow, placement)


def flatten(layers: ListingLayers, background: np.ndarray | None) -> np.ndarray:
    """The listing photo: (H, W, 3) on ``background`` (modified in place and returned), or
    (H, W, 4) RGBA when it is None. In the RGBA the shadow is a black layer under the car, so
    the alpha is the car's exactly where there is no shadow, and 255 where the car is opaque."""
    if background is None:
        a = layers.alpha.astype(np.uint16)
        s = layers.shadow.astype(np.uint16)
        out_alpha = a + (s * (255 - a) + 127) // 255
        rgb = (layers.rgb.astype(np.uint32) * a[..., None] + out_alpha[..., None] // 2) // np.maximum(out_alpha, 1)[..., None]
        return np.dstack([rgb.astype(np.uint8), out_alpha.astype(np.uint8)])
    rows = np.flatnonzero(layers.shadow.any(axis=1))
    if rows.size:  # darken the floor under the shadow
        band = slice(rows[0], rows[-1] + 1)
        light = cv2.bitwise_not(layers.shadow[band])
        background[band] = cv2.multiply(background[band], cv2.merge([light] * 3), scale=1 / 255)
    box = car_box(layers.alpha, threshold=1)
    if box is not None:
        rows, cols = slice(box.top, box.bottom), slice(box.left, box.right)
        weight = layers.alpha[rows, cols].astype(np.float32) * (1 / 255)
        background[rows, cols] = cv2.blendLinear(layers.rgb[rows, cols], background[rows, cols], weight, 1 - weight)
    return background


def render_listing(rgb: np.ndarray, alpha: np.ndarray, spec: ListingSpec, frame: GroupFrame | None = None, *,
                   format: str = "png", fallback: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """The listing photo of ``rgb`` (H, W, 3) uint8 with the car's ``alpha`` (H, W) uint8:
    RGB on an opaque background, RGBA on a transparent one (see ``flatten``) when ``format``
    is 'png'; a JPEG or WebP ``format`` puts a transparent one on the colour ``fallback``."""
    if format not in ("png", "jpeg", "webp"):
        raise ValueError(f"a listing photo is written as png, jpeg or webp, not {format!r}")
    layers = listing_layers(rgb, alpha, spec, frame)
    height, width = layers.alpha.shape
    background = render_background(parse_background(spec.background), width, height)
    if background is None and format != "png":
        background = np.empty((height, width, 3), np.uint8)
        background[:] = fallback
    return flatten(layers, background)


__all__ = ["GroupFrame", "ListingLayers", "flatten", "frame_for", "listing_layers", "render_listing"]
