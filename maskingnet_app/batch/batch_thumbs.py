"""Thumbnails of batch exports for the review grid, made on a thread pool.

A thumbnail shows the photo with everything the mask calls background tinted, so both a
missed part of the car and a kept piece of background stand out. It is made from the export
alone where the export holds the mask (a PNG cut-out keeps the photo's colours under its
alpha), from the photo and the mask file for mask exports, and is the export itself for
JPEG/WebP (the car on its background colour).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from maskingnet_app.worker import TaskQueue

THUMB_SIZE = (168, 112)
TINT = np.array((255, 42, 109), dtype=np.float32)  # the editor's overlay colour
TINT_OPACITY = 0.7


def _open_small(path: Path, mode: str) -> Image.Image:
    """The image at thumbnail size; RGBA is shrunk channel by channel, so the colours under
    transparent pixels survive (Pillow would shrink premultiplied, turning them black)."""
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2))
        image = image.convert(mode)
    if mode == "RGBA":
        bands = [_shrink(band) for band in image.split()]
        return Image.merge("RGBA", bands)
    return _shrink(image)


def _shrink(image: Image.Image) -> Image.Image:
    image.thumbnail(THUMB_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def render_thumbnail(output: Path, source: Path | None, fmt: str) -> np.ndarray:
    """An (h, w, 3) uint8 thumbnail of one export (see the module docstring).

    Raises ``OSError`` or ``ValueError`` when the files cannot be read.
    """
    if fmt == "png":
        rgba = np.asarray(_open_small(output, "RGBA"), dtype=np.float32)
        rgb, alpha = rgba[..., :3], rgba[..., 3:] / 255.0
    elif fmt == "mask" and source is not None:
        photo = _open_small(source, "RGB")
        with Image.open(output) as mask_file:
            mask = mask_file.convert("L").resize(photo.size, Image.Resampling.BILINEAR)
        rgb = np.asarray(photo, dtype=np.float32)
        alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    else:
        return np.ascontiguousarray(np.asarray(_open_small(output, "RGB")))
    background = (1.0 - alpha) * TINT_OPACITY
    tinted = rgb * (1.0 - background) + TINT * background
    return np.clip(tinted + 0.5, 0, 255).astype(np.uint8)


def to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of the (h, w, 3) uint8 pixels."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, width * 3, QImage.Format.Format_RGB888).copy()


class ThumbnailLoader(QObject):
    """Thumbnails by (output path, modification time), made once and kept in a bounded cache.

    ``get`` answers from the cache or schedules the thumbnail and answers None; ``ready(output)``
    follows on the GUI thread when it is made. A failed thumbnail is an empty ``QImage``.
    """

    ready = Signal(str)
    _done = Signal(object, object)

    def __init__(self, capacity: int = 800, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._cache: OrderedDict[tuple, QImage] = OrderedDict()
        self._pending: set[tuple] = set()
        self._tasks = TaskQueue(self, threads=2)
        self._done.connect(self._on_done)

    def get(self, output: Path, source: Path | None, fmt: str) -> QImage | None:
        try:
            key = (str(output), output.stat().st_mtime_ns, fmt)
        except OSError:
            return QImage()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            self._tasks.submit(lambda: self._make(key, output, source, fmt))
        return None

    def clear(self) -> None:
        self._cache.clear()

    def wait(self, msecs: int = -1) -> bool:
        return self._tasks.wait(msecs)

    def _make(self, key: tuple, output: Path, source: Path | None, fmt: str) -> None:
        """On a task thread: the thumbnail, or an empty image when it cannot be made."""
        try:
            image = to_qimage(render_thumbnail(output, source, fmt))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            image = QImage()
        self._done.emit(key, image)

    def _on_done(self, key: tuple, image: QImage) -> None:
        self._pending.discard(key)
        self._cache[key] = image
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.ready.emit(key[0])
