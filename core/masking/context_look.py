"""The context look: the main network masks each view again at a smaller size, where each of its units sees
more of the photo, and a large car region of the working-size mask that the blend of both answers calls
background is cleared: a showroom canopy, a workshop wall, a lot's roof or a person taken for car.

Only whole regions of at least ``REGION_SHARE`` of the working area change, and only from car to
background: a mirror, a wheel, an outline or a car cut by the frame keeps the working-size answer, which
draws fine detail better (the blend alone, everywhere, lost 0.029 of the hand-labelled mirror pixels). The
card's "Session 51" has the figures: car-parts test against the teacher labels 0.9512 -> 0.9588, other
people and vehicles kept 46.6 % -> 40.3 %, the studio unchanged.

A checkpoint may hold a context network (``core.models.context_network``), trained on crowded lots at the
context size: its smaller look then joins the main network's in the context answer, under the file's rule
(card, "Session 53"). Where that rule's ``fill_region`` is above 0 the blend also fills (``fill_with_context``):
a large region the working-size answer calls background and the blend car, such as the flat panel of a white
van, a reflective hood or a snowy roof that the working size takes for sky or wall (card, "Session 56").
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from core.models.context_network import ContextNetworkRule
from core.models.networks.blocks import logits_at, smaller_input_size

CONTEXT_SHARE = 0.625  # the context look's side as a share of the working size (320 at 512)
CONTEXT_WEIGHT = 0.5  # the context look's weight in the blend of both answers' logits (without a context network)
REGION_SHARE = 0.02  # the least region, a share of the working area, that the blend may clear
# A region the blend may fill is a hole: at least this share of the pixels within SURROUND_RING pixels outside
# it are car. The sky, a wall or the road beside a car, which the context answer may call car, meet the car
# along a short part of their border (card, "Session 56").
FILL_SURROUND = 0.6
SURROUND_RING = 3


def context_logits(model: nn.Module, batch: torch.Tensor, context_network: nn.Module | None = None,
                   rule: ContextNetworkRule | None = None) -> torch.Tensor | None:
    """``model``'s logits (N, 2, S, S) for the network input ``batch`` (N, 3, S, S) scaled to the context
    size and averaged with its mirror image, scaled back to S; None when no smaller size exists. With a
    ``context_network`` and its ``rule``: ``rule.own_share`` of those and the rest the context network's,
    looked at alike at ``rule.size_share`` x S (``model`` is not called when its share is 0)."""
    side = smaller_input_size(batch.shape[-1], CONTEXT_SHARE)
    if side is None:
        return None
    if context_network is None or rule is None:
        return logits_at(model, batch, side, mirror=True)
    helper_side = smaller_input_size(batch.shape[-1], rule.size_share)
    if helper_side is None:
        return None
    helper = logits_at(context_network, batch, helper_side, mirror=True)
    if rule.own_share == 0:
        return helper
    return mixed_context(logits_at(model, batch, side, mirror=True), helper, rule.own_share)


def mixed_context(own: torch.Tensor, helper: torch.Tensor, own_share: float) -> torch.Tensor:
    """The context answer with a context network: ``own_share`` x the main network's smaller look ``own`` + the
    rest the context network's ``helper`` (logits alike)."""
    return own_share * own + (1 - own_share) * helper


def blended(main: torch.Tensor, context: torch.Tensor, weight: float) -> torch.Tensor:
    """The blend that clears and fills: the context answer weighing ``weight`` against the working size's."""
    return (1 - weight) * main + weight * context


