"""benchmarks/eval_mirror_gate.py: the figures of a mirror pass only on uncertain photos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.eval_mirror_gate import gain_correlation, gated_figures, near_car_scores, report

PHOTOS = {
    "carvana": {"a": {"uncertainty": 0.01, "single": 0.990, "mirror": 0.994},
                "b": {"uncertainty": 0.20, "single": 0.980, "mirror": 0.970}},
    "stanford-cars": {"c": {"uncertainty": 0.05, "single": 0.90, "mirror": 0.95}},
    "parts": {"p": {"uncertainty": 0.30,
                    "single": {"left_mirror": [1, 4], "wheel": [9, 10]},
                    "mirror": {"left_mirror": [3, 4], "wheel": [10, 10]}},
              "q": {"uncertainty": 0.001,
                    "single": {"hood": [5, 5]}, "mirror": {"hood": [4, 5]}}},
}


def test_each_photo_takes_the_mirror_pass_only_above_the_threshold():
    always, never = gated_figures(PHOTOS, -math.inf), gated_figures(PHOTOS, math.inf)
    assert always["carvana"] == pytest.approx(0.982) and never["carvana"] == pytest.approx(0.985)
    assert (always["mirrored_share"], never["mirrored_share"]) == (1.0, 0.0)
    between = gated_figures(PHOTOS, 0.04)  # b, c and p get the mirror pass; a and q do not
    assert between["carvana"] == pytest.approx((0.990 + 0.970) / 2)
    assert between["stanford-cars"] == pytest.approx(0.95)
    assert between["mirrored_share"] == pytest.approx(3 / 5)
    # part pixels are pooled over photos: p mirrored (3 + 10 of 14), q single (5 of 5)
    assert between["parts_all"] == pytest.approx((3 + 10 + 5) / (4 + 10 + 5))
    assert between["parts_mirror"] == pytest.approx(3 / 4) and between["parts_wheel"] == pytest.approx(1.0)
    assert never["parts_mirror"] == pytest.approx(1 / 4)


def test_the_uncertainty_is_correlated_with_each_photos_gain():
    rows = {str(i): {"uncertainty": u, "single": 0.9, "mirror": 0.9 + g}
            for i, (u, g) in enumerate([(0.1, 0.01), (0.2, 0.02), (0.3, 0.03)])}
    assert gain_correlation(rows) == pytest.approx(1.0)
    flipped = {key: {**row, "mirror": 0.9 - (row["mirror"] - 0.9)} for key, row in rows.items()}
    assert gain_correlation(flipped) == pytest.approx(-1.0)
    assert gain_correlation(dict(list(rows.items())[:2])) is None  # too few photos
    assert gain_correlation({k: {**r, "uncertainty": 0.1} for k, r in rows.items()}) is None  # no spread


def test_the_report_has_a_row_per_threshold_and_leaves_out_missing_sources():
    text = report(PHOTOS)
    assert "| always | 100% |" in text and "| never | 0% |" in text
    assert "small-cars" not in text.splitlines()[0]  # no photos of that source
    assert "carvana: median uncertainty" in text


def test_the_near_car_scores_leave_out_an_unsure_far_background():
    crisp = np.zeros((400, 800), np.uint8)
    crisp[150:300, 300:500] = 255  # the car, sure
    crisp[:, 700:] = 120  # a far background strip the model is unsure of
    scores = near_car_scores(crisp)
    assert scores["box"] == 0.0 and scores["band"] == 0.0
    soft = crisp.copy()
    soft[150:300, 300:320] = 120  # the car's left side unsure
    assert near_car_scores(soft)["box"] > 0.0 and near_car_scores(soft)["band"] > near_car_scores(soft)["box"]
    assert near_car_scores(np.zeros((30, 60), np.uint8)) == {"box": 0.0, "band": 0.0}  # no car at all


def test_the_report_compares_the_scores_on_the_outdoor_photos():
    rng = np.random.default_rng(0)
    photos = {"stanford-cars": {}, "parts": {}}
    for index in range(8):
        gain = 0.01 * index
        photos["stanford-cars"][f"s{index}"] = {"uncertainty": 0.2, "box": gain, "band": -gain,
                                                "single": 0.9, "mirror": 0.9 + gain}
        photos["parts"][f"p{index}"] = {"uncertainty": rng.random(), "box": gain, "band": -gain,
                                        "single": {"wheel": [5, 10]}, "mirror": {"wheel": [6, 10]}}
    lines = report(photos).splitlines()
    box = next(line for line in lines if line.strip().startswith("box:"))
    band = next(line for line in lines if line.strip().startswith("band:"))
    # the half that gains most mirrored: 0.04-0.07 of gains 0-0.07 (0.22 of 0.28); the other half, 0.06
    assert "50% mirrored" in box and "stanford-cars 79% (1.00)" in box and "parts_wheel 50%" in box
    assert "stanford-cars 21% (-1.00)" in band
