"""U-Net: the study's baseline (31,043,586 parameters at width 64)."""

from __future__ import annotations

import torch
from torch import nn

from core.models.networks.blocks import CBR, check_input


class UNet(nn.Module):
    """Five encoder stages of two CBR layers, transposed-convolution decoder with skips."""

    in_channels = 3

    def __init__(self, *, width: int = 64, num_classes: int = 2) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(5)]  # 64, 128, 256, 512, 1024
        self.encoder = nn.ModuleList()
        previous = self.in_channels
        for channels in widths:
            self.encoder.append(nn.Sequential(CBR(previous, channels), CBR(channels, channels)))
            previous = channels
        self.pool = nn.MaxPool2d(2, 2)
        self.upsamplers = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for channels in reversed(widths[1:]):  # 1024, 512, 256, 128
            half = channels // 2
            self.upsamplers.append(nn.ConvTranspose2d(channels, half, 2, stride=2))
            self.decoder.append(nn.Sequential(CBR(channels, half), CBR(half, half)))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels)  # 4 poolings need 16; 32 keeps one rule for all
        skips = []
        for index, stage in enumerate(self.encoder):
            if index:
                x = self.pool(x)
            x = stage(x)
            skips.append(x)
        for upsample, stage, skip in zip(self.upsamplers, self.decoder, reversed(skips[:-1])):
            x = stage(torch.cat([upsample(x), skip], dim=1))
        return self.classifier(x)
