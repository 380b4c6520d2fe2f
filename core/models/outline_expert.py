"""The studio outline expert: a second network, stored in the same checkpoint, that draws the outline
of a car on a studio-like photo where the main network agrees with it about the whole car.

The shipped default's main network knows streets, lots and studios, but it draws a studio car's outline
a pixel or two outside the car (model card, sessions 42-49). The studio-only network it was trained from
draws that outline better, and fails on the street. So the expert's answer is used only where both
networks agree on the car (their masks' Dice at least ``agreement`` at the working size), and only within
``band`` working pixels of the main network's outline, where it weighs ``share`` in a blend of both
networks' logits: elsewhere, and on every photo where they disagree, the main network's answer stands.
The card's "Session 50" has the figures.

``expert_logits`` asks the expert first at a lower resolution (``preview_size``): a photo whose preview
already disagrees by more than ``PREVIEW_MARGIN`` below the rule's agreement gets no full look, as on most
street photos, which saves most of the expert's time there (card, "Session 51").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from core.models.networks.blocks import logits_at, smaller_input_size

TENSOR_PREFIX = "outline_expert."  # the expert's tensors in a checkpoint: this prefix + its state_dict names
# The preview's side as a share of the working size (320 at 512, about a third of the full look's time), and
# how far below the rule's agreement a preview may fall and still earn the full look. On 521 held-out photos
# (Carvana, stanford-cars, car-parts test) no photo whose full look agreed had a preview more than 0.009
# under the mark (the least 0.962 against 0.97); the margin is four times that.
PREVIEW_SHARE = 0.625
PREVIEW_MARGIN = 0.04


@dataclass(frozen=True)
class OutlineExpertRule:
    """Where the expert's answer counts: within ``band`` working pixels of the main network's outline,
    on photos whose two masks agree at a Dice of at least ``agreement``; there its logits weigh ``share``
    (1: they replace the main network's)."""

    band: int = 6
    agreement: float = 0.97
    share: float = 0.75

    def __post_init__(self) -> None:
        if isinstance(self.band, bool) or not isinstance(self.band, int) or not 1 <= self.band <= 64:
            raise ValueError(f"band must be a whole number of pixels from 1 to 64, got {self.band!r}")
        if isinstance(self.agreement, bool) or not isinstance(self.agreement, (int, float)) \
                or not 0.5 <= self.agreement <= 1.0:
            raise ValueError(f"agreement must be a Dice from 0.5 to 1, got {self.agreement!r}")
        if isinstance(self.share, bool) or not isinstance(self.share, (int, float)) or not 0.0 < self.share <= 1.0:
            raise ValueError(f"share must be above 0 and at most 1, got {self.share!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> OutlineExpertRule:
        """Raises ``TypeError`` or ``ValueError`` for anything but ``to_dict``'s fields and types."""
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"band", "agreement", "share"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
        return cls(band=data.get("band", cls.band), agreement=data.get("agreement", cls.agreement),
                   share=data.get("share", cls.share))


def mask_agreement(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Dice between two batches of masks (N, S, S) bool, per photo (N,); 1 where both are empty."""
    first, second = first.float(), second.float()
    overlap = (first * second).sum(dim=(1, 2))
    total = first.sum(dim=(1, 2)) + second.sum(dim=(1, 2))
    return torch.where(total > 0, 2 * overlap / total.clamp(min=1), torch.ones_like(total))


def outline_band(mask: torch.Tensor, band: int) -> torch.Tensor:
    """The pixels within ``band`` pixels (a square window) of the outline of each (N, S, S) bool mask:
    where the mask grown by ``band`` and the mask shrunk by ``band`` differ."""
    car = mask.float()[:, None]
    grown = _grow(car, band)
    shrunk = 1 - _grow(1 - car, band)  # the background grown: the car shrunk
    return (grown > shrunk)[:, 0]


def _grow(values: torch.Tensor, band: int) -> torch.Tensor:
    """The maximum over a (2 band + 1)-pixel square around each pixel of (N, 1, S, S) values, as two 1-D
    passes (four times faster on a CPU than one square at band 6). Max pooling pads with -inf: outside
    the image counts as neither car nor background, so a car cut by the frame has no outline along it."""
    size = 2 * band + 1
    rows = F.max_pool2d(values, (1, size), stride=1, padding=(0, band))
    return F.max_pool2d(rows, (size, 1), stride=1, padding=(band, 0))


def combine_logits(main: torch.Tensor, expert: torch.Tensor, rule: OutlineExpertRule) -> tuple[torch.Tensor, torch.Tensor]:
    """The main network's logits (N, 2, S, S), blended with the expert's (``rule.share``) within
    ``rule.band`` of the main outline on the photos where both masks agree (``rule.agreement``); and
    those photos, (N,) bool."""
    main_mask, expert_mask = main[:, 1] > main[:, 0], expert[:, 1] > expert[:, 0]
    agree = mask_agreement(main_mask, expert_mask) >= rule.agreement
    if not agree.any():  # most street views: no band to draw (it costs 25 ms at 512x512 on 2 CPU cores)
        return main, agree
    use = outline_band(main_mask, rule.band) & agree[:, None, None]
    return torch.where(use[:, None], rule.share * expert + (1 - rule.share) * main, main), agree


def preview_size(size: int) -> int | None:
    """The side of the expert's preview for a ``size`` working size (``PREVIEW_SHARE`` of it, as a network
    takes it); None when no smaller side is."""
    return smaller_input_size(size, PREVIEW_SHARE)


def expert_logits(main: torch.Tensor, batch: torch.Tensor, expert: torch.nn.Module, rule: OutlineExpertRule,
                  *, preview: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``combine_logits`` of the main network's logits (N, 2, S, S) with ``expert``'s for the network input
    ``batch`` (N, 3, S, S), calling the expert at full size only on the photos whose preview (the batch
    scaled to ``preview_size``) agrees with the main mask at ``rule.agreement - PREVIEW_MARGIN`` or more
    (every photo without ``preview``). Returns the logits, the photos the expert looked at in full and those
    whose outline it drew ((N,) bool)."""
    main_mask = main[:, 1] > main[:, 0]
    looked = torch.ones(len(main), dtype=torch.bool, device=main.device)
    side = preview_size(batch.shape[-1]) if preview else None
    if side is not None:
        glance = logits_at(expert, batch, side)
        looked = mask_agreement(main_mask, glance[:, 1] > glance[:, 0]) >= rule.agreement - PREVIEW_MARGIN
    used = torch.zeros_like(looked)
    if not looked.any():
        return main, looked, used
    combined, agree = combine_logits(main[looked], expert(batch[looked]).float(), rule)
    used[looked] = agree
    if looked.all():
        return combined, looked, used
    result = main.clone()
    result[looked] = combined
    return result, looked, used
