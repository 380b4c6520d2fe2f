"""SegNet, Arc #1, Arc #2, Arc #3 and MaskingNet: a VGG-16-BN encoder whose max-pooling
indices drive the decoder's unpooling. The variants differ by four switches (see
``IndexedConfig``); the study's table is reproduced by ``core.models.networks.registry``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models.networks.blocks import CBR, check_input, coordinate_maps

# Layers per VGG-16 stage and the stage widths as multiples of ``width``.
VGG_DEPTHS = (2, 2, 3, 3, 3)
VGG_MULTIPLIERS = (1, 2, 4, 8, 8)


@dataclass(frozen=True)
class IndexedConfig:
    """Switches that turn SegNet into the study's Arcs and MaskingNet."""

    concat_skips: bool  # concatenate the encoder map after unpooling (Arc #1 onwards)
    coords: str  # "none", "input" (Arc #2) or "mid" (Arc #3, MaskingNet)
    dilated: bool  # dilation 2 in the deepest encoder and decoder stages (MaskingNet)


class VGGEncoder(nn.Module):
    """VGG-16-BN features; returns each stage's last feature map and its pooling indices."""

    def __init__(self, in_channels: int, width: int, *, dilated: bool) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        previous = in_channels
        for stage_index, (depth, multiplier) in enumerate(zip(VGG_DEPTHS, VGG_MULTIPLIERS)):
            channels = width * multiplier
            dilation = 2 if dilated and stage_index == 4 else 1
            layers = []
            for _ in range(depth):
                layers.append(CBR(previous, channels, dilation=dilation))
                previous = channels
            self.stages.append(nn.Sequential(*layers))
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        features, indices = [], []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
            x, stage_indices = self.pool(x)
            indices.append(stage_indices)
        return x, features, indices


def _decoder_layout(width: int, concat_skips: bool) -> list[list[tuple[int, int]]]:
    """(in, out) channels of each decoder stage, deepest first, without coordinate maps."""
    w1, w2, w4, w8 = width, 2 * width, 4 * width, 8 * width
    if not concat_skips:  # SegNet
        return [
            [(w8, w8), (w8, w8), (w8, w8)],
            [(w8, w8), (w8, w8), (w8, w4)],
            [(w4, w4), (w4, w4), (w4, w2)],
            [(w2, w2), (w2, w1)],
            [(w1, w1)],
        ]
    return [
        [(w8, w8), (w8, w8), (w8, w8)],
        [(2 * w8, w8), (w8, w8), (w8, w4)],
        [(2 * w4, w4), (w4, w4), (w4, w2)],
        [(2 * w2, w2), (w2, w2), (w2, w1)],
        [(2 * w1, w1), (w1, w1), (w1, w1)],
    ]


class IndexedSegNet(nn.Module):
    """Encoder-decoder with max-unpooling by the encoder's indices (SegNet family)."""

    def __init__(self, config: IndexedConfig, *, width: int = 64, num_classes: int = 2) -> None:
        super().__init__()
        if config.coords not in ("none", "input", "mid"):
            raise ValueError(f"coords must be 'none', 'input' or 'mid', not {config.coords!r}")
        self.config = config
        self.in_channels = 3
        encoder_inputs = 5 if config.coords == "input" else 3
        self.encoder = VGGEncoder(encoder_inputs, width, dilated=config.dilated)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.decoder = nn.ModuleList()
        for stage_index, layout in enumerate(_decoder_layout(width, config.concat_skips)):
            deepest = stage_index == 0
            dilation = 2 if config.dilated and deepest else 1
            layers = []
            for layer_index, (cin, cout) in enumerate(layout):
                if deepest and layer_index == 0 and config.coords == "mid":
                    cin += 2
                layers.append(CBR(cin, cout, dilation=dilation))
            self.decoder.append(nn.Sequential(*layers))
        self.classifier = nn.Conv2d(width, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels)
        batch, _, height, width = x.shape
        if self.config.coords == "input":
            x = torch.cat([x, coordinate_maps(batch, height, width, like=x)], dim=1)
        x, features, indices = self.encoder(x)
        for stage_index, stage in enumerate(self.decoder):
            level = 4 - stage_index
            skip = features[level]
            x = self.unpool(x, indices[level], output_size=skip.shape[-2:])
            if stage_index == 0 and self.config.coords == "mid":
                h, w = x.shape[-2:]
                x = torch.cat([x, coordinate_maps(batch, h, w, like=x)], dim=1)
            elif stage_index > 0 and self.config.concat_skips:
                x = torch.cat([x, skip], dim=1)
            x = stage(x)
        return self.classifier(x)
