"""Cut to Edges (core.masking.smart_cut), without Qt: a stroke over a blob of background that has
the car's colours cuts it away up to the photo's edge, only near the stroke, in the stroke's
direction, as one undo step."""

from __future__ import annotations

import numpy as np

from core.masking.mask_edit import ERASER, MaskEditor
from core.masking.smart_cut import CUT_REACH, LABEL, CutStroke, cut_stroke, cut_values
from core.masking.smart_tools import EdgeGuide

H, W = 200, 300
CAR = (slice(120, 190), slice(40, 260))
WALL = (slice(40, 120), slice(180, 290))  # above the car's right end, touching it


def wall_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo, true car, wall): a dark red car on a light floor, and behind its right end a
    wall of nearly the car's colour; a dark seam is the only edge between them."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:] = (205, 205, 200)
    truth = np.zeros((H, W), bool)
    truth[CAR] = True
    wall = np.zeros((H, W), bool)
    wall[WALL] = True
    rgb[wall] = (132, 28, 36)
    rgb[truth] = (120, 20, 30)
    rgb[118:121, 180:260] = (40, 10, 12)  # the seam: the car's roof line against the wall
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8), truth, wall


def editor_of(mask: np.ndarray) -> MaskEditor:
    return MaskEditor(mask.astype(np.uint8) * 255)


def across_the_wall() -> list[tuple[float, float]]:
    return [(190.0 + x, 80.0) for x in range(0, 91, 5)]  # along the wall's middle (brush radius 20: its band is half the wall)


def test_a_stroke_over_a_wall_of_the_cars_colour_cuts_it_away_to_the_seam():
    rgb, truth, wall = wall_scene()
    mask = truth | wall  # the model took the wall for car
    editor = editor_of(mask)
    cut_stroke(editor, EdgeGuide(rgb), False, 40, across_the_wall())

    plain = editor_of(mask)
    plain.begin_stroke(ERASER, 40)
    for x, y in across_the_wall():
        plain.stroke_to(x, y)
    plain.end_stroke()

    assert (editor.mask & wall).sum() < 0.05 * wall.sum(), "the wall is cut away, not only the stroke's band"
    assert (plain.mask & wall).sum() > 0.4 * wall.sum(), "the plain eraser takes its band only"
    assert (editor.mask & truth).sum() > 0.99 * truth.sum(), "the car below the seam stays"
    assert editor.undo_label == LABEL
    editor.undo()
    assert np.array_equal(editor.mask, mask) and not editor.can_undo


def test_cut_in_adds_a_missing_part_up_to_the_edge_and_not_the_floor():
    rgb, truth, _ = wall_scene()
    mask = truth.copy()
    mask[120:190, 200:260] = False  # the model missed the car's right end
    editor = editor_of(mask)
    cut_stroke(editor, EdgeGuide(rgb), True, 36, [(205.0 + x, 155.0) for x in range(0, 36, 5)])  # the band ends inside
    missed = truth & ~mask
    assert (editor.mask & missed).sum() > 0.95 * missed.sum()
    assert (editor.mask & ~truth).sum() < 0.05 * missed.sum(), "the floor beside it stays background"


def test_only_the_other_side_within_reach_of_the_stroke_changes():
    rgb, truth, wall = wall_scene()
    mask = truth | wall
    radius = 5.0
    rect, values = cut_values(EdgeGuide(rgb), mask.astype(np.uint8) * 255, [(240.0, 60.0)], radius, add=False)
    after = mask.copy()
    after[rect.slices] = values >= 128
    rows, cols = np.nonzero(after != mask)
    assert len(rows), "the cut took something"
    assert not (after & ~mask).any(), "an eraser-side cut never adds car"
    assert np.hypot(rows - 60, cols - 240).max() <= CUT_REACH * radius + 1.5


def test_the_preview_is_the_plain_band_and_the_release_cuts_in_the_same_undo_step():
    rgb, truth, wall = wall_scene()
    editor = editor_of(truth | wall)
    stroke = CutStroke(editor, EdgeGuide(rgb), False, 40)
    for x, y in across_the_wall():
        stroke.to(x, y)
    band = editor.mask.copy()
    assert (band & wall).sum() > 0.4 * wall.sum(), "while dragging, only the band is taken"
    assert stroke.flush() is not None, "the release puts the cut in place"
    assert stroke.flush() is None, "once"
    assert stroke.end() is not None
    assert (editor.mask & wall).sum() < 0.05 * wall.sum()
    editor.undo()
    assert np.array_equal(editor.mask, truth | wall)


def test_a_stroke_off_the_photo_or_without_points_changes_nothing():
    rgb, truth, _ = wall_scene()
    alpha = truth.astype(np.uint8) * 255
    assert cut_values(EdgeGuide(rgb), alpha, [], 5.0, add=False) is None
    assert cut_values(EdgeGuide(rgb), alpha, [(-500.0, -500.0)], 5.0, add=False) is None
    editor = editor_of(truth)
    assert cut_stroke(editor, EdgeGuide(rgb), False, 10, [(150.0, 20.0)]) is None, "nothing of the car near it"
    assert not editor.can_undo
