"""Initialise the VGG-16-BN encoder from torchvision's ImageNet weights (optional).

Nothing here downloads unless the caller asks for ``download=True``; the usual source is a
local ``vgg16_bn`` state-dict file in safetensors or torchvision's ``.pth`` (loaded with
``weights_only=True``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from core.models.networks.indexed import VGG_DEPTHS, IndexedSegNet

# Index of each convolution in torchvision's ``vgg16_bn().features`` (its BatchNorm is +1).
_TORCHVISION_CONV_INDICES = (0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40)


def load_vgg16_bn_state(path: str | Path | None = None, *, download: bool = False) -> dict[str, torch.Tensor]:
    """The ``features`` weights of torchvision's ImageNet VGG-16-BN."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such VGG-16-BN weights file")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # torch's advice to load it unsafely is not for users
            raise ValueError(f"{path}: not a readable VGG-16-BN state dict (it holds Python objects, "
                             "which are never loaded)") from None
        except Exception as error:  # safetensors and torch.load raise many kinds
            raise ValueError(f"{path}: not a readable VGG-16-BN state dict ({str(error).splitlines()[0]})") from None
    elif download:
        from torchvision.models import VGG16_BN_Weights

        state = VGG16_BN_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    else:
        raise ValueError("give a local VGG-16-BN weights file, or allow the download")
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict")
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.") or k[:1].isdigit()}
    missing = [f"{index}.{name}" for index in _TORCHVISION_CONV_INDICES for name in ("weight", "bias")
               if f"{index}.{name}" not in features]
    if missing:
        raise ValueError(f"{path or 'torchvision'}: not VGG-16-BN weights (no {', '.join(missing[:3])})")
    return features


def init_encoder_from_vgg(model: nn.Module, vgg_state: dict[str, torch.Tensor]) -> int:
    """Copy VGG-16-BN weights into the encoder of a width-64 SegNet-family model.

    Returns the number of layers copied. For Arc #2 (5 input channels) the RGB part of the
    first convolution is copied and the coordinate-map part is zeroed.
    """
    if not isinstance(model, IndexedSegNet):
        raise ValueError("only the VGG-encoder networks (segnet, arc1-3, maskingnet) take VGG weights")
    layers = [layer for stage, depth in zip(model.encoder.stages, VGG_DEPTHS) for layer in stage]
    copied = 0
    with torch.no_grad():
        for layer, conv_index in zip(layers, _TORCHVISION_CONV_INDICES):
            conv, bn = layer[0], layer[1]
            weight = vgg_state[f"{conv_index}.weight"]
            if weight.shape[0] != conv.weight.shape[0]:
                raise ValueError("VGG weights fit width 64 only")
            if conv.weight.shape[1] != weight.shape[1]:
                conv.weight.zero_()
                conv.weight[:, : weight.shape[1]] = weight
            else:
                conv.weight.copy_(weight)
            conv.bias.copy_(vgg_state[f"{conv_index}.bias"])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, name).copy_(vgg_state[f"{conv_index + 1}.{name}"])
            copied += 1
    return copied
