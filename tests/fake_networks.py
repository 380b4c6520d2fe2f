"""Stand-ins for a segmentation network in tests: logits drawn from a car map or from the input itself."""

from __future__ import annotations

import torch


def logits_of(car: torch.Tensor, strength: float = 4.0) -> torch.Tensor:
    """(1, 2, S, S) logits of a (S, S) car map (bool or 0/1), ``strength`` the margin."""
    sign = 2 * car.float() - 1
    return torch.stack([-strength * sign, strength * sign])[None]


class InputDrawn(torch.nn.Module):
    """A network whose car is wherever its input's first channel is positive; it records each input's shape."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[int, ...]] = []

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.inputs.append(tuple(batch.shape))
        return torch.cat([logits_of(view[0] > 0) for view in batch])
