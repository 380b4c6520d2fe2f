"""The registry of the study's six networks: ``create_model(name, width=..., num_classes=...)``."""

from __future__ import annotations

from functools import partial
from typing import Callable

from torch import nn

from core.models.networks.blocks import SIZE_MULTIPLE
from core.models.networks.indexed import IndexedConfig, IndexedSegNet
from core.models.networks.unet import UNet

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet": UNet,
    "segnet": partial(IndexedSegNet, IndexedConfig(concat_skips=False, coords="none", dilated=False)),
    "arc1": partial(IndexedSegNet, IndexedConfig(concat_skips=True, coords="none", dilated=False)),
    "arc2": partial(IndexedSegNet, IndexedConfig(concat_skips=True, coords="input", dilated=False)),
    "arc3": partial(IndexedSegNet, IndexedConfig(concat_skips=True, coords="mid", dilated=False)),
    "maskingnet": partial(IndexedSegNet, IndexedConfig(concat_skips=True, coords="mid", dilated=True)),
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)

# The study's parameter counts at width 64 with 2 classes.
STUDY_PARAMETER_COUNTS: dict[str, int] = {
    "unet": 31_043_586,
    "segnet": 29_444_162,
    "arc1": 32_799_554,
    "arc2": 32_800_706,
    "arc3": 32_808_770,
    "maskingnet": 32_808_770,
}

__all__ = ["MODEL_NAMES", "SIZE_MULTIPLE", "STUDY_PARAMETER_COUNTS", "UnknownModelError", "count_parameters", "create_model"]


class UnknownModelError(ValueError):
    """Raised for a model name that is not in the registry."""


def create_model(name: str, *, width: int = 64, num_classes: int = 2) -> nn.Module:
    """Build one of the study's networks, randomly initialised.

    ``width`` is the first stage's channel count (64 in the study); any positive
    multiple of 2 works. Inputs must have sides that are multiples of 32.
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}"
        ) from None
    if width < 2 or width % 2:
        raise ValueError(f"width must be an even number >= 2, got {width}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return builder(width=width, num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    """All parameters, trainable or not, as the study counts them."""
    return sum(p.numel() for p in model.parameters())
