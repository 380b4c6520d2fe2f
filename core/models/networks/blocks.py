"""Building blocks shared by the networks of the study."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Every network's input must have height and width divisible by this (five 2x2 poolings).
SIZE_MULTIPLE = 32


def smaller_input_size(size: int, share: float) -> int | None:
    """The input side nearest ``share`` x ``size`` that a network takes (a multiple of ``SIZE_MULTIPLE``, at
    least one), or None when that is not smaller than ``size``."""
    side = max(SIZE_MULTIPLE, round(size * share / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    return side if side < size else None


def logits_at(model: nn.Module, batch: torch.Tensor, side: int, *, mirror: bool = False) -> torch.Tensor:
    """``model``'s logits for the network input ``batch`` (N, 3, S, S) scaled bilinearly to ``side``, with
    ``mirror`` averaged with its answer for the mirror image, scaled back to S: (N, C, S, S) float32."""
    small = F.interpolate(batch, size=(side, side), mode="bilinear", align_corners=False)
    logits = model(small).float()
    if mirror:
        logits = (logits + model(small.flip(-1)).float().flip(-1)) / 2
    return F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)


class CBR(nn.Sequential):
    """3x3 convolution (with bias) -> BatchNorm2d -> ReLU; spatial size is preserved."""

    def __init__(self, in_channels: int, out_channels: int, *, dilation: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def coordinate_maps(batch: int, height: int, width: int, *, like: torch.Tensor) -> torch.Tensor:
    """The study's constant maps, shape (batch, 2, height, width).

    Channel 0 is I_X(x, y) = x / width - 0.5, channel 1 is I_Y(x, y) = y / height - 0.5.
    """
    # Computed in float32 (bfloat16 cannot count past 256 exactly), then cast to ``like``.
    xs = (torch.arange(width, device=like.device, dtype=torch.float32) / width - 0.5).to(like.dtype)
    ys = (torch.arange(height, device=like.device, dtype=torch.float32) / height - 0.5).to(like.dtype)
    x_map = xs.view(1, 1, 1, width).expand(batch, 1, height, width)
    y_map = ys.view(1, 1, height, 1).expand(batch, 1, height, width)
    return torch.cat([x_map, y_map], dim=1)


def check_input(x: torch.Tensor, in_channels: int = 3, multiple: int = SIZE_MULTIPLE) -> None:
    """Raise a ValueError that says what to do when ``x`` is not a valid network input."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f"expected a (batch, {in_channels}, height, width) tensor, got shape {tuple(x.shape)}"
        )
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(
            f"input size {height}x{width} is not a multiple of {multiple}: resize or pad it "
            f"(core.models.preprocess does this for you)"
        )
