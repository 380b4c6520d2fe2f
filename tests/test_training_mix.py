"""Training on a mix of data sets: teacher labels with confidence maps, per-source splits and figures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.io.records import RecordError
from core.models.preprocess import Preprocess
from core.training.data import CachedSamples, cache_samples
from core.training.train import TrainConfig, _batch_tensors, recipe_from_json, segmentation_loss, train
from core.training.training_mix import mix_samples, read_mix


def _photo_set(root: Path, stems: list[str], *, confidence: bool) -> Path:
    """Photos of a bright square on noise, masks of the square, optional confidence maps."""
    rng = np.random.default_rng(len(stems))
    for sub in ("images", "masks") + (("confidence",) if confidence else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for stem in stems:
        photo = rng.integers(0, 90, (48, 64, 3), dtype=np.uint8)
        mask = np.zeros((48, 64), np.uint8)
        mask[12:36, 16:48] = 255
        photo[mask > 0] = 220
        Image.fromarray(photo).save(root / "images" / f"{stem}.jpg")
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        if confidence:
            trusted = np.full((48, 64), 255, np.uint8)
            trusted[:, :8] = 0  # an unknown strip
            Image.fromarray(trusted).save(root / "confidence" / f"{stem}.png")
    return root


def _mix_file(tmp_path: Path, sources: list[dict]) -> Path:
    path = tmp_path / "mix.json"
    path.write_text(json.dumps({"sources": sources}))
    return path


def test_a_mix_splits_each_source_on_its_own_and_repeats_training_photos(tmp_path):
    studio = _photo_set(tmp_path / "studio", [f"{car}_{angle:02d}" for car in ("0123456789ab", "ba9876543210",
                                                                                "aaaaaaaaaaaa") for angle in (1, 2)],
                        confidence=False)
    outdoor = _photo_set(tmp_path / "outdoor", [f"street_{i:05d}" for i in range(10)], confidence=True)
    mix = _mix_file(tmp_path, [
        {"name": "studio", "images": str(studio / "images"), "masks": str(studio / "masks"), "val_fraction": 0.34,
         "val_every": 2},
        {"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
         "confidence": str(outdoor / "confidence"), "split": "photo", "val_fraction": 0.2, "repeat": 3},
    ])
    train_samples, val_samples, notes = mix_samples(read_mix(mix))
    studio_val = {s.group for s in val_samples if s.source == "studio"}
    assert len(studio_val) == 1 and not studio_val & {s.group for s in train_samples}  # one car, not both sides
    assert len([s for s in val_samples if s.source == "studio"]) == 1  # of its 2 photos, every 2nd is scored
    assert len([s for s in train_samples if s.source == "studio"]) == 4  # the other is not trained on
    outdoor_train = [s for s in train_samples if s.source == "outdoor"]
    outdoor_val = [s for s in val_samples if s.source == "outdoor"]
    assert len(outdoor_val) == 2 and len(outdoor_train) == 3 * 8
    assert all(s.confidence is not None and s.confidence.name == f"{s.image.stem}.png" for s in outdoor_train)
    assert any("outdoor: 8 training photos (x3), 2 validation" in note for note in notes)
    cached = cache_samples(outdoor_train[:2] + outdoor_train[8:9], Preprocess(size=32))
    assert cached.images[0] is cached.images[2]  # a repeated photo is decoded once


@pytest.mark.parametrize("source, message", [
    ({"name": "a", "images": "x"}, "'masks' must be a non-empty string"),
    ({"name": "a", "images": "x", "masks": "y", "repeat": 0}, "'repeat' must be a whole number"),
    ({"name": "a", "images": "x", "masks": "y", "val_fraction": "0.2"}, "'val_fraction' must be a number"),
    ({"name": "a", "images": "x", "masks": "y", "split": "car"}, "'split' is 'group' or 'photo'"),
    ({"name": "a", "images": "${NOPE}/x", "masks": "y"}, "unknown placeholder"),
    ({"name": "a", "images": "x", "masks": "y", "colour": 1}, "unknown field(s) colour"),
])
def test_a_bad_mix_file_is_one_line_naming_the_file(tmp_path, source, message):
    path = _mix_file(tmp_path, [source])
    with pytest.raises(ValueError) as error:
        read_mix(path)
    assert str(path) in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def test_unknown_pixels_weigh_nothing_in_the_loss():
    target = torch.zeros(1, 8, 8)
    target[:, 2:6, 2:6] = 1
    weight = torch.ones(1, 8, 8)
    weight[:, :, :2] = 0
    logits = torch.randn(1, 2, 8, 8)
    changed = logits.clone()
    changed[:, :, :, :2] = torch.randn(1, 2, 8, 2) * 10  # only the unknown pixels differ
    assert torch.allclose(segmentation_loss(logits, target, weight, 0.5), segmentation_loss(changed, target, weight, 0.5))
    assert not torch.allclose(segmentation_loss(logits, target, None, 0.5), segmentation_loss(changed, target, None, 0.5))


def test_batches_weigh_pixels_by_confidence_times_correction():
    cached = CachedSamples(samples=[], images=[np.zeros((32, 32, 3), np.uint8)] * 2,
                           targets=[np.ones((32, 32), np.float32)] * 2,
                           weights=[np.ones((32, 32), np.float32), None],
                           confidences=[np.full((32, 32), 0.5, np.float32), np.zeros((32, 32), np.float32)])
    config = TrainConfig(augment=False, correction_weight=4.0)
    _, _, weights = _batch_tensors(cached, [0, 1], np.random.default_rng(0), config, Preprocess(size=32))
    assert weights[0].unique().tolist() == [2.5] and weights[1].unique().tolist() == [0.0]
    augmented = replace(config, augment=True)
    _, _, weights = _batch_tensors(cached, [0], np.random.default_rng(1), augmented, Preprocess(size=32))
    assert weights.shape == (1, 32, 32) and 0 <= float(weights.min()) and float(weights.max()) <= 2.5 + 1e-5


def test_training_on_a_mix_reports_dice_per_source(tmp_path):
    studio = _photo_set(tmp_path / "studio", [f"{car}_01" for car in ("0123456789ab", "ba9876543210")], confidence=False)
    outdoor = _photo_set(tmp_path / "outdoor", [f"street_{i:05d}" for i in range(4)], confidence=True)
    mix = _mix_file(tmp_path, [
        {"name": "studio", "images": str(studio / "images"), "masks": str(studio / "masks"), "val_fraction": 0.5},
        {"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
         "confidence": str(outdoor / "confidence"), "split": "photo", "val_fraction": 0.5},
    ])
    train_samples, val_samples, _ = mix_samples(read_mix(mix))
    config = TrainConfig(width=4, size=32, epochs=1, batch_size=2, device="cpu", max_steps_per_epoch=2)
    events = list(train(config, train_samples, val_samples, tmp_path / "run"))
    record = events[-1].history[-1]
    assert set(record["val_dice_by_source"]) == {"studio", "outdoor"}
    assert record["val_dice"] == pytest.approx(np.mean(list(record["val_dice_by_source"].values())), abs=1e-5)


def test_the_split_follows_the_cars_not_the_training_seed(tmp_path, monkeypatch):
    """Composites named after Carvana photos hold out the same cars as Carvana itself, and the
    recipe's seed (shuffling, augmentation) never moves a held-out car into training."""
    cars = [f"{index:012x}" for index in range(10)]
    studio = _photo_set(tmp_path / "studio", [f"{car}_{angle:02d}" for car in cars for angle in (1, 2, 3)],
                        confidence=False)
    pasted = _photo_set(tmp_path / "pasted", [f"{car}_02" for car in cars], confidence=False)
    mix = _mix_file(tmp_path, [
        {"name": "carvana", "images": str(studio / "images"), "masks": str(studio / "masks")},
        {"name": "composites", "images": str(pasted / "images"), "masks": str(pasted / "masks")},
    ])
    train_samples, val_samples, _ = mix_samples(read_mix(mix))
    held_out = {s.group for s in val_samples if s.source == "carvana"}
    assert held_out == {s.group for s in val_samples if s.source == "composites"} and len(held_out) == 2
    assert not held_out & {s.group for s in train_samples}

    import core.training.training_mix as training_mix

    seen = []
    monkeypatch.setattr(training_mix, "mix_samples", lambda sources, **kw: seen.append(kw) or ([], [], []))
    from core.cli import main as cli_main

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"seed": 7, "epochs": 1}))
    assert cli_main(["train", "--mix", str(mix), "--recipe", str(recipe), "-o", str(tmp_path / "run")]) != 0
    assert seen == [{"start_info": None}]  # the mix's own split seed, whatever the recipe's seed


