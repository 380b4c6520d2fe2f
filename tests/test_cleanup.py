"""Clean-up: small islands and pinholes go, the car and real gaps stay; car regions apart from the
main car go, its cut-off parts and cars as large stay; glass seen through is filled, thin gaps stay."""

from __future__ import annotations

import numpy as np

from core.io.imageio import read_mask
from core.masking.cleanup import clean_probability, fill_glass, ground_below, keep_main_car, remove_strays
from core.masking.inference import Segmenter


def _car(size: int = 512) -> np.ndarray:
    probability = np.zeros((size, size), np.float32)
    probability[80:180, 40:220] = 0.97
    return probability


def test_a_clean_map_comes_back_unchanged_and_uncopied():
    probability = _car()
    assert remove_strays(probability) is probability


def test_small_islands_and_pinholes_are_removed():
    probability = _car()
    probability[10:13, 10:13] = 0.9  # a 9-pixel speck in the background (strays: under 15.7 at 512)
    probability[120:123, 100:103] = 0.1  # a 9-pixel pinhole in the body
    cleaned = remove_strays(probability)
    assert cleaned[10:13, 10:13].max() == 0.0
    assert cleaned[120:123, 100:103].min() == 1.0
    assert np.array_equal(cleaned[80:180, 40:220] >= 0.5, np.ones((100, 180), bool))
    assert probability[10:13, 10:13].min() == np.float32(0.9)  # the input is left alone


def test_real_gaps_and_large_parts_stay():
    probability = _car()
    probability[150:180, 100:140] = 0.0  # a 30x40 gap reaching the bottom edge of the body
    probability[100:110, 60:70] = 0.0  # a 100-pixel hole: larger than the stray size
    probability[20:30, 20:30] = 0.8  # a 100-pixel separate part
    cleaned = remove_strays(probability)
    assert np.array_equal(cleaned >= 0.5, probability >= 0.5)


def test_background_at_the_border_is_never_filled():
    probability = np.ones((64, 64), np.float32)
    probability[0, 0] = 0.0  # a one-pixel background corner is open to the outside
    assert remove_strays(probability)[0, 0] == 0.0


def test_the_largest_car_region_is_kept_however_small():
    probability = np.zeros((256, 256), np.float32)
    probability[5:7, 5:7] = 0.9
    assert remove_strays(probability)[5:7, 5:7].min() == np.float32(0.9)


def test_finish_cleans_specks_and_other_cars_unless_asked_not_to():
    probability = _car()
    probability[10:13, 10:13] = 0.9  # a speck
    probability[300:360, 300:400] = 0.9  # another car further back
    cleaned, kept = Segmenter.finish(probability, 1024, 1024).mask, Segmenter.finish(probability, 1024, 1024, clean=False).mask
    assert not cleaned[20:26, 20:26].any() and not cleaned[600:720, 600:800].any()
    assert kept[21:25, 21:25].all() and kept[600:720, 600:800].all()


def test_a_car_region_apart_from_the_main_car_is_cleared():
    probability = _car()
    probability[300:360, 300:400] = 0.9  # another car further back: 6,000 pixels, a third of the main one
    cleaned = keep_main_car(probability)
    assert cleaned[300:360, 300:400].max() == 0.0
    assert np.array_equal(cleaned[80:180, 40:220], probability[80:180, 40:220])
    assert probability[300:360, 300:400].min() == np.float32(0.9)  # the input is left alone


def test_a_part_cut_off_by_a_thin_gap_and_a_car_as_large_stay():
    probability = _car()
    probability[100:110, 222:232] = 0.8  # a mirror 2 pixels from the body (reach: 5 at 512)
    probability[300:400, 250:420] = 0.9  # a car of nearly the same size: two cars side by side, or one split by a post
    assert keep_main_car(probability) is probability


def test_a_map_with_one_car_region_or_none_comes_back_as_is():
    for probability in (_car(), np.zeros((64, 64), np.float32)):
        assert keep_main_car(probability) is probability


def test_a_piece_of_the_car_inside_its_outline_stays():
    probability = np.zeros((512, 512), np.float32)
    probability[200:300, 40:440] = 0.95  # the body
    probability[100:200, 40:60] = 0.95  # the rear pillar, joined to the body
    probability[100:200, 420:440] = 0.95  # the front pillar, joined too
    probability[110:180, 200:260] = 0.9  # a piece of the roof the model split off, 20 pixels from the pillars
    assert keep_main_car(probability) is probability


def test_a_window_seen_through_is_filled_and_thin_or_open_gaps_stay():
    probability = _car()  # 100 rows high: a disc of radius 5 makes a region glass
    probability[95:125, 60:110] = 0.2  # a window the model saw through: 30 x 50
    probability[165:170, 120:200] = 0.1  # a slit under a side step: 5 high, enclosed
    probability[140:148, 160:168] = 0.0  # a gap between spokes: 8 x 8, radius 4
    probability[150:180, 60:90] = 0.0  # a gap reaching the body's edge (between the wheels)
    filled = fill_glass(probability)
    assert filled[95:125, 60:110].min() == 1.0
    assert filled[165:170, 120:200].max() < 0.5 and filled[140:148, 160:168].max() < 0.5
    assert filled[150:180, 60:90].max() < 0.5
    assert probability[95:125, 60:110].max() == np.float32(0.2)  # the input is left alone
    assert clean_probability(probability)[95:125, 60:110].min() == 1.0  # every mask gets it


def test_a_map_without_enclosed_glass_comes_back_as_is():
    probability = _car()
    assert fill_glass(probability) is probability
    probability[140:148, 160:168] = 0.0
    assert fill_glass(probability) is probability


def test_no_gap_of_the_carvana_truth_masks_is_filled(carvana_dir):
    """The truth keeps gaps under a rear wing, between a mirror and its pillar, between spokes and
    under a side step open: the fill must leave every one of them (all 4,352 masks) alone."""
    filled = []
    for path in sorted((carvana_dir / "masks").iterdir()):
        probability = read_mask(path).astype(np.float32)
        if fill_glass(probability) is not probability:
            filled.append(path.name)
    assert not filled


def test_the_ground_below_a_car_is_the_background_straight_under_it_within_the_depth():
    car = np.zeros((12, 10), bool)
    car[2:6, 2:8] = True
    car[6:8, 2:3] = True  # a wheel reaching lower on the left
    ground = ground_below(car, 3)
    assert ground[6:9, 3:8].all() and not ground[9:, 3:8].any()  # 3 px under the body, no deeper
    assert ground[8:11, 2].all() and not ground[11, 2]  # 3 px under the wheel
    assert not (ground & car).any() and not ground[:, [0, 1, 8, 9]].any() and not ground[:2].any()
    assert not ground_below(car, 0).any()
