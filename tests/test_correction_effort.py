"""The simulated user of benchmarks/bench_correction_effort.py: which photos it may use, how it
counts actions, where it gives up. On made-up masks; no model, no data."""

from __future__ import annotations

import numpy as np

from benchmarks.bench_correction_effort import correct, plain_action
from benchmarks.eval_sources import held_out_groups


def test_held_out_groups_match_cars_and_photos_of_a_mix_and_leave_out_earlier_training():
    info = {
        "val_groups": ["0cdf5b5d0ce1", "stanford-cars:stanford_00012", "stanford-cars:stanford_00099"],
        "train_groups": ["02159e548029", "stanford-cars:stanford_00001"],
        "trained_before": ["stanford-cars:stanford_00099"],  # an earlier stage trained on it
    }
    groups = held_out_groups(info)
    assert {"0cdf5b5d0ce1", "stanford_00012", "stanford-cars:stanford_00012"} <= groups
    assert "stanford_00099" not in groups and "stanford-cars:stanford_00099" not in groups
    assert "stanford_00001" not in groups and "02159e548029" not in groups


def _square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_one_plain_stroke_fills_a_missing_strip_and_the_count_is_one():
    truth = _square(64, 8, 8, 48)
    mask = truth.copy()
    mask[30:34, 12:52] = False  # a strip the model missed
    run = correct(mask, truth, {"plain stroke": plain_action}, radius=2.0)
    assert run.counts == {0.99: 1, 0.995: 1}
    assert run.tools == {"plain stroke": 1}
    assert run.final > 0.999  # the round brush may leave a corner pixel of the strip


def test_a_user_who_cannot_fix_the_mask_gives_up_at_max_actions():
    truth = _square(64, 8, 8, 48)
    mask = np.zeros_like(truth)  # nothing masked, and no tool is offered

    def nothing(editor, region, radius) -> None:
        return None

    run = correct(mask, truth, {"plain stroke": nothing}, radius=2.0, max_actions=3)
    assert run.counts == {0.99: 3, 0.995: 3}
    assert run.final == 0.0
