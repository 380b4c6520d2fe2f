"""The study's Dice coefficient (DSC = 2|X∩Y| / (|X| + |Y|), 1 when both masks are empty) and stray regions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.training.metrics import dice, mean_dice, stray_regions


def test_both_empty_is_one():
    empty = np.zeros((4, 5), bool)
    assert dice(empty, empty) == 1.0


def test_one_empty_is_zero():
    empty = np.zeros((4, 5), bool)
    full = np.ones((4, 5), bool)
    assert dice(empty, full) == 0.0
    assert dice(full, empty) == 0.0


def test_identical_masks_are_one():
    mask = np.zeros((6, 6), bool)
    mask[1:4, 2:5] = True
    assert dice(mask, mask.copy()) == 1.0


def test_partial_overlap_follows_the_formula():
    prediction = np.zeros((1, 10), bool)
    truth = np.zeros((1, 10), bool)
    prediction[0, :6] = True  # |X| = 6
    truth[0, 3:7] = True  # |Y| = 4, |X∩Y| = 3
    assert dice(prediction, truth) == pytest.approx(2 * 3 / (6 + 4))


def test_disjoint_masks_are_zero():
    a = np.zeros((2, 2), bool)
    b = np.zeros((2, 2), bool)
    a[0] = True
    b[1] = True
    assert dice(a, b) == 0.0


def test_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.random((20, 30)) > 0.5, rng.random((20, 30)) > 0.3
    assert dice(a, b) == dice(b, a)


def test_non_boolean_inputs_count_nonzero_as_car():
    a = np.array([[0, 255], [255, 0]], np.uint8)
    b = np.array([[0, 1], [0, 0]], np.uint8)
    assert dice(a, b) == pytest.approx(2 * 1 / (2 + 1))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        dice(np.zeros((4, 5), bool), np.zeros((5, 4), bool))


def test_returns_a_python_float():
    assert type(dice(np.ones((2, 2), bool), np.ones((2, 2), bool))) is float


def test_large_masks_do_not_overflow():
    big = np.ones((5000, 5000), bool)  # 25 M pixels: sums beyond 2**24 stay exact
    half = big.copy()
    half[:2500] = False
    assert dice(big, half) == pytest.approx(2 * 12_500_000 / (25_000_000 + 12_500_000))


def test_mean_dice_is_per_image_then_averaged():
    small_miss = (np.zeros((2, 2), bool), np.ones((2, 2), bool))  # 0.0
    big_hit = (np.ones((100, 100), bool), np.ones((100, 100), bool))  # 1.0
    # Per image: (0 + 1) / 2, not pooled over pixels (which would be close to 1).
    assert mean_dice([small_miss, big_hit]) == 0.5


def test_mean_dice_of_nothing_is_nan():
    assert math.isnan(mean_dice([]))


def test_mean_dice_counts_empty_pairs_as_perfect():
    empty = np.zeros((3, 3), bool)
    assert mean_dice([(empty, empty), (empty, empty)]) == 1.0


def test_stray_regions_of_a_perfect_prediction_are_none():
    truth = np.zeros((40, 60), bool)
    truth[10:30, 10:50] = True
    assert stray_regions(truth, truth) == (0, 0)


def test_a_car_island_in_the_background_is_a_speckle():
    truth = np.zeros((40, 60), bool)
    truth[10:30, 10:40] = True
    prediction = truth.copy()
    prediction[2:4, 52:54] = True  # away from the car
    prediction[5:7, 2:4] = True
    prediction[10:30, 40:42] = True  # a bulge on the car's edge is not a speckle
    assert stray_regions(prediction, truth) == (2, 0)
    assert stray_regions(prediction, truth, min_pixels=5) == (0, 0)


def test_a_gap_punched_into_the_body_is_a_hole_but_a_true_gap_is_not():
    truth = np.zeros((40, 60), bool)
    truth[5:35, 5:55] = True
    truth[18:22, 28:32] = False  # a real gap (a window seen through) in the truth
    prediction = truth.copy()
    prediction[10:13, 10:13] = False  # a hole
    prediction[18:22, 28:32] = True  # the real gap filled in: a Dice error, not a hole
    assert stray_regions(prediction, truth) == (0, 1)


def test_stray_regions_refuse_mismatched_shapes():
    with pytest.raises(ValueError):
        stray_regions(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
