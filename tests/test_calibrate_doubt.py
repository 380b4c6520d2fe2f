"""The doubt calibration's arithmetic (benchmarks/calibrate_doubt.py), on made-up scores."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.calibrate_doubt import auc, candidate_scores
from core.masking.inference import Prediction


def test_auc_is_the_chance_a_bad_mask_scores_above_a_good_one():
    assert auc(np.array([0.5, 0.6]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.5, 0.6])) == 0.0
    assert auc(np.array([0.3]), np.array([0.3])) == 0.5
    assert auc(np.array([0.3, 0.1]), np.array([0.2])) == 0.5
    assert math.isnan(auc(np.array([]), np.array([0.2])))


def test_candidate_scores_include_the_apps_doubt():
    probability = np.zeros((10, 10), np.uint8)
    probability[:, :5] = 255
    probability[0, 5] = 128  # one undecided pixel
    prediction = Prediction(probability, uncertainty=0.01, seconds=0.0, mirror=0.02, area=0.5)
    scores = candidate_scores(prediction)
    assert scores["app doubt"] == prediction.doubt
    assert scores["undecided 0.3-0.7"] == 0.01
    assert scores["mirror disagreement per car area"] == 0.04
