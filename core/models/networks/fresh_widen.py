"""Widen a trained SegNet-family network with *fresh* channels, and name the entries it had before.

Unlike ``widen.py`` (Net2WiderNet, whose new channels copy old ones), every layer keeps its old
channels first and adds random new ones. The weights from new inputs into old outputs start at zero,
so the old channels, and with them the network's answer, are exactly the old network's. Training
only the added entries (``old_entry_masks``) then gives the network room for what its old channels
could not learn without forgetting something else (the model card's session 39).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from core.models.networks.indexed import IndexedSegNet
from core.models.networks.widen import check_widening, network_width


@dataclass(frozen=True)
class _OldPart:
    """Where one layer of the narrow network sits in the wide one."""

    conv: str  # the convolution's module name in both networks
    norm: str | None  # its batch norm's module name (None for the classifier)
    inputs: list[int]  # the wide layer's input channel for each old input channel, in order
    outputs: int  # old output channels: the wide layer's first ``outputs``


def _old_parts(model: IndexedSegNet, old_width: int) -> Iterator[_OldPart]:
    """Each convolution of a network ``model`` widened from ``old_width``, with its old part."""
    def old(channels: int) -> int:  # every stage's channels are the width times the stage's multiple
        return channels // network_width(model) * old_width

    encoder_outputs: list[tuple[int, int]] = []  # (old, new) channels of each encoder level
    for s, stage in enumerate(model.encoder.stages):
        for i, layer in enumerate(stage):
            conv = layer[0]
            inputs = conv.in_channels if s == 0 and i == 0 else old(conv.in_channels)
            yield _OldPart(f"encoder.stages.{s}.{i}.0", f"encoder.stages.{s}.{i}.1", list(range(inputs)),
                           old(conv.out_channels))
        encoder_outputs.append((old(stage[-1][0].out_channels), stage[-1][0].out_channels))
    previous = encoder_outputs[-1]  # (old, new) channels flowing into the next layer
    for s, stage in enumerate(model.decoder):
        level = len(encoder_outputs) - 1 - s
        for i, layer in enumerate(stage):
            conv = layer[0]
            if i == 0 and s == 0 and model.config.coords == "mid":  # [x, 2 coordinate maps]
                inputs = list(range(previous[0])) + [previous[1], previous[1] + 1]
            elif i == 0 and s > 0 and model.config.concat_skips:  # [unpooled x, the encoder's map]
                inputs = list(range(previous[0])) + list(range(previous[1], previous[1] + encoder_outputs[level][0]))
            else:
                inputs = list(range(previous[0]))
            previous = (old(conv.out_channels), conv.out_channels)
            yield _OldPart(f"decoder.{s}.{i}.0", f"decoder.{s}.{i}.1", inputs, previous[0])
    yield _OldPart("classifier", None, list(range(old_width)), model.classifier.out_channels)


def fresh_widen(model: IndexedSegNet, width: int, *, seed: int = 0) -> IndexedSegNet:
    """A network of ``width`` (even, at least the old one's) computing what ``model``
    computes, its new channels random (torch's default initialisation, seeded by ``seed``).
    Raises ValueError for another kind of network or a narrower width."""
    old_width = check_widening(model, width)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wider = IndexedSegNet(model.config, width=width, num_classes=model.classifier.out_channels)
    old_modules, new_modules = dict(model.named_modules()), dict(wider.named_modules())
    with torch.no_grad():
        for part in _old_parts(wider, old_width):
            old_conv, new_conv = old_modules[part.conv], new_modules[part.conv]
            new_conv.weight[: part.outputs] = 0.0
            new_conv.weight[: part.outputs, part.inputs] = old_conv.weight
            new_conv.bias[: part.outputs] = old_conv.bias
            if part.norm is not None:
                old_norm, new_norm = old_modules[part.norm], new_modules[part.norm]
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(new_norm, name)[: part.outputs] = getattr(old_norm, name)
                new_norm.num_batches_tracked.copy_(old_norm.num_batches_tracked)
    wider.train(model.training)
    return wider


def old_entry_masks(model: IndexedSegNet, old_width: int) -> dict[str, torch.Tensor]:
    """For each parameter of ``model`` (a network ``fresh_widen`` made from one of ``old_width``),
    a boolean tensor of its shape, True where the entry is the old network's."""
    if network_width(model) < old_width:
        raise ValueError(f"a network of width {network_width(model)} was not widened from width {old_width}")
    modules = dict(model.named_modules())
    masks: dict[str, torch.Tensor] = {}
    for part in _old_parts(model, old_width):
        conv = modules[part.conv]
        weight = torch.zeros_like(conv.weight, dtype=torch.bool)
        weight[: part.outputs, part.inputs] = True
        masks[f"{part.conv}.weight"] = weight
        bias = torch.zeros_like(conv.bias, dtype=torch.bool)
        bias[: part.outputs] = True
        masks[f"{part.conv}.bias"] = bias
        if part.norm is not None:
            for name in ("weight", "bias"):
                entries = torch.zeros_like(getattr(modules[part.norm], name), dtype=torch.bool)
                entries[: part.outputs] = True
                masks[f"{part.norm}.{name}"] = entries
    return masks


def freeze_old_entries(model: nn.Module, masks: dict[str, torch.Tensor]) -> list[torch.utils.hooks.RemovableHandle]:
    """Zero the gradient of every old entry, so that an optimizer whose moments start at zero
    (Adam, SGD without weight decay) leaves them as they are. Returns the hooks' handles."""
    handles = []
    for name, parameter in model.named_parameters():
        if name in masks:
            keep = (~masks[name]).to(parameter.device)
            handles.append(parameter.register_hook(lambda grad, keep=keep: grad * keep))
    return handles


class SlowOldEntries:
    """Moves the old entries at ``ratio`` times the optimizer's rate: ``after_step`` scales the change
    each step made to them since ``before_step``. (Scaling their gradients would not do: Adam's step
    does not grow with the gradient.) The new entries move at the full rate."""

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor], ratio: float) -> None:
        if ratio < 0:
            raise ValueError(f"the old entries' rate must be at least 0, got {ratio} times the lr")
        self.ratio = ratio
        self._parameters = [(parameter, masks[name].to(parameter.device))
                            for name, parameter in model.named_parameters() if name in masks]
        self._before: list[torch.Tensor] = []

    @torch.no_grad()
    def before_step(self) -> None:
        self._before = [parameter.detach().clone() for parameter, _ in self._parameters]

    @torch.no_grad()
    def after_step(self) -> None:
        if not self._before:
            raise RuntimeError("SlowOldEntries.after_step without before_step")
        for (parameter, old), before in zip(self._parameters, self._before, strict=True):
            step = parameter - before
            parameter.copy_(torch.where(old, before + self.ratio * step, parameter))
        self._before = []
