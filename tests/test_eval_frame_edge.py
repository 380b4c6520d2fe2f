"""benchmarks/eval_frame_edge.py: cars cut by the frame, and the second pass on the touched sides."""

from __future__ import annotations

import random

import numpy as np
import pytest

from benchmarks.eval_frame_edge import CutPhoto, EdgePass, cut_by_frame, frame_edge_figures, touched_sides
from core.masking.inference import Prediction, Segmenter


def test_the_sides_a_mask_touches():
    mask = np.zeros((20, 30), bool)
    mask[5:, 10:30] = True  # reaches the bottom and the right side
    assert touched_sides(mask, 0.02) == {"top": False, "bottom": True, "left": False, "right": True}
    assert touched_sides(mask, 0.9)["bottom"] is np.False_


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


def test_the_second_pass_runs_only_where_the_mask_touches_the_frame(tiny_checkpoint, monkeypatch):
    segmenter = EdgePass.load(tiny_checkpoint, device="cpu")
    seen_shapes = []

    def fake(self, images, alphas=None, *, close_up=None):  # car in the left half of whatever it is given
        seen_shapes.append(images[0].shape[:2])
        probability = np.zeros(images[0].shape[:2], np.uint8)
        probability[:, : images[0].shape[1] // 2] = 255
        return [Prediction(probability, 0.0, 0.0)]

    monkeypatch.setattr(Segmenter, "predict_batch", fake)
    photo = np.zeros((40, 60, 3), np.uint8)
    segmenter.pad = 0.1
    prediction = segmenter.predict(photo)
    # the first mask touches top, bottom and left: reflected by 4 rows and 6 columns there
    assert seen_shapes == [(40, 60), (48, 66)] and segmenter.second_passes == 1
    assert prediction.probability.shape == (40, 60)
    # the second pass's left half of the 66-wide view, cropped back from column 6: columns 0-26 are car
    assert prediction.probability[:, :27].min() == 255 and prediction.probability[:, 27:].max() == 0
    segmenter.pad = 0.0
    seen_shapes.clear()
    segmenter.predict(photo)
    assert seen_shapes == [(40, 60)]


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
