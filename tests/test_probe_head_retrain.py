"""benchmarks/probe_head_retrain.py: only the last layers train, the held-out cars stay out, a run resumes."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from benchmarks.probe_head_retrain import HEAD, MODEL, PROGRESS, draw_batch, head_prefixes, main
from core.io.imageio import write_image
from core.models.checkpoint import ModelConfig, load_model, read_safetensors, save_model
from core.models.preprocess import Preprocess
from core.training.evaluate_parts import part_label_pairs


def _photos(folder, cars):
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(0)
    for car in cars:
        for view in ("01", "02"):
            rgb = rng.integers(0, 80, (48, 72, 3), dtype=np.uint8)
            mask = np.zeros((48, 72), np.uint8)
            mask[14:40, 10:60] = 255
            rgb[mask > 0] = (200, 30, 30)
            write_image(folder / "images" / f"{car}_{view}.png", rgb)
            write_image(folder / "masks" / f"{car}_{view}_mask.png", mask)


def test_only_the_head_trains_and_a_second_run_resumes(tmp_path, tiny_checkpoint):
    model, config = load_model(tiny_checkpoint)
    start = model.state_dict()
    held = ModelConfig(arch=config.arch, width=config.width, preprocess=Preprocess(size=64),
                       info={"name": "tiny", "val_groups": ["heldcar"]})
    model_file = tmp_path / "tiny-held.safetensors"
    save_model(model_file, model, held)
    _photos(tmp_path / "data", ["aaaacar", "bbbbcar", "heldcar"])
    out = tmp_path / "probe"
    common = ["--model", str(model_file), "--images", str(tmp_path / "data" / "images"),
              "--masks", str(tmp_path / "data" / "masks"), "--out", str(out), "--stages", "1", "--batch", "2",
              "--every", "1", "--lr", "1e-2"]

    assert main([*common, "--steps", "2"]) == 0
    assert json.loads((out / PROGRESS).read_text())["step"] == 2
    trained, trained_config = load_model(out / MODEL)
    prefixes = head_prefixes(trained, 1)
    assert prefixes == ("decoder.4.", "classifier.")
    after = trained.state_dict()
    for name, tensor in start.items():
        if name.startswith(prefixes) and "running" not in name and "num_batches" not in name:
            continue
        assert np.array_equal(tensor.numpy(), after[name].numpy()), f"{name} changed but is frozen"
    assert not np.array_equal(start["classifier.weight"].numpy(), after["classifier.weight"].numpy())
    head_file = read_safetensors(out / HEAD)[0]
    assert set(head_file) == {name for name in after if name.startswith(prefixes)}
    assert trained_config.info["head_retrain"]["stages"] == 1
    assert trained_config.info["val_groups"] == ["heldcar"]  # the model's held-out cars stay recorded

    assert main([*common, "--steps", "3"]) == 0  # resumes at step 2, runs one more
    assert json.loads((out / PROGRESS).read_text())["step"] == 3


def test_a_run_folder_of_other_layers_or_a_damaged_record_is_refused_in_one_line(tmp_path, tiny_checkpoint, capsys):
    _photos(tmp_path / "data", ["aaaacar"])
    out = tmp_path / "probe"
    common = ["--model", str(tiny_checkpoint), "--images", str(tmp_path / "data" / "images"),
              "--masks", str(tmp_path / "data" / "masks"), "--out", str(out), "--batch", "1", "--every", "1"]
    assert main([*common, "--stages", "1", "--steps", "1"]) == 0
    capsys.readouterr()
    assert main([*common, "--stages", "2", "--steps", "2"]) == 1
    error = capsys.readouterr().err.strip()
    assert "progress.json" in error and "--stages" in error and "\n" not in error
    (out / PROGRESS).write_text("{not json")
    assert main([*common, "--stages", "1", "--steps", "2"]) == 1
    assert "not a progress record" in capsys.readouterr().err
    (out / PROGRESS).write_text(json.dumps({"step": 1, "prefixes": ["decoder.4.", "classifier."]}))
    (out / HEAD).write_bytes(b"garbage")
    assert main([*common, "--stages", "1", "--steps", "2"]) == 1
    assert str(out / HEAD) in capsys.readouterr().err


def test_the_stages_asked_for_must_exist(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint)
    assert head_prefixes(model, 2) == ("decoder.3.", "decoder.4.", "classifier.")
    with pytest.raises(ValueError, match="--stages must be 1 to 5"):
        head_prefixes(model, 6)


def test_a_car_parts_photo_teaches_its_labelled_pixels_as_car_and_leaves_the_rest_unknown(tmp_path, tiny_checkpoint):
    _, config = load_model(tiny_checkpoint)
    (tmp_path / "parts" / "images").mkdir(parents=True)
    (tmp_path / "parts" / "parts").mkdir()
    labels = np.zeros((64, 64), np.uint8)
    labels[8:24, 8:40] = 18  # a wheel
    labels[30:60, 10:50] = 3  # a door
    write_image(tmp_path / "parts" / "images" / "car1.jpg", np.full((64, 64, 3), 90, np.uint8))
    write_image(tmp_path / "parts" / "parts" / "car1.png", labels)
    write_image(tmp_path / "parts" / "images" / "unlabelled.jpg", np.zeros((64, 64, 3), np.uint8))
    parts = part_label_pairs(tmp_path / "parts" / "images", tmp_path / "parts" / "parts")
    assert [image.name for image, _ in parts] == ["car1.jpg"]
    _, target, weight = draw_batch([], config, 3, random.Random(0), np.random.default_rng(0), 0.0, parts, 1.0)
    for one_target, one_weight in zip(target.numpy(), weight.numpy()):
        assert np.array_equal(one_weight > 0, one_target > 0.5)  # labelled = car and known; the rest unknown
        assert np.isclose(one_weight.mean(), (labels > 0).mean())
