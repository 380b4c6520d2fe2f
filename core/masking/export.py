"""Turning a photo and its mask into the files a user wants: cut-out, mask, or a flat background."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.io.imageio import Photo, write_image
from core.listing.framing import GroupFrame
from core.listing.presets import ListingSpec
from core.listing.render import render_listing

EXPORT_FORMATS = ("png", "mask", "jpeg", "webp")
MAX_FEATHER = 100.0  # pixels; a wider blur only costs time (1e6 stalls the encoder)


@dataclass(frozen=True)
class ExportOptions:
    """``format``: 'png' (RGBA cut-out), 'mask' (8-bit 0/255), 'jpeg' or 'webp' (on ``background``).

    ``feather`` softens the alpha edge by a Gaussian of that many pixels (0 = hard edge, at
    most ``MAX_FEATHER``). Values out of range raise ``ValueError`` (one line).
    ``listing``: make a listing photo (``core.listing``: framed, on its background, with its
    shadow) in ``format`` instead of a plain cut-out.
    """

    format: str = "png"
    background: tuple[int, int, int] = (255, 255, 255)
    feather: float = 0.0
    quality: int = 92
    listing: ListingSpec | None = None

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {self.format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        if (not isinstance(self.background, tuple) or len(self.background) != 3
                or not all(_is_int(v) and 0 <= v <= 255 for v in self.background)):
            raise ValueError(f"the background colour needs 3 whole numbers 0..255, got {self.background!r}")
        if (isinstance(self.feather, bool) or not isinstance(self.feather, (int, float)) or not math.isfinite(self.feather)
                or not 0 <= self.feather <= MAX_FEATHER):
            raise ValueError(f"the feather must be a number of pixels from 0 to {MAX_FEATHER:g}, got {self.feather!r}")
        if not _is_int(self.quality) or not 1 <= self.quality <= 100:
            raise ValueError(f"the quality must be a whole number from 1 to 100, got {self.quality!r}")

    @property
    def suffix(self) -> str:
        return {"png": ".png", "mask": ".png", "jpeg": ".jpg", "webp": ".webp"}[self.format]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


EDGE_BAND = 1  # pixels on each side of the car's outline that keep the model's soft probability
STRIP_BYTES = 16 << 20  # rows of about this many pixels at a time


def soft_edge_alpha(probability: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The default alpha of a cut-out, anti-aliased along the outline: (H, W) uint8 car
    probability (upsampled to the photo's size) -> uint8 alpha that is exactly 0 or 255
    (probability >= 128 is car) except within ``EDGE_BAND`` pixels of the outline, where it is the
    probability itself. ``alpha >= 128`` is always the hard mask. ``out`` may be ``probability``
    (in place); done in strips of rows, so a huge photo needs no full-size temporary arrays."""
    out = np.empty_like(probability) if out is None else out
    height = probability.shape[0]
    kernel = np.ones((2 * EDGE_BAND + 1, 2 * EDGE_BAND + 1), np.uint8)
    rows = max(1, STRIP_BYTES // max(1, probability.shape[1]))
    for top in range(0, height, rows):
        # rows above were rewritten already in place: their hard mask (>= 128) is unchanged
        low, high = max(0, top - EDGE_BAND), min(height, top + rows + EDGE_BAND)
        strip = probability[low:high]
        result = cv2.threshold(strip, 127, 255, cv2.THRESH_BINARY)[1]  # the hard mask, 0/255
        band = cv2.compare(cv2.dilate(result, kernel), cv2.erode(result, kernel), cv2.CMP_NE)
        cv2.copyTo(strip, band, result)  # OpenCV rather than numpy: a third of the time
        out[top : top + rows] = result[top - low : top - low + min(rows, height - top)]
    return out


def alpha_from_mask(mask: np.ndarray, feather: float = 0.0, photo_alpha: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool mask or uint8 alpha (kept exactly) -> (H, W) uint8 alpha, optionally
    feathered and limited by the photo's alpha."""
    alpha = mask.copy() if mask.dtype == np.uint8 else mask.astype(np.uint8) * 255
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather)
    if photo_alpha is not None:
        alpha = np.minimum(alpha, photo_alpha)
    return alpha


def render_export(photo: Photo, mask: np.ndarray, options: ExportOptions, frame: GroupFrame | None = None) -> np.ndarray:
    """The image array to write for ``options.format``; ``mask`` is a bool mask or a uint8 alpha
    (e.g. ``soft_edge_alpha``, or an edited one), which the cut-out keeps exactly. The mask
    format is always 0/255 (alpha >= 128) unless feathered. A listing photo is framed with
    ``frame`` (its car's, shared by its angles) when given."""
    if options.format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {options.format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if mask.shape != photo.rgb.shape[:2]:
        raise ValueError(f"mask {mask.shape[::-1]} and photo {photo.rgb.shape[1::-1]} differ in size")
    alpha = alpha_from_mask(mask, options.feather, photo.alpha)
    if options.listing is not None:
        return render_listing(photo.rgb, alpha, options.listing, frame, format=options.format, fallback=options.background)
    if options.format == "mask":
        return alpha if options.feather > 0 else (alpha >= 128).astype(np.uint8) * 255
    if options.format == "png":
        return np.dstack([photo.rgb, alpha])
    return composite_on(photo.rgb, alpha, options.background)


def export_profile(photo: Photo, options: ExportOptions) -> bytes | None:
    """The colour profile the export carries: the photo's own, except on a mask (not colour)."""
    return None if options.format == "mask" else photo.icc_profile


def composite_on(rgb: np.ndarray, alpha: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """``rgb`` over a flat ``background`` by ``alpha`` (uint8), in integers and strips of rows,
    so a 100-megapixel photo needs no full-size float copies."""
    out = np.empty_like(rgb)
    flat = np.array(background, dtype=np.uint16)
    rows = max(1, (8 << 20) // max(1, rgb.shape[1] * 3))
    for top in range(0, rgb.shape[0], rows):
        weight = alpha[top : top + rows, :, None].astype(np.uint16)
        out[top : top + rows] = (rgb[top : top + rows] * weight + flat * (255 - weight) + 127) // 255
    return out


def export_photo(photo: Photo, mask: np.ndarray, path: str | Path, options: ExportOptions = ExportOptions(),
                 frame: GroupFrame | None = None) -> Path:
    """Write the export of ``mask`` (bool, or a uint8 alpha kept exactly) atomically; refuses
    to overwrite the input photo."""
    path = Path(path)
    if path.exists() and photo.path.exists() and path.resolve() == photo.path.resolve():
        raise ValueError(f"{path}: refusing to overwrite the input photo")
    fmt = {"png": "PNG", "mask": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[options.format]
    write_image(path, render_export(photo, mask, options, frame), format=fmt, quality=options.quality,
                icc_profile=export_profile(photo, options))
    return path