def test_an_emphasis_folder_makes_its_pixels_weigh_more_in_the_loss(tmp_path):
    outdoor = _photo_set(tmp_path / "outdoor", [f"street_{i:05d}" for i in range(4)], confidence=True)
    (outdoor / "emphasis").mkdir()
    mirror = np.zeros((48, 64), np.uint8)
    mirror[12:16, 44:48] = 255  # a small part the training must not lose
    for stem in ("street_00000", "street_00001", "street_00002"):  # the fourth photo has no emphasis map
        Image.fromarray(mirror).save(outdoor / "emphasis" / f"{stem}.png")
    mix = _mix_file(tmp_path, [
        {"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
         "confidence": str(outdoor / "confidence"), "emphasis": str(outdoor / "emphasis"), "split": "photo",
         "val_fraction": 0.0},
    ])
    train_samples, _, notes = mix_samples(read_mix(mix))
    assert len(train_samples) == 4 and "outdoor: 3 of 4 photo(s) with an emphasis map" in notes
    by_stem = {sample.image.stem: sample for sample in train_samples}
    assert by_stem["street_00003"].weight is None and by_stem["street_00000"].weight.parent.name == "emphasis"
    cached = cache_samples([by_stem["street_00000"]], Preprocess(size=32))
    config = TrainConfig(augment=False, correction_weight=4.0)
    _, _, weights = _batch_tensors(cached, [0], np.random.default_rng(0), config, Preprocess(size=32))
    assert float(weights.max()) == pytest.approx(5.0)  # emphasised and trusted: 1 + 4
    assert float(weights[0, 20, 16]) == pytest.approx(1.0) and float(weights[0, 20, 0]) == 0.0  # plain; unknown strip


