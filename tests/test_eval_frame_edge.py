"""benchmarks/eval_frame_edge.py: cars cut by the frame, and how much of them a model keeps near the edge."""

from __future__ import annotations

import random

import numpy as np
import pytest

from benchmarks.eval_frame_edge import CutPhoto, cut_by_frame, frame_edge_figures
from core.masking.inference import Prediction


def test_a_car_is_cut_by_the_frame_on_one_side_with_its_mask():
    truth = np.zeros((50, 80), bool)
    truth[10:40, 20:60] = True
    rgb = np.zeros((50, 80, 3), np.uint8)
    for seed in range(12):
        cut = cut_by_frame("car", rgb, truth, random.Random(seed))
        assert cut.rgb.shape[:2] == cut.truth.shape
        edge = {"left": cut.truth[:, 0], "right": cut.truth[:, -1], "bottom": cut.truth[-1]}[cut.side]
        assert edge.any()  # the car now crosses the frame's edge on that side
        assert 0.6 <= cut.truth.sum() / truth.sum() <= 0.91
    with pytest.raises(ValueError, match="no car"):
        cut_by_frame("empty", rgb, np.zeros_like(truth), random.Random(0))


def test_the_figures_near_the_frame_edge():
    truth = np.zeros((100, 100), bool)
    truth[:, :50] = True

    class Half:
        def predict(self, rgb):
            mask = np.zeros((100, 100), np.uint8)
            mask[:, 4:60] = 255  # misses the 4 columns at the frame's edge, adds 10 columns away from it
            return Prediction(mask, 0.0, 0.0)

    figures = frame_edge_figures(Half(), [CutPhoto("car", "left", np.zeros((100, 100, 3), np.uint8), truth)])
    assert figures["photos"] == 1
    assert figures["dice"] == pytest.approx(2 * 46 * 100 / (56 * 100 + 50 * 100))
    # within 8 px of the edge: the true car there is columns 0-49 of rows 0-7 and 92-99, plus columns 0-7
    near = np.zeros((100, 100), bool)
    near[:8], near[-8:], near[:, :8], near[:, -8:] = True, True, True, True
    kept = (truth & near & (np.arange(100) >= 4)[None, :] & (np.arange(100) < 60)[None, :]).sum()
    assert figures["near_edge_kept"] == pytest.approx(kept / (truth & near).sum())
    false_car = (~truth & near & (np.arange(100) < 60)[None, :] & (np.arange(100) >= 4)[None, :]).sum()
    assert figures["near_edge_false"] == pytest.approx(false_car / (truth & near).sum())
