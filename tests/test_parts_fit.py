"""benchmarks/parts_fit.py: the parts a model keeps on the car-parts training photos, and the objective there."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.parts_fit import RECIPE, first_with_mirrors, fit_figures, kept_shares
from core.training.data import Sample

NAMES = {1: "front_left_wheel", 2: "left_mirror", 3: "hood"}


def test_kept_shares_pool_the_labelled_pixels_of_every_photo():
    parts = np.zeros((4, 4), np.uint8)
    parts[0, :2] = 2  # two mirror pixels
    parts[1, :] = 1  # four wheel pixels
    probability = np.zeros((4, 4), np.float32)
    probability[0, 0] = 0.9  # one mirror pixel kept
    probability[1, :3] = 0.5  # three wheel pixels kept (0.5 is car)
    shares = kept_shares([probability, np.ones((4, 4), np.float32)], [parts, parts], NAMES)
    assert shares == {"all": (4 + 6) / 12, "mirrors": (1 + 2) / 4}
    assert math.isnan(kept_shares([probability], [np.zeros((4, 4), np.uint8)], NAMES)["mirrors"])


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_the_first_photos_with_a_mirror_are_chosen_once_each_in_name_order(tmp_path):
    parts_dir = tmp_path / "parts"
    samples = []
    for stem, part in (("c", 2), ("a", 2), ("b", 1), ("d", 2)):
        labels = np.zeros((8, 8), np.uint8)
        labels[2:4, 2:4] = part
        _write(parts_dir / f"{stem}.png", labels)
        samples.append(Sample(image=tmp_path / f"{stem}.jpg", mask=tmp_path / f"{stem}.png", group=stem))
    chosen = first_with_mirrors(samples + samples, parts_dir, NAMES, 2)  # repeated as a mix repeats
    assert [s.image.stem for s in chosen] == ["a", "c"]


def test_a_model_is_scored_on_the_mix_photos_with_mirrors(tmp_path, tiny_checkpoint):
    data, labels = tmp_path / "data", tmp_path / "labels"
    rng = np.random.default_rng(0)
    for i in range(6):
        stem = f"train{i}"
        car = np.zeros((48, 64), np.uint8)
        car[12:40, 8:56] = 255
        parts = np.zeros((48, 64), np.uint8)
        parts[14:20, 10:16] = 2 if i % 2 == 0 else 1
        _write(labels / "images" / f"{stem}.jpg", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        _write(labels / "masks" / f"{stem}.png", car)
        _write(labels / "confidence" / f"{stem}.png", np.full((48, 64), 255, np.uint8))
        _write(data / "car-parts" / "training" / "parts" / f"{stem}.png", parts)
    (data / "car-parts" / "parts.json").write_text(json.dumps({str(k): v for k, v in NAMES.items()}))
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"sources": [{
        "name": "car-parts", "images": str(labels / "images"), "masks": str(labels / "masks"),
        "confidence": str(labels / "confidence"), "split": "photo", "val_fraction": 0.0, "edge_unknown": 2}]}))
    figures = fit_figures(str(tiny_checkpoint), data, mix, RECIPE, photos=2)
    assert figures["photos"] == 2  # of the three photos with a mirror
    assert 0.0 <= figures["mirrors"] <= 1.0 and 0.0 <= figures["all"] <= 1.0
    assert math.isfinite(figures["objective"]) and figures["objective"] > 0
