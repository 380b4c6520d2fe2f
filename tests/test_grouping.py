"""Photos that belong together (a Carvana car, the frames of one clip, a folder, near-identical
shots) are one group: the validation split never has them on both sides, and the review shows
them as one car."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from test_finetune_helpers import synthetic_photo

from core.grouping import car_and_angle, near_duplicate_groups, photo_group, series_name
from core.io.imageio import write_image
from core.store.corrections import CorrectionStore
from core.training import finetune as ft
from core.training.data import Sample


def clip_folder(root: Path, clips: dict[str, int]) -> Path:
    """``root/images`` + ``root/masks`` with ``count`` frames of each clip, e.g. clipA_00010.jpg."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for number, (clip, count) in enumerate(clips.items()):
        for frame in range(count):
            rgb, mask = synthetic_photo(100 * number + frame)
            name = f"{clip}_{10 * frame:05d}"
            write_image(root / "images" / f"{name}.png", rgb)
            write_image(root / "masks" / f"{name}.png", mask.astype(np.uint8) * 255)
    return root


def test_series_names():
    assert series_name("clipA_00010") == "clipA" and series_name("IMG 0042") == "IMG" and series_name("car3") == "car"
    assert series_name("front") is None and series_name("00010") is None


def test_frames_of_one_clip_are_never_on_both_sides_of_the_split(tmp_path):
    root = clip_folder(tmp_path / "clips", {"clipA": 6, "clipB": 6, "clipC": 6})
    items, unmatched = ft.folder_items(root)
    assert len(items) == 18 and not unmatched
    plan = ft.plan_split([item.sample for item in items], 0.2)
    clip = lambda sample: sample.image.stem.split("_")[0]  # noqa: E731
    assert plan.val and {clip(s) for s in plan.train}.isdisjoint({clip(s) for s in plan.val})
    assert "optimistic" not in plan.note


def test_one_clip_alone_gives_the_optimistic_warning(tmp_path):
    root = clip_folder(tmp_path / "clip", {"clipA": 8})
    items, _ = ft.folder_items(root)
    plan = ft.plan_split([item.sample for item in items], 0.25)
    assert plan.val and plan.train and "optimistic" in plan.note


def test_near_identical_photos_join_their_groups(tmp_path):
    rgb, _ = synthetic_photo(7, size=256)
    Image.fromarray(rgb).save(tmp_path / "shot_1.png")
    Image.fromarray(rgb).resize((200, 200)).save(tmp_path / "copy_1.jpg", quality=80)  # the same shot, resaved
    Image.fromarray(synthetic_photo(8, size=256)[0]).save(tmp_path / "other_1.png")
    images = [tmp_path / "shot_1.png", tmp_path / "copy_1.jpg", tmp_path / "other_1.png"]
    groups = [photo_group(image, tmp_path) for image in images]
    assert groups == ["shot", "copy", "other"]
    assert near_duplicate_groups(images, groups) == ["copy", "copy", "other"]
    carvana = ["0cdf5b5d0ce1", "1cdf5b5d0ce1", "other"]  # a Carvana id is the car, whatever the photo
    assert near_duplicate_groups(images, carvana) == carvana


def test_near_identical_photos_are_held_out_together(tmp_path):
    samples = []
    for index in range(6):
        rgb, mask = synthetic_photo(index)
        for copy in ("a", "b"):  # each shot saved twice under unrelated names
            name = f"{copy}{index}x_1"
            write_image(tmp_path / f"{name}.png", rgb)
            samples.append(Sample(image=tmp_path / f"{name}.png", mask=tmp_path / "m.png", group=photo_group(tmp_path / name)))
    plan = ft.plan_split(samples, 0.34)
    shot = lambda sample: sample.image.stem[1:]  # noqa: E731
    assert plan.val and {shot(s) for s in plan.train}.isdisjoint({shot(s) for s in plan.val})


def test_corrections_and_the_review_use_the_same_groups(tmp_path):
    store = CorrectionStore()
    rgb, mask = synthetic_photo(1)
    photo = tmp_path / "lot" / "clipA_00010.png"
    photo.parent.mkdir()
    write_image(photo, rgb)
    assert store.save(photo, mask).group == photo_group(photo) == "lot/clipA"
    root = tmp_path / "lot"
    assert car_and_angle(root / "clipA_00010.jpg", root) == ("clipA", -1)
    assert car_and_angle(root / "clipB_00010.jpg", root) == ("clipB", -1)  # two clips in one folder: two cars
    assert car_and_angle(root / "VIN123_07.jpg", root) == ("VIN123", 7)
