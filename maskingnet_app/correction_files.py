"""Saving and restoring a photo's edited mask through the ``CorrectionStore``.

The store keeps binary masks (the training data). A soft brush edge makes alpha values between
0 and 255, so the exact alpha is kept beside them as ``alpha.png`` and restored only while it
still agrees with the binary ``mask.png`` (a save interrupted between the two files falls back
to the binary mask). Runs on worker threads; no Qt.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.atomic import write_bytes_atomic
from core.errors import ImageReadError
from core.imageio import encode_png, read_photo

if TYPE_CHECKING:
    from core.corrections import CorrectionStore



@dataclass
class RestoredCorrection:
    alpha: np.ndarray  # (H, W) uint8
    predicted: np.ndarray | None  # (H, W) uint8 0/255, the model's mask before the corrections
    model: str


def _read_gray(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        photo = read_photo(path)
    except ImageReadError:
        return None
    return photo.rgb[..., 0].copy()


def load_correction(store: CorrectionStore, key: str, size: tuple[int, int]) -> RestoredCorrection | None:
    """The saved correction of photo ``key`` if it exists and has the photo's ``size`` (w, h)."""
    record = store.get(key)
    if record is None:
        return None
    try:
        alpha = store.load_alpha(record.source, key=key)
    except ImageReadError:
        return None
    if alpha is None or alpha.shape != (size[1], size[0]):
        return None
    mask = alpha >= 128
    predicted = _read_gray(record.folder / "predicted.png")
    if predicted is not None:
        predicted = np.where(predicted >= 128, 255, 0).astype(np.uint8) if predicted.shape == mask.shape else None
    return RestoredCorrection(alpha, predicted, record.model)


def save_correction(store: CorrectionStore, photo: Path, key: str, alpha: np.ndarray,
                    predicted: np.ndarray | None, model: str) -> None:
    """Store ``alpha`` as the photo's correction (binary mask + exact alpha when it is soft)."""
    store.save(photo, alpha >= 128, predicted=None if predicted is None else predicted >= 128, model=model, key=key)
    from core.corrections import ALPHA_FILE  # imported late: core.corrections loads torch

    soft_file = store.folder_for(key) / ALPHA_FILE
    if np.any((alpha > 0) & (alpha < 255)):
        write_bytes_atomic(soft_file, encode_png(alpha, compress_level=1))
    else:
        with contextlib.suppress(FileNotFoundError):
            soft_file.unlink()