def test_edge_emphasis_weighs_the_band_around_each_exact_outline(tmp_path):
    studio = _photo_set(tmp_path / "studio", ["0123456789ab_01"], confidence=False)
    mix = _mix_file(tmp_path, [{"name": "studio", "images": str(studio / "images"), "masks": str(studio / "masks"),
                                "val_fraction": 0.0, "edge_emphasis": 2}])
    train_samples, _, notes = mix_samples(read_mix(mix))
    assert train_samples[0].edge_emphasis == 2 and any("outline +-2 px emphasised" in note for note in notes)
    cached = cache_samples(train_samples, Preprocess(size=64))  # the photo is 64x48: rows scale by 4/3
    config = TrainConfig(augment=False, correction_weight=4.0)
    _, _, weights = _batch_tensors(cached, [0], np.random.default_rng(0), config, Preprocess(size=64))
    row = weights[0, 32].tolist()  # across the square's middle: its sides are at columns 16 and 48
    assert row[16] == pytest.approx(5.0) and row[15] == pytest.approx(5.0) and row[47] == pytest.approx(5.0)
    assert row[32] == pytest.approx(1.0) and row[5] == pytest.approx(1.0)  # inside and outside, far from the outline
    assert sum(value > 1.5 for value in row) == 8  # 2 px each side of each of the two sides


def _teacher_label_weights(tmp_path: Path, option: dict) -> tuple[torch.Tensor, list[str]]:
    """The 64x64 loss weights of one teacher-labelled photo (a square car, an unknown strip at columns 0-7)
    in a mix source with ``option``, and the mix's notes."""
    outdoor = _photo_set(tmp_path / "outdoor", ["street_00000"], confidence=True)
    mix = _mix_file(tmp_path, [{"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
                                "confidence": str(outdoor / "confidence"), "split": "photo", "val_fraction": 0.0,
                                **option}])
    train_samples, _, notes = mix_samples(read_mix(mix))
    cached = cache_samples(train_samples, Preprocess(size=64))
    config = TrainConfig(augment=False, correction_weight=4.0)
    _, _, weights = _batch_tensors(cached, [0], np.random.default_rng(0), config, Preprocess(size=64))
    return weights[0], notes


