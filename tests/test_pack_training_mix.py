"""Packing a mix for a GPU machine: held-out photos never travel, and the packed mix trains as the mix did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from core.models.checkpoint import ModelConfig, save_model
from core.models.preprocess import Preprocess
from core.training.training_mix import PER_SAMPLE, mix_samples, read_mix
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


def _start_model(path: Path) -> ModelConfig:
    """A tiny starting model that trained on the first two cars and held out the third."""
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=64),
                         info={"train_groups": CARS[:2], "val_groups": CARS[2:]})
    save_model(path, config.build().eval(), config)
    return config


def test_only_the_starting_models_training_photos_travel_and_the_packed_mix_keeps_the_share(tmp_path, monkeypatch):
    _studio(tmp_path / "studio")
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"sources": [{"name": "carvana", "images": str(tmp_path / "studio" / "images"),
                                            "masks": str(tmp_path / "studio" / "masks"), "edge_emphasis": 2,
                                            "ground_unknown": 4}]}))
    start = tmp_path / "start.safetensors"
    config = _start_model(start)
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


def test_the_packed_mix_keeps_every_per_sample_option_its_source_sets(tmp_path, monkeypatch):
    # non-default values for every option a source gives its samples; a 0 share is not "the recipe's"
    options = {"edge_emphasis": 2, "edge_unknown": 3, "ground_unknown": 4, "degrade": 0.0, "panning": 0.25,
               "augment": False}
    assert set(options) == set(PER_SAMPLE)  # a new option must be added here, and the pack must carry it
    _studio(tmp_path / "studio")
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"sources": [{"name": "carvana", "images": str(tmp_path / "studio" / "images"),
                                            "masks": str(tmp_path / "studio" / "masks"), **options}]}))
    start = tmp_path / "start.safetensors"
    config = _start_model(start)
    monkeypatch.chdir(tmp_path)

    packed = read_mix(pack_mix(mix, str(start), Path("pack"), limit_mb=1.0)["mix"])[0]

    assert {key: getattr(packed, key) for key in PER_SAMPLE} == options
    train, _, _ = mix_samples([packed], start_info=config.info)
    assert {(s.degrade, s.panning, s.augment) for s in train} == {(0.0, 0.25, False)}
