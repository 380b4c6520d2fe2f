"""The user's corrected masks, saved as they are made and kept with the photo's identity.

They survive crashes and restarts (every write is atomic) and are the training data of the
in-app fine-tuning. Layout, per photo, under ``<app home>/corrections/<key>/``:

- ``mask.png``: the corrected mask, 8-bit 0/255, at the photo's resolution (the training data)
- ``alpha.png``: the exact alpha to export, when it has values between 0 and 255 (soft brush
  edges, the model's anti-aliased outline); trusted only while it agrees with ``mask.png``
- ``predicted.png``: the model's mask before the first correction (0/255)
- ``changed.png``: the pixels where the two differ (255), used to weight the loss
- ``meta.json``: source path, name, group (car), size, model, time, count of saves

``key`` is a hash of the photo file's bytes, so a renamed or moved photo keeps its corrections.
The store is the only reader and writer of these files (the editor, the batch and the review
all export ``load_alpha``). It imports neither torch nor Qt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageReadError
from core.grouping import photo_group
from core.io.atomic import write_bytes_atomic
from core.io.imageio import MAX_PIXELS, encode_png, read_mask, read_photo
from core.io.records import Fields, RecordError, check_regular, one_line, read_json
from core.models.model_store import app_home

META_FILE = "meta.json"
_KEY = re.compile(r"^[0-9a-f]{20}$")

ALPHA_FILE = "alpha.png"  # beside mask.png when the corrected alpha has values between 0 and 255


def photo_key(path: str | Path) -> str:
    """A stable identity for a photo file: the first 20 hex digits of its SHA-256.

    Only a regular file is hashed: a FIFO or a device (``/dev/zero``) raises ``ImageReadError``
    before anything reads it, so hashing always ends."""
    try:
        check_regular(path)
    except RecordError as error:
        raise ImageReadError(path, error.problem) from None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the check
            raise ImageReadError(path, "is not a regular file; refusing to read it")
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


@dataclass
class CorrectionRecord:
    key: str
    folder: Path
    source: Path
    name: str
    group: str
    width: int
    height: int
    model: str
    updated: float
    saves: int

    @property
    def mask_path(self) -> Path:
        return self.folder / "mask.png"

    @property
    def changed_path(self) -> Path:
        return self.folder / "changed.png"

    @classmethod
    def from_json(cls, data: Any, key: str, folder: Path) -> CorrectionRecord:
        """The record of ``folder/meta.json`` holding ``data``; ``RecordError`` (one line naming
        the file) when a field has the wrong type or range."""
        fields = Fields(data, folder / META_FILE)
        source = fields.str("source")
        if not Path(source).is_absolute():
            raise fields.error(f"the field 'source' should be an absolute path, found {source!r}")
        width, height = fields.int("width", 0, low=0), fields.int("height", 0, low=0)
        if width * height > MAX_PIXELS:
            raise fields.error(f"the size {width}x{height} is larger than any photo that can be read")
        return cls(
            key=key, folder=folder, source=Path(source), name=fields.str("name", key), group=fields.str("group", key),
            width=width, height=height, model=fields.str("model", ""), updated=fields.float("updated", 0.0, low=0.0),
            saves=fields.int("saves", 0, low=0),
        )

    @property
    def weight_path(self) -> Path | None:
        """The corrected pixels (to weight the loss), when they were recorded."""
        return self.changed_path if self.changed_path.is_file() else None


@dataclass
class RestoredCorrection:
    """A saved correction as the editor reopens it."""

    alpha: np.ndarray  # (H, W) uint8, exactly as saved (``CorrectionStore.load_alpha``)
    predicted: np.ndarray | None  # (H, W) uint8 0/255, the model's mask before the corrections
    model: str


class CorrectionStore:
    """Corrected masks on disk; ``root`` defaults to ``<app home>/corrections``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else app_home() / "corrections"
        self.problems: list[str] = []  # one line per damaged correction skipped so far

    def _note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def folder_for(self, key: str) -> Path:
        return self.root / key

    def save(
        self, photo_path: str | Path, mask: np.ndarray, *, predicted: np.ndarray | None = None,
        model: str = "", key: str | None = None,
    ) -> CorrectionRecord:
        """Store ``mask`` as the photo's correction: a bool (H, W) mask, or the exact uint8 alpha
        to export (binary mask ``alpha >= 128``; ``alpha.png`` kept beside it when it is soft).
        ``predicted`` (bool) is kept from the first save on. Pass ``key`` when it is known, to
        skip hashing the photo again."""
        photo_path = Path(photo_path)
        key = key or photo_key(photo_path)
        folder = self.folder_for(key)
        folder.mkdir(parents=True, exist_ok=True)
        previous = self._previous(key, folder)
        mask = np.asarray(mask)
        alpha = mask if mask.dtype == np.uint8 else None
        mask = alpha >= 128 if alpha is not None else mask.astype(bool)
        predicted_path = folder / "predicted.png"
        if predicted is not None and not predicted_path.is_file():
            write_bytes_atomic(predicted_path, encode_png(np.asarray(predicted, dtype=bool).astype(np.uint8) * 255,
                                                          compress_level=1))
        write_bytes_atomic(folder / "mask.png", encode_png(mask.astype(np.uint8) * 255, compress_level=1))
        if alpha is not None and np.any((alpha > 0) & (alpha < 255)):
            write_bytes_atomic(folder / ALPHA_FILE, encode_png(alpha, compress_level=1))
        else:
            with contextlib.suppress(FileNotFoundError):
                (folder / ALPHA_FILE).unlink()
        if predicted_path.is_file():
            original = predicted if predicted is not None else read_mask(predicted_path)
            changed = np.not_equal(mask, np.asarray(original, dtype=bool)).astype(np.uint8) * 255
            write_bytes_atomic(folder / "changed.png", encode_png(changed, compress_level=1))
        meta = {
            "source": str(photo_path.resolve()),
            "name": photo_path.stem,
            "group": (previous.group if previous else "") or photo_group(photo_path),
            "width": int(mask.shape[1]),
            "height": int(mask.shape[0]),
            "model": model or (previous.model if previous else ""),
            "updated": time.time(),
            "saves": (previous.saves if previous else 0) + 1,
        }
        write_bytes_atomic(folder / META_FILE, json.dumps(meta, indent=1).encode())
        return CorrectionRecord.from_json(meta, key, folder)

    def load(self, photo_path: str | Path, *, key: str | None = None) -> np.ndarray | None:
        """The saved corrected mask of a photo (bool), or None. A mask that is not a regular
        file (a planted link to a device) raises ``ImageReadError`` before it is read."""
        folder = self.folder_for(key or photo_key(photo_path))
        if not (folder / "mask.png").is_file():
            return None
        return read_mask(folder / "mask.png")

    def load_alpha(self, photo_path: str | Path, *, key: str | None = None) -> np.ndarray | None:
        """The saved correction as the exact uint8 alpha to export: ``alpha.png`` (soft brush
        edges, the model's anti-aliased outline) while it agrees with the binary ``mask.png``
        (a save interrupted between the two falls back to it), else ``mask.png`` as 0/255;
        None without a correction."""
        folder = self.folder_for(key or photo_key(photo_path))
        mask = self.load(photo_path, key=folder.name)
        if mask is None:
            return None
        try:
            alpha = read_photo(folder / ALPHA_FILE).rgb[..., 0].copy() if (folder / ALPHA_FILE).is_file() else None
        except ImageReadError:
            alpha = None
        if alpha is None or alpha.shape != mask.shape or not np.array_equal(alpha >= 128, mask):
            alpha = mask.astype(np.uint8) * 255
        return alpha

    def restore(self, key: str, size: tuple[int, int]) -> RestoredCorrection | None:
        """The saved correction of photo ``key`` when there is one of the photo's ``size``
        (w, h); None otherwise, or when its files cannot be read."""
        record = self.get(key)
        if record is None:
            return None
        try:
            alpha = self.load_alpha(record.source, key=key)
        except ImageReadError:
            return None
        if alpha is None or alpha.shape != (size[1], size[0]):
            return None
        predicted = self.load_predicted(key)
        if predicted is not None and predicted.shape != alpha.shape:
            predicted = None
        return RestoredCorrection(alpha, predicted, record.model)

    def load_predicted(self, key: str) -> np.ndarray | None:
        """The model's mask before the first correction (uint8 0/255), or None when it was not
        kept or cannot be read."""
        path = self.folder_for(key) / "predicted.png"
        if not path.is_file():
            return None
        try:
            return read_mask(path).astype(np.uint8) * 255
        except ImageReadError:
            return None

    def get(self, key: str) -> CorrectionRecord | None:
        """The correction of ``key``; None when there is none or its ``meta.json`` is damaged
        (then ``problems`` gets one line naming the file)."""
        if not _KEY.match(key):
            return None
        folder = self.folder_for(key)
        if not (folder / "mask.png").is_file():
            return None
        try:
            return CorrectionRecord.from_json(read_json(folder / META_FILE), key, folder)
        except FileNotFoundError:
            return None
        except RecordError as error:
            self._note(one_line(error))
            return None

    def records(self) -> list[CorrectionRecord]:
        """Every stored correction whose photo still exists, newest first (damaged ones are
        skipped and noted in ``problems``)."""
        if not self.root.is_dir():
            return []
        found = [self.get(folder.name) for folder in self.root.iterdir() if folder.is_dir()]
        found = [r for r in found if r is not None and r.source.is_file()]
        return sorted(found, key=lambda r: r.updated, reverse=True)

    def keys(self) -> set[str]:
        """Keys of the photos that have a saved mask (no ``meta.json`` is read)."""
        if not self.root.is_dir():
            return set()
        return {folder.name for folder in self.root.iterdir() if _KEY.match(folder.name)
                and (folder / "mask.png").is_file()}

    def remove(self, key: str) -> None:
        shutil.rmtree(self.folder_for(key), ignore_errors=True)

    def _previous(self, key: str, folder: Path) -> CorrectionRecord | None:
        """The record being replaced by a save; a damaged one is replaced by a fresh record."""
        try:
            return CorrectionRecord.from_json(read_json(folder / META_FILE), key, folder)
        except FileNotFoundError:
            return None
        except RecordError as error:
            self._note(one_line(error) + "; replaced by a fresh record")
            return None