def test_edge_unknown_teaches_neither_side_of_a_teacher_outline(tmp_path):
    weights, notes = _teacher_label_weights(tmp_path, {"edge_unknown": 2})
    assert any("outline +-2 px unknown" in note for note in notes)
    row = weights[32].tolist()  # the square's sides are at columns 16 and 48; columns 0-7 are the unknown strip
    assert [row[c] for c in (14, 15, 16, 17, 46, 47, 48, 49)] == [0.0] * 8
    assert row[32] == pytest.approx(1.0) and row[13] == pytest.approx(1.0) and row[50] == pytest.approx(1.0)
    assert row[5] == 0.0  # the confidence map's own unknown pixels stay unknown


def test_ground_unknown_teaches_nothing_just_below_a_teacher_labels_car(tmp_path):
    weights, notes = _teacher_label_weights(tmp_path, {"ground_unknown": 3})
    assert any("ground 3 px below the car unknown" in note for note in notes)
    column = weights[:, 32].tolist()  # down the square's middle: the car spans rows 16-47 at 64x64
    assert column[48:51] == [0.0] * 3  # the ground shadow's strip
    assert column[51] == pytest.approx(1.0) and column[47] == pytest.approx(1.0)  # below it, and the car's own bottom
    assert column[15] == pytest.approx(1.0)  # above the car: taught
    assert weights[48, 60].item() == pytest.approx(1.0)  # the ground beside the car is taught
    assert weights[48, 4].item() == 0.0  # the confidence map's own unknown strip (columns 0-7) stays unknown


@pytest.mark.parametrize("key", ["edge_emphasis", "edge_unknown", "ground_unknown"])
@pytest.mark.parametrize("value", [-1, 2.5, True, 33])
def test_edge_bands_are_a_whole_number_of_pixels(tmp_path, key, value):
    path = _mix_file(tmp_path, [{"name": "a", "images": "x", "masks": "y", key: value}])
    with pytest.raises(ValueError, match=f"'{key}' must be a whole number of pixels"):
        read_mix(path)


def test_an_emphasis_entry_must_name_a_folder(tmp_path):
    path = _mix_file(tmp_path, [{"name": "a", "images": "x", "masks": "y", "emphasis": 3}])
    with pytest.raises(ValueError, match="'emphasis' must be a folder name"):
        read_mix(path)


def test_a_recipe_with_zoom_out_shrinks_photos_even_without_label_maps():
    cached = CachedSamples(samples=[], images=[np.zeros((32, 32, 3), np.uint8)], targets=[np.ones((32, 32), np.float32)],
                           weights=[None], confidences=[None])
    plain = TrainConfig(augment=True)
    assert _batch_tensors(cached, [0], np.random.default_rng(0), plain, Preprocess(size=32))[2] is None
    zoomed = replace(plain, zoom_out=1.0)
    _, targets, weights = _batch_tensors(cached, [0], np.random.default_rng(0), zoomed, Preprocess(size=32))
    assert weights is not None and float(weights.min()) == 0.0 and float(weights.max()) == 1.0  # the frame is unknown
    assert float(targets[weights > 0].min()) > 0.99  # the shrunk photo is all car, as before


def test_a_recipe_degrades_a_share_of_the_training_photos_and_leaves_the_targets():
    assert recipe_from_json({"degrade": 0.3}, "robust.json") == {"degrade": 0.3}
    with pytest.raises(RecordError, match="robust.json: the field 'degrade' should be .* between 0.0 and 1.0"):
        recipe_from_json({"degrade": 1.5}, "robust.json")
    photo = np.zeros((32, 32, 3), np.uint8)
    photo[8:24, 8:24] = 220
    cached = CachedSamples(samples=[], images=[photo], targets=[(photo[..., 0] > 0).astype(np.float32)],
                           weights=[None], confidences=[None])
    plain = TrainConfig(augment=True)
    degraded = replace(plain, degrade=1.0)
    for seed in range(3):
        clean_images, clean_targets, _ = _batch_tensors(cached, [0], np.random.default_rng(seed), plain, Preprocess(size=32))
        images, targets, _ = _batch_tensors(cached, [0], np.random.default_rng(seed), degraded, Preprocess(size=32))
        assert torch.equal(targets, clean_targets) and not torch.equal(images, clean_images)


