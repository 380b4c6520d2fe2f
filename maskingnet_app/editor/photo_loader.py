"""Reading photos off the GUI thread: identity, thumbnail and saved corrections of each opened
photo, and full decodes for the canvas (a small cache keeps the last few)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from core.errors import MaskingNetError, printable
from core.io.imageio import Photo, read_photo
from core.io.records import one_line
from core.store.corrections import RestoredCorrection, photo_key
from maskingnet_app.worker import TaskQueue

THUMBNAIL = 96
CACHE_BYTES = 400 << 20


@dataclass
class PhotoInfo:
    size: tuple[int, int]
    thumbnail: QImage
    key: str
    correction: RestoredCorrection | None


def make_thumbnail(rgb: np.ndarray, side: int = THUMBNAIL) -> QImage:
    """A QImage of at most ``side`` x ``side`` pixels (safe to make off the GUI thread)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, side / max(width, height))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    return QImage(small.data, small.shape[1], small.shape[0], small.shape[1] * 3, QImage.Format.Format_RGB888).copy()


class PhotoCache:
    """The last decoded photos, by path, up to ``max_bytes``; thread-safe."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Path, Photo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> Photo | None:
        with self._lock:
            photo = self._items.get(path)
            if photo is not None:
                self._items.move_to_end(path)
            return photo

    def put(self, photo: Photo) -> None:
        with self._lock:
            self._items[photo.path] = photo
            self._items.move_to_end(photo.path)
            while len(self._items) > 1 and sum(p.rgb.nbytes for p in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def discard(self, path: Path) -> None:
        with self._lock:
            self._items.pop(path, None)


class PhotoLoader(QObject):
    """``identify`` runs for every opened photo; ``request`` decodes one for display.

    Signals are emitted on the GUI thread's side through queued connections.
    """

    identified = Signal(int, object)  # document id, PhotoInfo
    identifyFailed = Signal(int, str)  # document id, one-line message
    photoReady = Signal(object)  # Photo
    photoFailed = Signal(str, str)  # path, one-line message

    def __init__(self, store: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.cache = PhotoCache()
        self._tasks = TaskQueue(self)
        self._wanted: Path | None = None

    def identify(self, document_id: int, path: Path) -> None:
        self._tasks.submit(lambda: self._identify(document_id, path), 0)

    def request(self, path: Path) -> Photo | None:
        """The decoded photo now when cached, else None and ``photoReady`` later."""
        photo = self.cache.get(path)
        self._wanted = path
        if photo is None:
            self._tasks.submit(lambda: self._decode(path), 10)  # before the queued identifications
        return photo

    def wait(self, msecs: int = -1) -> bool:
        return self._tasks.wait(msecs)

    def _read(self, path: Path) -> Photo:
        photo = self.cache.get(path)
        if photo is None:
            photo = read_photo(path)
            self.cache.put(photo)
        return photo

    def _identify(self, document_id: int, path: Path) -> None:
        try:
            photo = self._read(path)
            size = photo.size
            thumbnail = make_thumbnail(photo.rgb)
            key = photo_key(path)
            correction = self._store().restore(key, size)
        except MaskingNetError as error:
            self.identifyFailed.emit(document_id, str(error))
            return
        except MemoryError:
            self.identifyFailed.emit(document_id, f"{path}: not enough memory to open this photo")
            return
        except OSError as error:
            self.identifyFailed.emit(document_id, f"{printable(path)}: {error.strerror or error}")
            return
        except Exception as error:  # noqa: BLE001 - a photo must never stay "Waiting"
            self.identifyFailed.emit(document_id, f"{printable(path)}: {one_line(error)}")
            return
        self.identified.emit(document_id, PhotoInfo(size, thumbnail, key, correction))

    def _decode(self, path: Path) -> None:
        if path != self._wanted:
            return  # the user moved on before this started
        try:
            photo = self._read(path)
        except MaskingNetError as error:
            self.photoFailed.emit(str(path), str(error))
            return
        except MemoryError:
            self.photoFailed.emit(str(path), f"{printable(path)}: not enough memory to open this photo")
            return
        except Exception as error:  # noqa: BLE001 - shown as one line; the loader stays usable
            self.photoFailed.emit(str(path), f"{printable(path)}: {one_line(error)}")
            return
        self.photoReady.emit(photo)
