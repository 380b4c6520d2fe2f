"""The one preprocessing path shared by training, single-photo inference and batch.

Photos are squeezed to a square working size (as the Carvana training photos were), scaled
to [0, 1] and normalised by the ImageNet mean and standard deviation. Probabilities come back
to the photo's own size by bilinear upsampling of the probabilities, never of a binary mask.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """How a checkpoint wants its input: stored in the checkpoint so loading never guesses."""

    size: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 32 or self.size % 32:
            raise ValueError(f"working size must be a positive multiple of 32, got {self.size!r}")
        if not (_finite_numbers(self.mean) and _finite_numbers(self.std) and min(self.std) > 0):
            raise ValueError(f"mean and std need 3 finite numbers each, std > 0; got {self.mean!r}, {self.std!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocess:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` for anything but the fields of
        ``to_dict`` with their types (no conversion: ``"abc"`` is not a mean)."""
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        mean, std = data["mean"], data["std"]
        if not isinstance(mean, (list, tuple)) or not isinstance(std, (list, tuple)):
            raise ValueError(f"mean and std need 3 finite numbers each, std > 0; got {mean!r}, {std!r}")
        return cls(size=data["size"], mean=tuple(mean), std=tuple(std))

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (size, size, 3) uint8."""
        return resize_array(rgb, self.size, self.size)

    def resize_mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool -> (size, size) float32 share of car in each working pixel."""
        return resize_array(mask.astype(np.float32), self.size, self.size)

    def to_tensor(self, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        """Working-size uint8 images (N, S, S, 3) -> normalised float tensor (N, 3, S, S)."""
        batch = torch.from_numpy(np.ascontiguousarray(np.stack(list(images)) if not isinstance(images, np.ndarray) else images))
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)

    def __call__(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Photos of any size -> the network's input batch."""
        return self.to_tensor([self.resize(image) for image in images])


def _finite_numbers(values: Sequence) -> bool:
    """Three finite real numbers (not booleans, not texts)."""
    return len(values) == 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def resize_array(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with area averaging when shrinking and bilinear interpolation when enlarging."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    shrinking = array.shape[1] >= width and array.shape[0] >= height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interpolation)


def upsample_probability(probability: np.ndarray, width: int, height: int) -> np.ndarray:
    """(S, S) float probabilities in [0, 1] -> (height, width) uint8 in 0..255, bilinear.

    Works in uint8 so a 100-megapixel photo costs one byte a pixel.
    """
    small = np.clip(probability * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if small.shape == (height, width):
        return small
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