def _studio_and_outdoor_samples(tmp_path: Path, studio_fields: dict, outdoor_fields: dict) -> tuple[list, list[str]]:
    """The training samples and notes of a mix of one exact-mask studio photo and one teacher-labelled
    street photo (in that order), each source with the given extra fields, nothing held out."""
    studio = _photo_set(tmp_path / "studio", ["studio_00000"], confidence=False)
    outdoor = _photo_set(tmp_path / "outdoor", ["street_00000"], confidence=True)
    mix = _mix_file(tmp_path, [
        {"name": "studio", "images": str(studio / "images"), "masks": str(studio / "masks"), "val_fraction": 0.0,
         **studio_fields},
        {"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
         "confidence": str(outdoor / "confidence"), "split": "photo", "val_fraction": 0.0, **outdoor_fields}])
    train_samples, _, notes = mix_samples(read_mix(mix))
    return train_samples, notes


def test_a_sources_own_degrade_share_overrides_the_recipes(tmp_path):
    """Degradations can be kept to the exact-mask sources: their outline stays true however blurred the photo."""
    train_samples, notes = _studio_and_outdoor_samples(tmp_path, {"degrade": 1.0}, {"degrade": 0})
    assert [sample.degrade for sample in train_samples] == [1.0, 0.0]
    assert any("studio" in note and "1 degraded" in note for note in notes)
    cached = cache_samples(train_samples, Preprocess(size=64))
    plain, recipe_degrades = TrainConfig(augment=True), TrainConfig(augment=True, degrade=1.0)

    def batch(columns: CachedSamples, index: int, config: TrainConfig, seed: int) -> torch.Tensor:
        return _batch_tensors(columns, [index], np.random.default_rng(seed), config, Preprocess(size=64))[0]

    without_samples = replace(cached, samples=[])  # each photo at the recipe's share
    for seed in range(3):
        assert not torch.equal(batch(cached, 0, plain, seed), batch(without_samples, 0, plain, seed))  # degraded
        assert torch.equal(batch(cached, 1, recipe_degrades, seed), batch(cached, 1, plain, seed))  # never degraded


@pytest.mark.parametrize("key", ["degrade", "panning"])
@pytest.mark.parametrize("value", [-0.1, 1.5, True, "half"])
def test_a_sources_augmentation_share_is_a_number_from_0_to_1(tmp_path, key, value):
    path = _mix_file(tmp_path, [{"name": "a", "images": "x", "masks": "y", key: value}])
    with pytest.raises(ValueError, match=f"'{key}' must be a number in \\[0, 1\\]"):
        read_mix(path)


def test_a_sources_panning_share_streaks_its_backgrounds_only(tmp_path):
    """Panning is for exact masks: a source can have it while the teacher-labelled ones do not."""
    train_samples, notes = _studio_and_outdoor_samples(tmp_path, {"panning": 1.0}, {})
    assert [sample.panning for sample in train_samples] == [1.0, None]
    assert any("studio" in note and "1 panned" in note for note in notes)
    cached = cache_samples(train_samples, Preprocess(size=64))
    plain = TrainConfig(augment=True)
    without_samples = replace(cached, samples=[])

    def batch(columns: CachedSamples, index: int, seed: int) -> torch.Tensor:
        return _batch_tensors(columns, [index], np.random.default_rng(seed), plain, Preprocess(size=64))[0]

    for seed in range(3):
        assert not torch.equal(batch(cached, 0, seed), batch(without_samples, 0, seed))  # panned
        assert torch.equal(batch(cached, 1, seed), batch(without_samples, 1, seed))  # the recipe's share: none


