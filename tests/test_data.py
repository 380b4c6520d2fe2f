"""Data: the mask reading rule, photo/mask pairing, the split by car, caching, augmentation,
and the one preprocessing path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.grouping import photo_group as group_of
from core.io.imageio import read_mask
from core.models.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess, resize_array, upsample_probability
from core.training.augment import AugmentConfig, augment, degrade, motion_blur, streak_length
from core.training.data import Sample, cache_samples, find_mask, find_samples, split_by_group

# --- the mask rule: {0, 1} masks -> value > 0; masks with larger values -> value > 127 ---------


def _save(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def test_zero_one_mask_takes_value_above_zero(tmp_path):
    values = np.array([[0, 1, 1], [0, 0, 1]], np.uint8)
    mask = read_mask(_save(tmp_path / "m.png", values))
    assert mask.dtype == bool
    assert np.array_equal(mask, values == 1)


def test_zero_255_mask_takes_value_above_127(tmp_path):
    values = np.array([[0, 255, 255], [0, 0, 255]], np.uint8)
    assert np.array_equal(read_mask(_save(tmp_path / "m.png", values)), values == 255)


def test_anti_aliased_mask_splits_at_half(tmp_path):
    values = np.array([[0, 1, 100, 127, 128, 200, 255]], np.uint8)
    mask = read_mask(_save(tmp_path / "soft.png", values))
    assert mask.tolist() == [[False, False, False, False, True, True, True]]


def test_all_background_and_all_car_masks(tmp_path):
    assert not read_mask(_save(tmp_path / "zero.png", np.zeros((3, 4), np.uint8))).any()
    assert read_mask(_save(tmp_path / "one.png", np.ones((3, 4), np.uint8))).all()
    assert read_mask(_save(tmp_path / "white.png", np.full((3, 4), 255, np.uint8))).all()


def test_palette_gif_is_read_by_index(tmp_path):
    indices = np.array([[0, 1, 1, 0], [1, 1, 0, 0]], np.uint8)
    image = Image.frombytes("P", (4, 2), indices.tobytes())
    image.putpalette([0, 0, 0, 255, 255, 255])  # index 0 black, 1 white, as Carvana's GIFs
    path = tmp_path / "car_mask.gif"
    image.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == "P"
    assert np.array_equal(read_mask(path), indices == 1)


def test_colour_mask_uses_the_brightest_channel(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 2] = (0, 0, 200)
    rgb[0, 1] = (60, 60, 60)
    assert np.array_equal(read_mask(_save(tmp_path / "c.png", rgb)), [[True, False, False], [False, False, True]])


def test_rgba_and_one_bit_and_16_bit_masks(tmp_path):
    truth = np.array([[0, 1], [1, 0]], bool)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = truth[..., None] * 255
    rgba[..., 3] = 255
    assert np.array_equal(read_mask(_save(tmp_path / "rgba.png", rgba)), truth)
    Image.fromarray(truth).convert("1").save(tmp_path / "bits.png")
    assert np.array_equal(read_mask(tmp_path / "bits.png"), truth)
    Image.fromarray((truth * 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    assert np.array_equal(read_mask(tmp_path / "deep.png"), truth)


def test_real_carvana_gif_masks_are_zero_one(carvana_dir):
    path = sorted((carvana_dir / "masks").glob("*_mask.gif"))[0]
    with Image.open(path) as image:
        values = np.unique(np.asarray(image))
    assert set(values.tolist()) <= {0, 1}
    mask = read_mask(path)
    assert mask.shape == (512, 512)
    assert 0.05 < mask.mean() < 0.6  # a car, not everything or nothing


# --- pairing photos with masks ----------------------------------------------------------------


def _touch_image(path: Path, value: int = 0, size: tuple[int, int] = (8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L" if path.suffix != ".jpg" else "RGB", size, value if path.suffix != ".jpg" else (value,) * 3).save(path)
    return path


def test_carvana_and_plain_naming_are_paired(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    _touch_image(images / "0cdf5b5d0ce1_01.jpg")
    _touch_image(masks / "0cdf5b5d0ce1_01_mask.gif")
    _touch_image(images / "red_car.jpg")
    _touch_image(masks / "red_car.png")
    _touch_image(images / "blue_car.png")
    _touch_image(masks / "blue_car_mask.png")
    _touch_image(images / "lonely.jpg")  # no mask
    (images / "notes.txt").write_text("not a photo")
    _touch_image(images / ".hidden.jpg")
    samples, unmatched = find_samples(images, masks)
    pairs = {s.image.name: s.mask.name for s in samples}
    assert pairs == {
        "0cdf5b5d0ce1_01.jpg": "0cdf5b5d0ce1_01_mask.gif",
        "red_car.jpg": "red_car.png",
        "blue_car.png": "blue_car_mask.png",
    }
    assert [p.name for p in unmatched] == ["lonely.jpg"]
    assert [s.name for s in samples] == sorted(s.name for s in samples)  # deterministic order


def test_carvana_mask_wins_over_a_plain_one(tmp_path):
    _touch_image(tmp_path / "masks" / "abcdefabcdef_03.png")
    _touch_image(tmp_path / "masks" / "abcdefabcdef_03_mask.gif")
    found = find_mask(tmp_path / "images" / "abcdefabcdef_03.jpg", tmp_path / "masks")
    assert found is not None and found.name == "abcdefabcdef_03_mask.gif"


def test_missing_folders_are_reported(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="masks"):
        find_samples(tmp_path / "images", tmp_path / "masks")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_samples(tmp_path / "nowhere", tmp_path / "images")


def test_group_is_the_carvana_car_id_else_the_numbered_series_else_the_folder(tmp_path):
    assert group_of(Path("x/0cdf5b5d0ce1_01.jpg")) == "0cdf5b5d0ce1"
    assert group_of(Path("x/0cdf5b5d0ce1_16.png")) == "0cdf5b5d0ce1"
    assert group_of(Path("x/red_car.jpg")) == "x"
    assert group_of(Path("x/0CDF5B5D0CE1_01.jpg")) == "x/0CDF5B5D0CE1"  # not Carvana's lower-case hex
    assert group_of(tmp_path / "suv" / "front.jpg", tmp_path) == "suv"
    assert group_of(tmp_path / "clipA_00010.jpg", tmp_path) == group_of(tmp_path / "clipA_00011.jpg", tmp_path) == "clipA"
    assert group_of(tmp_path / "clipB-7.jpg", tmp_path) == "clipB"
    assert group_of(tmp_path / "day2" / "IMG 0042.jpg", tmp_path) == "day2/IMG"
    assert group_of(tmp_path / "00010.jpg", tmp_path) == tmp_path.name  # only a number: the folder


def test_real_carvana_pairs(few_cars):
    samples, unmatched = find_samples(few_cars / "images", few_cars / "masks")
    assert len(samples) == 8 and not unmatched
    assert len({s.group for s in samples}) == 2
    assert all(s.mask.name == f"{s.image.stem}_mask.gif" for s in samples)


# --- the split by car -------------------------------------------------------------------------


def _carvana_samples(cars: int, angles: int = 16) -> list[Sample]:
    samples = []
    for car in range(cars):
        car_id = f"{car:012x}"
        for angle in range(1, angles + 1):
            name = f"{car_id}_{angle:02d}"
            samples.append(Sample(image=Path(f"{name}.jpg"), mask=Path(f"{name}_mask.gif"), group=group_of(Path(name))))
    return samples


def test_split_never_puts_one_car_on_both_sides():
    samples = _carvana_samples(25)
    train, val = split_by_group(samples, 0.2, seed=3)
    train_cars, val_cars = {s.group for s in train}, {s.group for s in val}
    assert not train_cars & val_cars
    assert len(val_cars) == 5 and len(train_cars) == 20
    assert len(train) + len(val) == len(samples)
    assert all(len([s for s in val if s.group == car]) == 16 for car in val_cars)


def test_split_is_deterministic_for_a_seed_and_varies_with_it():
    samples = _carvana_samples(30, angles=2)
    first = split_by_group(samples, 0.2, seed=0)
    again = split_by_group(list(reversed(samples)), 0.2, seed=0)
    assert {s.group for s in first[1]} == {s.group for s in again[1]}
    others = [{s.group for s in split_by_group(samples, 0.2, seed=seed)[1]} for seed in range(1, 6)]
    assert any(groups != {s.group for s in first[1]} for groups in others)


def test_split_edge_cases():
    samples = _carvana_samples(3, angles=2)
    train, val = split_by_group(samples, 0.0)
    assert len(train) == 6 and not val
    train, val = split_by_group(samples, 0.05)  # rounds to 0 cars, but one is held out
    assert len({s.group for s in val}) == 1
    one_car = _carvana_samples(1)
    train, val = split_by_group(one_car, 0.5)
    assert len(train) == 16 and not val


# --- caching and the preprocessing path -------------------------------------------------------


def test_cache_samples_resizes_once_and_keeps_full_masks(few_cars):
    samples, _ = find_samples(few_cars / "images", few_cars / "masks")
    calls = []
    cached = cache_samples(samples[:3], Preprocess(size=64), keep_full_masks=True, progress=lambda i, n: calls.append((i, n)))
    assert len(cached) == 3
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert all(image.shape == (64, 64, 3) and image.dtype == np.uint8 for image in cached.images)
    assert all(t.shape == (64, 64) and t.dtype == np.float32 for t in cached.targets)
    assert all(0.0 <= t.min() and t.max() <= 1.0 for t in cached.targets)
    assert any(((t > 0) & (t < 1)).any() for t in cached.targets)  # soft edges survive shrinking
    assert all(m.shape == (512, 512) and m.dtype == bool for m in cached.full_masks)
    assert cached.weights == [None, None, None]


def test_cache_reads_correction_weights(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    _touch_image(images / "a.png", 200, (32, 32))
    masks.mkdir()
    half = np.zeros((32, 32), np.uint8)
    half[:, :16] = 255  # a mask of car and background (an all-car mask is left out)
    Image.fromarray(half).save(masks / "a.png")
    weight = np.zeros((32, 32), np.uint8)
    weight[:16] = 255
    Image.fromarray(weight).save(tmp_path / "w.png")
    sample = Sample(images / "a.png", masks / "a.png", "a", weight=tmp_path / "w.png")
    cached = cache_samples([sample], Preprocess(size=32))
    assert cached.weights[0] is not None
    assert cached.weights[0][:16].min() == 1.0 and cached.weights[0][16:].max() == 0.0
    assert cached.full_masks == []


def test_preprocess_refuses_sizes_the_networks_cannot_take():
    for size in (0, 48, 100, -32):
        with pytest.raises(ValueError, match="multiple of 32"):
            Preprocess(size=size)
    with pytest.raises(ValueError, match="std"):
        Preprocess(size=64, std=(0.2, 0.0, 0.2))
    assert Preprocess.from_dict(Preprocess(size=96).to_dict()) == Preprocess(size=96)


def test_to_tensor_normalises_by_imagenet_statistics():
    mean_pixel = np.array([round(m * 255) for m in IMAGENET_MEAN], np.uint8)
    images = np.broadcast_to(mean_pixel, (2, 32, 32, 3)).copy()
    images[1] = 255
    tensor = Preprocess(size=32).to_tensor(images)
    assert tensor.shape == (2, 3, 32, 32) and tensor.dtype == torch.float32
    assert tensor.is_contiguous(memory_format=torch.channels_last)
    assert tensor[0].abs().max() < 0.01
    expected = torch.tensor([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
    assert torch.allclose(tensor[1, :, 5, 5], expected, atol=1e-5)


def test_preprocess_takes_photos_of_any_size():
    photos = [np.zeros((7, 5, 3), np.uint8), np.full((1280, 1918, 3), 128, np.uint8)]
    assert Preprocess(size=64)(photos).shape == (2, 3, 64, 64)


def test_resize_mask_gives_the_share_of_car():
    mask = np.zeros((4, 4), bool)
    mask[:, :2] = True
    enlarged = Preprocess(size=32).resize_mask(mask)  # bilinear: a soft edge in the middle
    assert enlarged.dtype == np.float32 and enlarged.shape == (32, 32)
    assert enlarged[:, :12].min() == 1.0 and enlarged[:, 20:].max() == 0.0
    assert 0 < enlarged[0, 16] < 1
    small = resize_array(mask.astype(np.float32), 2, 2)
    assert small.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    odd = np.zeros((3, 3), np.float32)
    odd[1, 1] = 1.0
    assert 0 < resize_array(odd, 2, 2).max() < 1  # area averaging, not nearest


def test_upsample_probability_returns_uint8_at_the_photo_size():
    probability = np.array([[0.0, 1.0], [0.25, 0.75]], np.float32)
    same = upsample_probability(probability, 2, 2)
    assert same.dtype == np.uint8 and same.tolist() == [[0, 255], [64, 191]]
    big = upsample_probability(probability, 5, 7)
    assert big.shape == (7, 5) and big.dtype == np.uint8
    assert big[0, 0] == 0 and big[0, -1] == 255


# --- augmentation -----------------------------------------------------------------------------


def _scene(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    target = np.zeros((size, size), np.float32)
    target[20:44, 8:40] = 1.0
    image = np.repeat((target * 255).astype(np.uint8)[..., None], 3, axis=2)
    return image, target


def test_augment_keeps_shapes_and_types_and_is_reproducible():
    image, target = _scene()
    weight = target.copy()
    first = augment(image, target, weight, np.random.default_rng(7))
    second = augment(image, target, weight, np.random.default_rng(7))
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    out_image, out_target, out_weight = first
    assert out_image.shape == image.shape and out_image.dtype == np.uint8
    assert out_target.shape == target.shape and out_target.dtype == np.float32
    assert out_weight is not None and out_weight.shape == target.shape
    assert 0.0 <= out_target.min() and out_target.max() <= 1.0
    assert augment(image, target, None, np.random.default_rng(7))[2] is None


def test_the_target_and_weight_follow_the_photo_geometry():
    image, target = _scene()
    no_colour = AugmentConfig(brightness=0, contrast=0, saturation=0, hue_degrees=0)
    for seed in range(6):
        out_image, out_target, out_weight = augment(image, target, target.copy(), np.random.default_rng(seed), no_colour)
        assert np.abs(out_image[..., 0] / 255.0 - out_target).mean() < 0.02
        assert np.array_equal(out_weight, out_target)


def test_zoom_out_shrinks_the_photo_and_leaves_the_frame_around_it_unknown():
    image, target = _scene()
    zoom = AugmentConfig(zoom_out=1.0, aspect=0, rotate_degrees=0, brightness=0, contrast=0, saturation=0, hue_degrees=0)
    for seed in range(6):
        maps = np.stack([np.zeros_like(target), np.ones_like(target)], axis=-1)
        out_image, out_target, out_maps = augment(image, target, maps, np.random.default_rng(seed), zoom)
        known = out_maps[..., 1] > 0
        rows, cols = np.nonzero(known)
        height, width = target.shape
        share = (rows.max() - rows.min() + 1) / height
        assert zoom.zoom_out_min - 0.05 <= share <= 1.0 - zoom.scale + 0.05  # the photo is shrunk...
        assert known.sum() < 0.95 * known.size and (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) == known.sum()
        assert np.array_equal(out_maps[..., 0][~known], np.zeros((~known).sum(), np.float32))  # ...the rest weighs 0
        assert out_target[known].sum() == pytest.approx(target.sum() * share ** 2, rel=0.15)  # the car shrinks with it
        assert np.abs(out_image[..., 0][known] / 255.0 - out_target[known]).mean() < 0.03
    without_weight = augment(image, target, None, np.random.default_rng(0), zoom)
    assert without_weight[1].sum() > 0.8 * target.sum()  # no weight map: never shrunk, as its frame could not be unknown


def test_zoom_in_magnifies_the_photo_so_the_car_crosses_the_frame_edge():
    image, target = _scene()
    rows, cols = np.nonzero(target > 0.5)
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < target.shape[0] - 1 and cols.max() < target.shape[1] - 1
    zoom = AugmentConfig(zoom_in=1.0, aspect=0, rotate_degrees=0, brightness=0, contrast=0, saturation=0, hue_degrees=0)
    crossing = 0
    for seed in range(12):
        out_image, out_target, out_maps = augment(image, target, np.ones_like(target), np.random.default_rng(seed), zoom)
        car = out_target > 0.5
        crossing += bool(car[0].any() or car[-1].any() or car[:, 0].any() or car[:, -1].any())
        assert out_maps.min() == 1.0  # the whole view is the photo's own: nothing unknown, nothing reflected in
        assert np.abs(out_image[..., 0] / 255.0 - out_target).mean() < 0.03  # the mask follows the photo
        assert out_target.sum() <= target.sum() * (zoom.zoom_in_max + 0.05) ** 2
    assert crossing >= 6


def test_degrade_changes_the_photo_but_not_where_the_car_is():
    image, target = _scene(96)
    textured = np.clip(image.astype(np.int16) + np.indices(target.shape).sum(0)[..., None] % 7, 0, 255).astype(np.uint8)
    changed = 0
    for seed in range(12):
        out = degrade(textured, np.random.default_rng(seed))
        assert out.shape == textured.shape and out.dtype == np.uint8
        assert np.array_equal(out, degrade(textured, np.random.default_rng(seed)))  # seeded
        changed += not np.array_equal(out, textured)
        bright = out[..., 0] > 127
        inside = bright[target > 0].mean()
        assert inside > 0.9 and bright[target == 0].mean() < 0.05  # blur, noise and blocks stay at the outline
    assert changed == 12


def test_streaks_are_odd_so_a_blur_does_not_shift_the_photo():
    assert [streak_length(share, 512) for share in (0.0, 0.004, 0.01, 0.02, 0.06)] == [3, 3, 5, 11, 31]
    assert all(streak_length(share / 1000, 640) % 2 == 1 for share in range(0, 80))
    line = np.zeros((9, 41), np.float32)
    line[:, 20] = 1.0  # a thin upright post: a horizontal streak spreads it evenly to both sides
    for share in (0.1, 0.2, 0.3):
        smeared = motion_blur(line, streak_length(share, 41))
        weights = smeared[4]
        assert abs(float((weights * np.arange(41)).sum() / weights.sum()) - 20.0) < 1e-4


def test_augment_degrades_only_the_share_asked_for():
    image, target = _scene()
    still = AugmentConfig(flip=False, scale=0, aspect=0, shift=0, rotate_degrees=0, brightness=0, contrast=0,
                          saturation=0, hue_degrees=0)
    untouched = [augment(image, target, None, np.random.default_rng(seed), still)[0] for seed in range(5)]
    assert all(np.array_equal(out, image) for out in untouched)
    degraded = [augment(image, target, None, np.random.default_rng(seed), AugmentConfig(
        flip=False, scale=0, aspect=0, shift=0, rotate_degrees=0, brightness=0, contrast=0, saturation=0,
        hue_degrees=0, degrade=1.0)) for seed in range(5)]
    assert all(not np.array_equal(out, image) and np.array_equal(out_target, target) for out, out_target, _ in degraded)


def test_panning_streaks_only_the_background_of_the_share_asked_for():
    image, target = _scene(96)
    stripes = (np.arange(96) % 6 * 20).astype(np.uint8)[None, :, None]
    image = np.where(target[..., None] > 0, image, np.broadcast_to(stripes, image.shape)).astype(np.uint8)
    still = dict(flip=False, scale=0, aspect=0, shift=0, rotate_degrees=0, brightness=0, contrast=0, saturation=0,
                 hue_degrees=0)
    inner = np.zeros_like(target, bool)
    inner[26:38, 14:34] = True  # the car away from its outline
    background = np.zeros_like(target, bool)
    background[60:, :] = True
    for seed in range(5):
        out, out_target, _ = augment(image, target, None, np.random.default_rng(seed), AugmentConfig(**still, panning=1.0))
        assert np.array_equal(out_target, target) and np.array_equal(out[inner], image[inner])
        assert out[background].std() < 0.6 * image[background].std()
        kept, _, _ = augment(image, target, None, np.random.default_rng(seed), AugmentConfig(**still, panning=0.0))
        assert np.array_equal(kept, image)


def test_flip_only_mirrors():
    image, target = _scene()
    flip_only = AugmentConfig(scale=0, aspect=0, shift=0, rotate_degrees=0, brightness=0, contrast=0,
                              saturation=0, hue_degrees=0)
    outcomes = set()
    for seed in range(8):
        _, out_target, _ = augment(image, target, None, np.random.default_rng(seed), flip_only)
        if np.array_equal(out_target, target[:, ::-1]):
            outcomes.add("flipped")
        elif np.array_equal(out_target, target):
            outcomes.add("kept")
        else:
            outcomes.add("other")
    assert outcomes == {"flipped", "kept"}


def test_colour_jitter_changes_colours_not_geometry():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    target = np.zeros((32, 32), np.float32)
    target[8:24, 8:24] = 1
    colour_only = AugmentConfig(flip=False, scale=0, aspect=0, shift=0, rotate_degrees=0)
    out_image, out_target, _ = augment(image, target, None, np.random.default_rng(1), colour_only)
    assert np.array_equal(out_target, target)
    assert not np.array_equal(out_image, image)


def test_photos_and_masks_in_one_folder(tmp_path):
    _touch_image(tmp_path / "car.jpg")
    _touch_image(tmp_path / "car_mask.png")
    _touch_image(tmp_path / "0cdf5b5d0ce1_01.jpg")
    _touch_image(tmp_path / "0cdf5b5d0ce1_01_mask.gif")
    _touch_image(tmp_path / "alone.png")  # would be its own "plain" mask: it is not
    samples, unmatched = find_samples(tmp_path, tmp_path)
    assert {s.image.name: s.mask.name for s in samples} == {
        "car.jpg": "car_mask.png", "0cdf5b5d0ce1_01.jpg": "0cdf5b5d0ce1_01_mask.gif"}
    assert [p.name for p in unmatched] == ["alone.png"]
