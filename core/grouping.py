"""Which photos belong together (one car, one shoot, one clip), so that a validation split never
puts them on both sides and the review shows them as one car. One rule for training,
fine-tuning, saved corrections and the batch review.

A photo's group is, in this order:

1. Carvana's car id: ``0cdf5b5d0ce1_07.jpg`` -> ``0cdf5b5d0ce1``;
2. a numbered series: the name without its trailing number and separators
   (``clipA_00010.jpg`` -> ``clipA``, ``IMG 0042.jpg`` -> ``IMG``), within its folder;
3. else its folder: the sub-folder under ``root``, or the folder's own name.

``near_duplicate_groups`` then joins groups that hold near-identical photos (the same shot saved
twice, resized or recompressed; burst frames), found by small thumbnails.

This module is Qt-free and does not import torch.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Sequence

import numpy as np

CARVANA_NAME = re.compile(r"^([0-9a-f]{12})_\d{2}$")
_TRAILING_NUMBER = re.compile(r"[\s._-]*\d+$")

# Near-identical: at most this many of the 256 bits of the 16x16 gradient hash differ and the
# 8x8 colour thumbnails differ by at most this mean (0..255). Photos of different Carvana cars
# at the same studio angle come this close (24 of 50560 pairs of 80 cars), so groups named by a
# Carvana id are never joined this way.
HASH_BITS = 16
COLOUR_MEAN = 4.0


def carvana_car(stem: str) -> str | None:
    """Carvana's 12-hex-digit car id in a ``<id>_<nn>`` name, else None."""
    match = CARVANA_NAME.match(stem)
    return match.group(1) if match else None


def series_name(stem: str) -> str | None:
    """The series a numbered name belongs to (``clipA_00010`` -> ``clipA``); None for a name
    without a trailing number, or one that is only a number."""
    series = _TRAILING_NUMBER.sub("", stem)
    return series if series and series != stem else None


def photo_group(image: str | Path, root: str | Path | None = None) -> str:
    """The group of ``image`` (see the module docstring); folders are named relative to ``root``."""
    image = Path(image)
    car = carvana_car(image.stem)
    if car is not None:
        return car
    folder = image.parent
    if root is not None:
        root = Path(root)
        scope = folder.relative_to(root).as_posix() if root != folder and root in folder.parents else ""
    else:
        scope = folder.name
    series = series_name(image.stem)
    if series is not None:
        return f"{scope}/{series}" if scope else series
    return scope or folder.name or "."


def thumbnail_signature(image: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A 256-bit gradient hash of a 17x16 grey thumbnail and an 8x8 colour thumbnail (cached
    while the file is unchanged)."""
    stat = Path(image).stat()
    return _signature(str(image), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8192)
def _signature(image: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    with Image.open(image) as photo:
        photo.draft("RGB", (64, 64))  # JPEGs decode at 1/8 size: fast
        photo = photo.convert("RGB")
        grey = np.asarray(photo.convert("L").resize((17, 16), Image.Resampling.BILINEAR), dtype=np.int16)
        colour = np.asarray(photo.resize((8, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    return (grey[:, 1:] > grey[:, :-1]).ravel(), colour


def near_duplicate_groups(images: Sequence[Path], groups: Sequence[str]) -> list[str]:
    """``groups`` with those that share near-identical photos joined (under the first name in
    sorted order). Unreadable photos and Carvana-id groups are left as they are."""
    parent = {group: group for group in groups}

    def find(group: str) -> str:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    hashes, colours, named = [], [], []
    for image, group in zip(images, groups):
        if carvana_car(f"{group}_01") is not None:
            continue
        try:
            bits, colour = thumbnail_signature(image)
        except (OSError, ValueError):
            continue
        hashes.append(bits)
        colours.append(colour.ravel())
        named.append(group)
    if len(named) > 1:
        bits, colour = np.stack(hashes), np.stack(colours)
        for i in range(len(named) - 1):
            close = (np.count_nonzero(bits[i + 1:] != bits[i], axis=1) <= HASH_BITS) & (
                np.abs(colour[i + 1:] - colour[i]).mean(axis=1) <= COLOUR_MEAN)
            for j in np.flatnonzero(close) + i + 1:
                a, b = find(named[i]), find(named[j])
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return [find(group) for group in groups]


_ANGLE_NAME = re.compile(r"^(.+?)_(\d{1,3})$")


def car_and_angle(source: str | Path, root: str | Path | None = None) -> tuple[str, int]:
    """The car a photo shows (``photo_group``: Carvana id, numbered series, else
    folder, named relative to ``root``) and its angle: the number of a ``<car>_<nn>`` name, else -1."""
    match = _ANGLE_NAME.match(Path(source).stem)
    return photo_group(source, root), int(match.group(2)) if match else -1
