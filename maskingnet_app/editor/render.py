"""What the canvas shows, as one premultiplied ARGB32 image at the photo's resolution.

``DisplayImage`` composes the photo and the mask for a view mode (overlay, cut-out, mask only,
original) and recomposes only the rectangle an edit changed, so a brush dab costs a few
thousand pixels of numpy work, not a whole frame. The numpy buffer is shared with a ``QImage``
without copying.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np
from PySide6.QtGui import QColor, QImage

from core.errors import MaskingNetError
from core.listing.presets import ListingSpec
from core.listing.render import render_listing
from core.masking.mask_edit import Rect

BACKDROP = (42, 42, 46)  # around a listing photo of another aspect: the canvas's own backdrop
# byte order of one ARGB32 pixel in memory
_B, _G, _R, _A = (0, 1, 2, 3) if sys.byteorder == "little" else (3, 2, 1, 0)


class DisplayImage:
    """The composed view of ``rgb`` (H, W, 3) and ``alpha`` (H, W) uint8 or None (no mask yet).

    ``photo_alpha`` (the photo's own transparency) limits the cut-out like an export does.
    The "listing" mode shows the listing photo of ``listing`` (``core.listing``) fitted into
    the photo's frame, whole (it is recomposed in full on every update).
    """

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray | None = None, photo_alpha: np.ndarray | None = None) -> None:
        self.rgb = rgb
        self.alpha = alpha
        self.photo_alpha = photo_alpha
        height, width = rgb.shape[:2]
        self._buffer = np.empty((height, width, 4), dtype=np.uint8)
        self._image = QImage(self._buffer.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self.mode = "overlay"
        self.color = (255, 42, 109)
        self.opacity = 0.5
        self.listing = ListingSpec()
        self.listing_error = ""  # why the listing view is empty ('' when it is not)
        self.update()

    @property
    def qimage(self) -> QImage:
        """The image to draw; valid while this object lives, updated in place."""
        return self._image

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    @property
    def shows_alpha(self) -> bool:
        """True when the image has transparent pixels to draw over a background."""
        return self.mode in ("cutout", "listing") and self.alpha is not None

    def configure(self, *, mode: str | None = None, color: QColor | str | None = None,
                  opacity: float | None = None, alpha: np.ndarray | None | bool = False,
                  listing: ListingSpec | None = None) -> None:
        """Change what is shown and recompose the whole image (``alpha=None`` removes the mask)."""
        if mode is not None:
            self.mode = mode
        if color is not None:
            qcolor = QColor(color)
            self.color = (qcolor.red(), qcolor.green(), qcolor.blue())
        if opacity is not None:
            self.opacity = float(opacity)
        if alpha is not False:
            self.alpha = alpha
        if listing is not None:
            self.listing = listing
        self.update()

    def update(self, rect: Rect | None = None) -> None:
        """Recompose ``rect`` (the whole image when None) from the photo and the mask."""
        height, width = self.rgb.shape[:2]
        rect = (rect or Rect(0, 0, width, height)).clip(width, height)
        if rect.empty:
            return
        if self.mode == "listing" and self.alpha is not None:
            self._show_listing()
            return
        rows, cols = rect.slices
        out = self._buffer[rows, cols]
        rgb = self.rgb[rows, cols]
        alpha = self.alpha[rows, cols] if self.alpha is not None else None
        mode = self.mode if alpha is not None else "original"
        if mode == "original":
            _put_rgb(out, rgb[..., 0], rgb[..., 1], rgb[..., 2])
            out[..., _A] = 255
        elif mode == "mask":
            _put_rgb(out, alpha, alpha, alpha)
            out[..., _A] = 255
        elif mode == "overlay":
            weight = (alpha.astype(np.uint32) * int(round(self.opacity * 256))) >> 8  # 0..255
            keep = 255 - weight
            for index, (channel, value) in enumerate(zip((_R, _G, _B), self.color)):
                out[..., channel] = (rgb[..., index] * keep + value * weight + 127) // 255
            out[..., _A] = 255
        else:  # cutout: premultiplied by the mask (and the photo's own alpha)
            if self.photo_alpha is not None:
                alpha = np.minimum(alpha, self.photo_alpha[rows, cols])
            wide = alpha.astype(np.uint16)
            _put_rgb(out, *(((rgb[..., c] * wide + 127) // 255) for c in range(3)))
            out[..., _A] = alpha


    def _show_listing(self) -> None:
        """The listing photo, scaled to fit the photo's frame and centred, on the canvas's backdrop."""
        alpha = self.alpha if self.photo_alpha is None else np.minimum(self.alpha, self.photo_alpha)
        try:
            listing = render_listing(self.rgb, alpha, self.listing)
        except (ValueError, OSError, MaskingNetError) as error:  # e.g. a background image that went away
            self.listing_error = str(error)
            listing = np.zeros((8, 8, 4), np.uint8)
        else:
            self.listing_error = ""
        height, width = self.rgb.shape[:2]
        scale = min(width / listing.shape[1], height / listing.shape[0])
        size = (max(1, round(listing.shape[1] * scale)), max(1, round(listing.shape[0] * scale)))
        fitted = cv2.resize(listing, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        left, top = (width - size[0]) // 2, (height - size[1]) // 2
        _put_rgb(self._buffer, *BACKDROP)
        self._buffer[..., _A] = 255
        out = self._buffer[top : top + size[1], left : left + size[0]]
        if fitted.shape[2] == 3:
            _put_rgb(out, fitted[..., 0], fitted[..., 1], fitted[..., 2])
            out[..., _A] = 255
        else:  # premultiplied, like the cut-out
            wide = fitted[..., 3].astype(np.uint16)
            _put_rgb(out, *(((fitted[..., c] * wide + 127) // 255) for c in range(3)))
            out[..., _A] = fitted[..., 3]


def _put_rgb(out: np.ndarray, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> None:
    out[..., _R] = red
    out[..., _G] = green
    out[..., _B] = blue