def test_a_source_without_augmentation_is_shown_as_it_is_while_the_others_are_augmented(tmp_path):
    """Studio photos in a last polish keep their exact framing; the street photos beside them still change."""
    train_samples, notes = _studio_and_outdoor_samples(tmp_path, {"augment": False}, {})
    assert [sample.augment for sample in train_samples] == [False, True]
    assert any("studio" in note and "not augmented" in note for note in notes)
    assert not any("outdoor" in note and "not augmented" in note for note in notes)
    cached = cache_samples(train_samples, Preprocess(size=64))
    busy = TrainConfig(augment=True, zoom_out=1.0, degrade=1.0, panning=1.0)
    off = TrainConfig(augment=False)

    def batch(index: int, config: TrainConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets, _ = _batch_tensors(cached, [index], np.random.default_rng(seed), config, Preprocess(size=64))
        return images, targets

    for seed in range(3):
        studio_images, studio_targets = batch(0, busy, seed)
        as_is_images, as_is_targets = batch(0, off, seed)
        assert torch.equal(studio_images, as_is_images) and torch.equal(studio_targets, as_is_targets)
        assert not torch.equal(batch(1, busy, seed)[0], batch(1, off, seed)[0])  # the street photo is augmented


@pytest.mark.parametrize("value", [0, 1, "no", None])
def test_a_sources_augment_switch_is_true_or_false(tmp_path, value):
    path = _mix_file(tmp_path, [{"name": "a", "images": "x", "masks": "y", "augment": value}])
    with pytest.raises(ValueError, match="mix.json: source 1 \\(a\\): 'augment' must be true or false"):
        read_mix(path)


def test_a_zoomed_out_photo_on_a_backdrop_learns_the_backdrops_background_but_not_its_car():
    car_photo = np.full((32, 32, 3), 200, np.uint8)
    backdrop = np.full((32, 32, 3), 40, np.uint8)
    backdrop_car = np.zeros((32, 32), np.float32)
    backdrop_car[:, :10] = 1.0  # the backdrop photo's own car, on its left
    cached = CachedSamples(samples=[], images=[car_photo, backdrop], targets=[np.ones((32, 32), np.float32), backdrop_car],
                           weights=[None, None], confidences=[None, None])
    config = TrainConfig(augment=True, zoom_out=1.0, zoom_out_backdrop=1.0)
    for seed in range(4):
        images, targets, weights = _batch_tensors(cached, [0], np.random.default_rng(seed), config, Preprocess(size=32))
        frame = targets[0] < 0.5  # around the shrunk photo (all car)
        assert frame.any() and (targets[0][~frame] > 0.5).all()
        taught = frame & (weights[0] > 0)
        assert taught.sum() > 0.3 * frame.sum()  # the backdrop's background is taught as background...
        columns = np.flatnonzero(taught.numpy().any(axis=0))  # ...its car, left or (mirrored) right, is not
        assert (columns.min() >= 11 or columns.max() <= 20) and (images[0][:, taught] < 0).all()  # the dark backdrop
    without = replace(config, zoom_out_backdrop=0.0)
    _, targets, weights = _batch_tensors(cached, [0], np.random.default_rng(0), without, Preprocess(size=32))
    assert (weights[0] == 0).any() and (targets[0][weights[0] > 0] > 0.5).all()  # a reflected frame is unknown


def test_a_continued_stage_keeps_its_starting_models_split_when_the_labels_change(tmp_path):
    """One photo more or less reshuffles a fresh split; continuing a model must not train on what it held out."""
    outdoor = _photo_set(tmp_path / "outdoor", [f"street_{i:05d}" for i in range(40)], confidence=False)
    source = {"name": "outdoor", "images": str(outdoor / "images"), "masks": str(outdoor / "masks"),
              "split": "photo", "val_fraction": 0.25}
    first_train, first_val, _ = mix_samples(read_mix(_mix_file(tmp_path, [source])))
    start_info = {"train_groups": sorted({s.group for s in first_train}), "val_groups": sorted({s.group for s in first_val})}
    (outdoor / "images" / "street_00003.jpg").unlink()  # the rebuilt labels lost one photo ...
    _photo_set(outdoor, [f"street_{i:05d}" for i in range(40, 48)], confidence=False)  # ... and gained eight

    fresh_train, fresh_val, _ = mix_samples(read_mix(_mix_file(tmp_path, [source])))
    assert {s.group for s in fresh_train} & set(start_info["val_groups"])  # what the guard is for
    kept_train, kept_val, notes = mix_samples(read_mix(_mix_file(tmp_path, [source])), start_info=start_info)
    train_groups, val_groups = {s.group for s in kept_train}, {s.group for s in kept_val}
    assert val_groups >= set(start_info["val_groups"]) - {"outdoor:street_00003"}
    assert train_groups >= set(start_info["train_groups"]) - {"outdoor:street_00003"}
    assert not train_groups & val_groups and len(train_groups | val_groups) == 47
    assert len(val_groups - set(start_info["val_groups"])) == 2  # the new photos split by the fraction too
    assert "outdoor: split as the starting model was (8 photo(s) new to it split afresh)" in notes
