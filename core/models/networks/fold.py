"""Batch norm folded into the convolution before it: the same network for inference, faster.

In eval mode a ``BatchNorm2d`` is a fixed per-channel affine map, so a ``Conv2d`` followed by
one is a single convolution with rescaled weights and a new bias. Folding removes every batch
norm pass over the activations (about a sixth of a MaskingNet's CPU time at 512x512); the
masks agree with the unfolded network's up to float rounding (figures in the README's
"Networks and training"; ``benchmarks/bench_model.py`` times both forms).
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` in which each ``Conv2d`` directly followed by a
    ``BatchNorm2d`` in an ``nn.Sequential`` is one convolution and the batch norm is an
    ``nn.Identity``. Inference only: the copy has no batch norm left to train. ``model`` itself
    is not changed; a model with nothing to fold comes back as an unchanged copy."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for index in range(len(module) - 1):
            conv, norm = module[index], module[index + 1]
            if _foldable(conv, norm):
                module[index] = fuse_conv_bn_eval(conv, norm)
                module[index + 1] = nn.Identity()
    return folded


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    """A plain 2-D convolution feeding a batch norm over its channels with running statistics."""
    return (
        type(conv) is nn.Conv2d
        and type(norm) is nn.BatchNorm2d
        and norm.track_running_stats
        and norm.running_mean is not None
        and norm.num_features == conv.out_channels
    )
