"""Packing a mix for a GPU machine: held-out photos never travel, and the packed mix trains as the mix did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from core.models.checkpoint import ModelConfig, save_model
from core.models.preprocess import Preprocess
from core.training.training_mix import mix_samples, read_mix
from tools.pack_training_mix import pack_mix

CARS = ["0a1b2c3d4e5f", "0a1b2c3d4e60", "0a1b2c3d4e61"]  # consecutive ids: odd and even views alternate


def _studio(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for car in CARS:
        for view in range(1, 17):
            photo = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            mask = np.zeros((24, 32), np.uint8)
            mask[6:18, 8:24] = 255
            Image.fromarray(photo).save(root / "images" / f"{car}_{view:02d}.jpg")
            Image.fromarray(mask).save(root / "masks" / f"{car}_{view:02d}_mask.png")


def test_only_the_starting_models_training_photos_travel_and_the_packed_mix_keeps_the_share(tmp_path, monkeypatch):
    _studio(tmp_path / "studio")
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"sources": [{"name": "carvana", "images": str(tmp_path / "studio" / "images"),
                                            "masks": str(tmp_path / "studio" / "masks"), "edge_emphasis": 2,
                                            "ground_unknown": 4}]}))
    start = tmp_path / "start.safetensors"
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64),
                         info={"train_groups": CARS[:2], "val_groups": CARS[2:]})
    save_model(start, config.build().eval(), config)
    monkeypatch.chdir(tmp_path)

    report = pack_mix(mix, str(start), Path("pack"), limit_mb=1.0)

    packed = sorted(p.stem for p in (tmp_path / "pack-a" / "carvana" / "images").glob("*.webp"))
    assert len(packed) == 16  # 8 views of each of the two training cars
    assert not [stem for stem in packed if stem.startswith(CARS[2])]  # the held-out car stays home
    for car in CARS[:2]:
        views = {int(stem.rsplit("_", 1)[1]) % 2 for stem in packed if stem.startswith(car)}
        assert len(views) == 1  # one parity per car, the other for the next car
    assert len({int(stem.rsplit("_", 1)[1]) % 2 for stem in packed}) == 2
    sources = read_mix(report["mix"])
    assert sources[0].repeat == 2 and sources[0].edge_emphasis == 2  # half the views, listed twice
    assert sources[0].ground_unknown == 4
    train, val, _ = mix_samples(sources, start_info=config.info)  # split as the starting model was
    assert not val and len(train) == 32 and {s.image.suffix for s in train} == {".webp"}
