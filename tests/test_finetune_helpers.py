"""Helpers (no tests): synthetic photos with masks and saved corrections, for the fine-tuning tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.io.imageio import write_image
from core.store.corrections import CorrectionStore


def synthetic_photo(seed: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A noisy photo with a bright ellipse (the 'car') and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = rng.uniform(0.35, 0.65, size=2) * size
    ry, rx = rng.uniform(0.15, 0.3, size=2) * size
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    rgb = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
    rgb[mask] = np.clip(rgb[mask].astype(int) + 150, 0, 255).astype(np.uint8)
    return rgb, mask


def make_corrections(root: Path, store: CorrectionStore, count: int = 6, groups: int = 3) -> list[Path]:
    """Write ``count`` photos in ``groups`` folders and save a correction for each."""
    photos = []
    for index in range(count):
        folder = root / f"shoot{index % groups}"
        folder.mkdir(parents=True, exist_ok=True)
        rgb, mask = synthetic_photo(index)
        path = folder / f"photo{index}.png"
        write_image(path, rgb)
        predicted = mask.copy()
        predicted[: mask.shape[0] // 4] = True  # the model's mistake the user painted away
        store.save(path, mask, predicted=predicted, model="tiny")
        photos.append(path)
    return photos


def make_folder(root: Path, count: int = 4, start: int = 100) -> Path:
    """``root/images/*.png`` + ``root/masks/*.png``."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        rgb, mask = synthetic_photo(index)
        write_image(root / "images" / f"p{index}.png", rgb)
        write_image(root / "masks" / f"p{index}.png", mask.astype(np.uint8) * 255)
    return root
