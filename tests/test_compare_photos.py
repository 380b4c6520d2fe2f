"""Two models compared photo by photo (benchmarks/compare_photos.py): what moved, and overlays of it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks.compare_photos import (
    ONLY_LABEL,
    ONLY_MASK,
    OVERLAY_WIDTH,
    mask_overlay,
    overlay_panels,
    per_photo_dice,
    photo_changes,
    write_overlays,
)
from tests.test_close_up import red_segmenter, street_photo


def test_only_photos_that_moved_by_more_than_the_least_change_are_listed_largest_first():
    before = {"a": 0.90, "b": 0.95, "c": 0.97, "d": 0.99, "gone": 0.5}
    after = {"a": 0.97, "b": 0.9505, "c": 0.94, "d": 0.98, "new": 0.1}
    changes = photo_changes(before, after, least_change=0.001)
    assert changes == {"better": [["a", 0.07]], "worse": [["c", -0.03], ["d", -0.01]]}
    assert photo_changes(before, after, least_change=0.05) == {"better": [["a", 0.07]], "worse": []}


def test_the_overlay_tints_only_where_mask_and_label_disagree():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    mask, label = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    mask[0, :2] = True  # (0, 0): both; (0, 1): the mask only
    label[0, 0] = label[1, 0] = True  # (1, 0): the label only
    out = mask_overlay(rgb, mask, label)
    assert np.array_equal(out[0, 0], rgb[0, 0]) and np.array_equal(out[3, 3], rgb[3, 3])
    assert np.argmax(out[0, 1]) == np.argmax(ONLY_MASK) and np.argmax(out[1, 0]) == np.argmax(ONLY_LABEL)
    assert out.dtype == np.uint8 and out.shape == rgb.shape


def test_overlays_show_the_photo_and_each_model_side_by_side(tmp_path):
    photo, truth = street_photo()
    panels = overlay_panels(photo, truth, [truth, ~truth])
    assert panels.shape == (round(360 * OVERLAY_WIDTH / 640), 3 * OVERLAY_WIDTH, 3)
    middle, right = panels[:, OVERLAY_WIDTH:2 * OVERLAY_WIDTH], panels[:, 2 * OVERLAY_WIDTH:]
    assert (middle == panels[:, :OVERLAY_WIDTH]).all()  # the right mask: nothing tinted
    assert (right != panels[:, :OVERLAY_WIDTH]).any(axis=2).mean() > 0.99  # the wrong one: all tinted


def test_a_moved_photo_gets_its_overlay_file(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    photo, truth = street_photo()
    Image.fromarray(photo).save(images / "frame_1.png")
    Image.fromarray(truth.astype(np.uint8) * 255).save(masks / "frame_1.png")
    sources = {"small-cars": (images, masks, {})}
    scores = per_photo_dice(red_segmenter(), sources)
    assert set(scores["small-cars"]) == {"frame_1"} and scores["small-cars"]["frame_1"] > 0.9  # red on grey
    changes = {"small-cars": {"better": [["frame_1", 0.2]], "worse": []}}
    assert write_overlays(tmp_path / "out", [red_segmenter(), red_segmenter()], sources, changes) == 1
    with Image.open(tmp_path / "out" / "small-cars_better_frame_1.png") as written:
        assert written.size == (3 * OVERLAY_WIDTH, round(360 * OVERLAY_WIDTH / 640))
