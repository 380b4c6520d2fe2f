"""The context look's panels (benchmarks/view_context_look.py): one per look, at the working size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from benchmarks.view_context_look import ABSENT, BACKGROUND, CAR, PANELS, context_panels, main
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig, save_model
from core.models.context_network import ContextNetworkRule
from core.models.preprocess import Preprocess
from tests.test_close_up import red_segmenter, street_photo

SIZE = 64


def tiny(context_network: bool) -> tuple[ModelConfig, torch.nn.Module, torch.nn.Module | None]:
    torch.manual_seed(0)
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=SIZE), info={"name": "tiny"})
    if not context_network:
        return config, config.build().eval(), None
    return replace(config, context_network=ContextNetworkRule()), config.build().eval(), config.build().eval()


def test_each_look_gets_a_panel_and_a_missing_context_network_a_grey_one():
    photo, _ = street_photo()
    panels = context_panels(red_segmenter(), photo)
    assert panels.shape == (SIZE, len(PANELS) * SIZE, 3) and panels.dtype == np.uint8
    looks = [panels[:, index * SIZE:(index + 1) * SIZE] for index in range(len(PANELS))]
    assert (looks[3] == ABSENT).all()  # the red-is-car model holds no context network
    car = looks[1][..., 0] == CAR
    for look in looks[1:3] + looks[4:]:  # a red car on grey: each look finds it, the smaller one more coarsely
        assert set(np.unique(look)) == {CAR, BACKGROUND}
        found = look[..., 0] == CAR
        assert (found & car).sum() / (found | car).sum() > 0.8
    config, model, network = tiny(context_network=True)
    with_network = context_panels(Segmenter(model, config, device="cpu", context_network=network), photo)
    assert not (with_network[:, 3 * SIZE:4 * SIZE] == ABSENT).all()


def test_the_script_writes_one_file_a_photo_and_names_an_unreadable_one(tmp_path, monkeypatch, capsys):
    config, model, network = tiny(context_network=True)
    path = tmp_path / "tiny.safetensors"
    save_model(path, model, config, context_network=network)
    photo, _ = street_photo()
    Image.fromarray(photo).save(tmp_path / "car.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    monkeypatch.setattr("sys.argv", ["view", str(tmp_path / "car.png"), str(tmp_path / "broken.jpg"),
                                     "--out", str(tmp_path / "out"), "--model", str(path)])
    assert main() == 0
    with Image.open(tmp_path / "out" / "car.png") as written:
        assert written.size == (len(PANELS) * SIZE, SIZE)
    assert not (tmp_path / "out" / "broken.png").exists()
    printed = capsys.readouterr().out
    assert any(line.startswith("skipped: ") and "broken.jpg" in line for line in printed.splitlines())
