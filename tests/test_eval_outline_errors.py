"""benchmarks/eval_outline_errors.py: where a mask's errors lie against an exact one."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.eval_outline_errors import REGIONS, error_regions, held_out_photos, outline_error_figures
from core.masking.inference import Prediction


def _box() -> np.ndarray:
    truth = np.zeros((100, 100), bool)
    truth[30:60, 20:80] = True  # the car: rows 30-59, its bottom edge row 59
    return truth


def test_false_car_under_the_car_is_told_from_the_rest_of_the_outline_and_far_away():
    truth = _box()
    mask = truth.copy()
    mask[60:64, 20:80] = True  # a shadow strip 4 px deep under the car: 240 px
    mask[30:60, 80:83] = True  # 3 px wide at its right side: 90 px
    mask[5:10, 5:10] = True  # a speck far away: 25 px
    regions = error_regions(mask, truth, band=8)
    assert regions == {"car": 1800, "false_under": 240, "false_near": 90, "false_far": 25,
                       "missed_bottom": 0, "missed_other": 0}


def test_missed_car_at_the_bottom_and_elsewhere():
    truth = _box()
    mask = truth.copy()
    mask[56:60, 20:80] = False  # the car's lowest 4 rows: 240 px
    mask[30:32, 20:80] = False  # its top 2 rows: 120 px
    regions = error_regions(mask, truth, band=8)
    assert (regions["missed_bottom"], regions["missed_other"]) == (240, 120)
    assert regions["false_under"] == regions["false_near"] == regions["false_far"] == 0


def test_a_car_on_the_frames_bottom_has_no_bottom_edge_there():
    truth = np.zeros((40, 40), bool)
    truth[20:, 10:30] = True  # stands on the frame's lower edge
    mask = truth.copy()
    mask[36:, 10:30] = False
    assert error_regions(mask, truth, band=8)["missed_bottom"] == 0
    assert error_regions(mask, truth, band=8)["missed_other"] == 80


def test_each_error_pixel_counts_once():
    rng = np.random.default_rng(0)
    truth = _box()
    mask = rng.random((100, 100)) < 0.5
    regions = error_regions(mask, truth, band=5)
    assert sum(regions[name] for name in REGIONS) == int((mask != truth).sum())


def test_the_figures_are_shares_of_the_true_car():
    truth = _box()
    mask = truth.copy()
    mask[60:62, 20:80] = True

    class Shadowed:
        def predict(self, rgb):
            return Prediction(mask.astype(np.uint8) * 255, 0.0, 0.0)

    figures = outline_error_figures(Shadowed(), [(np.zeros((100, 100, 3), np.uint8), truth)] * 2, band=8)
    assert figures["photos"] == 2
    assert figures["false_under"] == pytest.approx(120 / 1800)
    assert figures["dice"] == pytest.approx(2 * 1800 / (1920 + 1800))
    assert figures["missed_other"] == 0


def test_only_the_held_out_cars_photos_with_a_mask_are_used(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in ("aaa_01", "aaa_02", "aaa_03", "bbb_01", "ccc_01"):
        (images / f"{stem}.jpg").write_bytes(b"")
        if stem != "aaa_03":
            (masks / f"{stem}_mask.gif").write_bytes(b"")
    pairs = held_out_photos(images, masks, "{}_mask.gif", {"aaa", "ccc"}, every=1)
    assert [photo.stem for photo, _ in pairs] == ["aaa_01", "aaa_02", "ccc_01"]
    # every 2nd of aaa_01, aaa_02, aaa_03, ccc_01 is aaa_01 and aaa_03, and aaa_03 has no mask
    assert [photo.stem for photo, _ in held_out_photos(images, masks, "{}_mask.gif", {"aaa", "ccc"}, every=2)] \
        == ["aaa_01"]
