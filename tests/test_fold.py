"""Batch norm folded into the convolutions: the network the app runs computes what was trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.masking import inference
from core.masking.inference import Segmenter
from core.models.checkpoint import load_model
from core.models.networks import create_model
from core.models.networks.fold import fold_batch_norm


def _trained_looking(name: str) -> nn.Module:
    """A network whose batch norms hold statistics and affine weights far from their defaults."""
    torch.manual_seed(0)
    model = create_model(name, width=4)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-2.0, 2.0)
                module.running_var.uniform_(0.05, 4.0)
                module.weight.uniform_(-1.5, 1.5)
                module.bias.uniform_(-1.0, 1.0)
    return model.eval()


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(module, kind) for module in model.modules())


@pytest.mark.parametrize("name", ["maskingnet", "segnet", "arc2", "unet"])
def test_the_folded_network_computes_what_the_trained_one_did(name):
    trained = _trained_looking(name)
    folded = fold_batch_norm(trained)
    norms = _count(trained, nn.BatchNorm2d)
    assert norms > 0 and _count(folded, nn.BatchNorm2d) == 0
    assert _count(folded, nn.Identity) - _count(trained, nn.Identity) == norms
    photos = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = trained(photos)
        got = folded.to(memory_format=torch.channels_last)(photos.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_the_callers_network_keeps_its_batch_norms():
    trained = _trained_looking("maskingnet")
    before = {name: tensor.clone() for name, tensor in trained.state_dict().items()}
    fold_batch_norm(trained)
    assert _count(trained, nn.BatchNorm2d) > 0
    after = trained.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[name], after[name]) for name in before)


def test_only_a_convolution_directly_before_a_batch_norm_of_its_channels_is_folded():
    torch.manual_seed(1)
    norm_after_relu = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4))
    no_statistics = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, track_running_stats=False))
    for model in (norm_after_relu, no_statistics):
        folded = fold_batch_norm(model.eval())
        assert _count(folded, nn.BatchNorm2d) == 1
        photos = torch.randn(1, 3, 8, 8)
        with torch.no_grad():
            assert torch.allclose(folded(photos), model(photos))


@pytest.mark.parametrize("precision, tolerance", [(None, 1e-4), (torch.bfloat16, 2e-2)])
def test_the_segmenter_runs_the_folded_network_and_masks_as_the_trained_one(tiny_checkpoint, monkeypatch,
                                                                            precision, tolerance):
    """Float32, and bfloat16 as CPUs with AMX or AVX512-BF16 run it (forced here on any CPU, so the
    result does not depend on the machine the tests run on)."""
    monkeypatch.setattr(inference, "autocast_dtype", lambda device: precision)
    model, config = load_model(tiny_checkpoint)
    segmenter = Segmenter(model, config, device="cpu", flip_tta=False, close_up=False)
    assert segmenter.dtype == precision
    assert _count(segmenter.model, nn.BatchNorm2d) == 0 and _count(model, nn.BatchNorm2d) > 0
    photo = np.random.default_rng(3).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    batch = config.preprocess([photo])  # the app's own preprocessing, not a second copy of it
    with torch.no_grad():
        expected = torch.softmax(model.eval()(batch), dim=1)[:, 1].numpy()  # the trained network, float32
    got = segmenter.probabilities(batch)
    assert np.abs(got - expected).max() < tolerance
    assert segmenter.predict(photo).probability.shape == (48, 80)
