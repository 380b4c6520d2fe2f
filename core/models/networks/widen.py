"""Widen a trained SegNet-family network without changing what it computes (Net2WiderNet,
Chen et al. 2016), so that training goes on from its answers with more channels to learn with.

Every layer's channels ``c`` become ``c * new_width / width``: the first ``c`` are the old ones, each
new one copies a random old one (its convolution filter, bias and batch-norm statistics); a decoder
layer whose output is unpooled copies the channels its encoder level copied, as the pooling
indices are per channel. Where a layer reads a channel that now exists ``n`` times, the old weight
is split among the ``n`` copies in shares that sum to 1 but differ a little, so the output is the
same (up to rounding) and the copies do not stay identical once trained.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.models.networks.blocks import CBR
from core.models.networks.indexed import IndexedSegNet


class _Channels:
    """A layer's input as seen by the widened network: for each new channel, the old channel it
    copies and that copy's share of the old channel's outgoing weight."""

    def __init__(self, source: np.ndarray, share: np.ndarray, old_count: int) -> None:
        self.source, self.share, self.old_count = source, share, old_count

    @classmethod
    def unchanged(cls, count: int) -> _Channels:
        return cls(np.arange(count), np.ones(count), count)

    @classmethod
    def widened(cls, old: int, new: int, rng: np.random.Generator, jitter: float) -> _Channels:
        source = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
        copies = np.bincount(source, minlength=old)
        share = 1.0 / copies[source]
        for channel in np.flatnonzero(copies > 1):  # shares of one old channel: sum 1, not all equal
            members = np.flatnonzero(source == channel)
            offsets = rng.normal(0.0, jitter, len(members))
            share[members] += (offsets - offsets.mean()) / len(members)
        return cls(source, share, old)

    def __add__(self, other: _Channels) -> _Channels:  # concatenated inputs: other's channels follow
        return _Channels(np.concatenate([self.source, other.source + self.old_count]),
                         np.concatenate([self.share, other.share]), self.old_count + other.old_count)


def _copy_conv(old: nn.Conv2d, new: nn.Conv2d, inputs: _Channels, outputs: _Channels) -> None:
    copied = torch.as_tensor(outputs.source)
    weight = old.weight.detach()[copied][:, torch.as_tensor(inputs.source)]
    share = torch.as_tensor(inputs.share, dtype=weight.dtype).view(1, -1, 1, 1)
    new.weight.data.copy_(weight * share)
    if old.bias is not None:
        new.bias.data.copy_(old.bias.detach()[copied])


def _copy_cbr(old: CBR, new: CBR, inputs: _Channels, outputs: _Channels) -> None:
    _copy_conv(old[0], new[0], inputs, outputs)
    index = torch.as_tensor(outputs.source)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new[1], name).data.copy_(getattr(old[1], name).detach()[index])
    new[1].num_batches_tracked.data.copy_(old[1].num_batches_tracked)


def network_width(model: IndexedSegNet) -> int:
    """The width (first stage's channels) of a SegNet-family network."""
    return model.classifier.in_channels


def check_widening(model: nn.Module, width: int) -> int:
    """``model``'s width, once it is known that it can be widened to ``width``; ValueError otherwise."""
    if not isinstance(model, IndexedSegNet):
        raise ValueError(f"only the SegNet family (segnet, arc1-3, maskingnet) can be widened, not {type(model).__name__}")
    old_width = network_width(model)
    if width < old_width or width % 2:
        raise ValueError(f"the new width must be an even number of at least {old_width}, got {width}")
    return old_width


def widen_network(model: IndexedSegNet, width: int, *, seed: int = 0, jitter: float = 0.1) -> IndexedSegNet:
    """A new network of ``width`` (at least the old one's) computing what ``model`` computes.

    ``jitter`` spreads the weight shares of copied channels (as a share of an even split).
    Raises ValueError for another kind of network or a narrower width.
    """
    check_widening(model, width)
    wider = IndexedSegNet(model.config, width=width, num_classes=model.classifier.out_channels)
    wider.train(model.training)
    rng = np.random.default_rng(seed)

    def outputs_of(old_layer: CBR, new_layer: CBR) -> _Channels:
        return _Channels.widened(old_layer[0].out_channels, new_layer[0].out_channels, rng, jitter)

    coords = _Channels.unchanged(2)
    channels = _Channels.unchanged(model.encoder.stages[0][0][0].in_channels)
    stage_outputs = []
    for old_stage, new_stage in zip(model.encoder.stages, wider.encoder.stages):
        for old_layer, new_layer in zip(old_stage, new_stage):
            outputs = outputs_of(old_layer, new_layer)
            _copy_cbr(old_layer, new_layer, channels, outputs)
            channels = outputs
        stage_outputs.append(channels)
    for stage_index, (old_stage, new_stage) in enumerate(zip(model.decoder, wider.decoder)):
        level = len(stage_outputs) - 1 - stage_index  # the encoder level this stage unpools to (as forward)
        if stage_index == 0 and model.config.coords == "mid":
            channels = channels + coords
        elif stage_index > 0 and model.config.concat_skips:
            channels = channels + stage_outputs[level]
        for layer_index, (old_layer, new_layer) in enumerate(zip(old_stage, new_stage)):
            outputs = outputs_of(old_layer, new_layer)
            if layer_index == len(old_stage) - 1 and level > 0:
                # the next stage unpools these channels with the pooling indices of level - 1,
                # channel by channel: the copies must be of the same channels
                outputs = stage_outputs[level - 1]
            _copy_cbr(old_layer, new_layer, channels, outputs)
            channels = outputs
    _copy_conv(model.classifier, wider.classifier, channels, _Channels.unchanged(model.classifier.out_channels))
    return wider