def large_regions(mask: np.ndarray, least: float, margin: np.ndarray | None = None,
                  least_margin: float = 0.0) -> np.ndarray:
    """The 8-connected regions of a (S, S) bool ``mask`` of at least ``least`` pixels: (S, S) bool. With a
    (S, S) ``margin`` (how surely each pixel is background, in logits), only the regions whose mean margin
    is at least ``least_margin``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] >= least
    if margin is not None and least_margin > 0:
        sums = np.bincount(labels.ravel(), weights=margin.ravel(), minlength=count)
        large &= sums >= least_margin * stats[:, cv2.CC_STAT_AREA]
    large[0] = False  # label 0: outside the mask
    return large[labels]


def clear_with_context(main: torch.Tensor, context: torch.Tensor, weight: float = CONTEXT_WEIGHT,
                       least_margin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The main logits (N, 2, S, S) with the blend of ``main`` and ``context`` (``weight``) taken in every
    region of at least ``REGION_SHARE`` of the area that ``main`` calls car and the blend background, and
    whose blend says so by at least ``least_margin`` logits on average (0: every such region); and the share
    of the area so cleared per view, (N,) float."""
    blend = blended(main, context, weight)
    margin = (blend[:, 0] - blend[:, 1]).cpu().numpy() if least_margin > 0 else [None] * len(main)
    lost = ((main[:, 1] > main[:, 0]) & (blend[:, 1] <= blend[:, 0])).cpu().numpy()
    least = REGION_SHARE * lost.shape[1] * lost.shape[2]
    cleared = np.stack([large_regions(view, least, view_margin, least_margin) if view.sum() >= least
                        else np.zeros_like(view) for view, view_margin in zip(lost, margin)])
    return _blend_taken(main, blend, cleared)


def _blend_taken(main: torch.Tensor, blend: torch.Tensor, regions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``main`` (N, 2, S, S) with ``blend`` taken where ``regions`` (N, S, S) bool, and each view's share of them."""
    shares = torch.from_numpy(regions.mean(axis=(1, 2)).astype(np.float32))
    if not regions.any():
        return main, shares
    take = torch.from_numpy(regions).to(main.device)[:, None]
    return torch.where(take, blend, main), shares


def surrounded_regions(mask: np.ndarray, car: np.ndarray, least: float, least_surround: float) -> np.ndarray:
    """The 8-connected regions of a (S, S) bool ``mask`` of at least ``least`` pixels whose border is mostly
    ``car``: of the pixels within ``SURROUND_RING`` pixels outside a region (inside the frame), at least
    ``least_surround`` are car. (S, S) bool."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    square = np.ones((2 * SURROUND_RING + 1, 2 * SURROUND_RING + 1), np.uint8)
    keep = np.zeros(count, bool)
    for label in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= least):
        if label == 0:  # outside the mask
            continue
        x, y, w, h = (int(v) for v in stats[label, :4])
        top, left = max(0, y - SURROUND_RING), max(0, x - SURROUND_RING)
        window = labels[top:y + h + SURROUND_RING, left:x + w + SURROUND_RING] == label
        ring = cv2.dilate(window.astype(np.uint8), square).astype(bool) & ~window
        border = car[top:y + h + SURROUND_RING, left:x + w + SURROUND_RING][ring]
        keep[label] = border.size > 0 and border.mean() >= least_surround
    return keep[labels]


def fill_with_context(main: torch.Tensor, context: torch.Tensor, weight: float, least_share: float,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The main logits (N, 2, S, S) with the blend of ``main`` and ``context`` (``weight``) taken in every
    region of at least ``least_share`` of the area that ``main`` calls background, the blend car, and the car
    surrounds (``FILL_SURROUND``, ``surrounded_regions``): a hole, not the sky or the road beside the car. Only
    ever background to car. Returns those logits and the share of the area so filled per view, (N,) float."""
    blend = blended(main, context, weight)
    car = (main[:, 1] > main[:, 0]).cpu().numpy()
    gained = ~car & (blend[:, 1] > blend[:, 0]).cpu().numpy()
    least = least_share * gained.shape[1] * gained.shape[2]
    filled = np.stack([surrounded_regions(view, view_car, least, FILL_SURROUND) if view.sum() >= least
                       else np.zeros_like(view) for view, view_car in zip(gained, car)])
    return _blend_taken(main, blend, filled)
