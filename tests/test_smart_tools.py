"""The edge-aware tools (core.masking.smart_tools, core.masking.smart_whole), without Qt: they snap
to the photo's edges, stay in their reach, act in their direction, and each is one undo step."""

from __future__ import annotations

import numpy as np
import pytest

from core.masking.inference import Prediction
from core.masking.mask_edit import BRUSH, ERASER, MaskEditor, Rect
from core.masking.smart_tools import REFINE, EdgeGuide, SmartStroke, box_values, guided_filter, region_values, smart_stroke
from core.masking.smart_whole import car_in_box_values, snap_edges_values

H, W = 200, 300
CAR_TOP = 120  # the car: a dark body below this row, on a light studio floor


def scene(noise: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(photo, true car mask): a dark red body with a window, on a light grey background."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:] = (205, 205, 200)
    truth = np.zeros((H, W), bool)
    truth[CAR_TOP:190, 40:260] = True
    rgb[truth] = (120, 20, 30)
    rgb += rng.normal(0, noise, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8), truth


def editor_of(mask: np.ndarray) -> MaskEditor:
    return MaskEditor(mask.astype(np.uint8) * 255)


def test_a_sloppy_smart_stroke_along_the_sill_gives_a_clean_edge():
    rgb, truth = scene()
    mask = truth.copy()
    mask[CAR_TOP:CAR_TOP + 6, 60:240] = False  # the model missed a 6-pixel strip along the top edge
    points = [(60.0 + x, CAR_TOP + 1.0 + 3 * np.sin(x / 20)) for x in range(0, 181, 6)]  # wavy, across the edge

    smart = editor_of(mask)
    smart_stroke(smart, EdgeGuide(rgb), BRUSH, 24, points)
    plain = editor_of(mask)
    plain.begin_stroke(BRUSH, 20)
    for x, y in points:
        plain.stroke_to(x, y)
    plain.end_stroke()

    assert np.array_equal(smart.mask, truth), "the smart brush fills the strip and stops at the edge"
    assert (plain.mask & ~truth).sum() > 500, "the plain brush paints the floor too"
    assert smart.undo_label == "Smart Brush Stroke"
    smart.undo()
    assert np.array_equal(smart.mask, mask) and not smart.can_undo


def test_a_wide_smart_stroke_snaps_on_a_smaller_copy_and_stays_in_its_reach():
    rgb, truth = scene()
    rgb, truth = np.repeat(np.repeat(rgb, 4, 0), 4, 1), np.repeat(np.repeat(truth, 4, 0), 4, 1)  # 800 x 1200
    top = 4 * CAR_TOP
    mask = truth.copy()
    mask[top : top + 40, 300:900] = False  # a 40-pixel strip missed along the roof
    editor = editor_of(mask)
    guide = EdgeGuide(rgb)
    smart_stroke(editor, guide, BRUSH, 200, [(300.0 + x, top + 10.0) for x in range(0, 601, 20)])
    assert set(guide._levels) == {2}, "a 200-pixel brush snaps on the quarter-size copy"
    assert (editor.mask != truth)[:, 330:870].sum() < 0.02 * 40 * 540, "the strip is filled to the edge"
    assert not (editor.mask & ~truth).any(), "not beyond it"


def test_the_smart_eraser_removes_a_floor_patch_but_not_the_body():
    rgb, truth = scene()
    mask = truth.copy()
    mask[110:CAR_TOP, 80:200] = True  # a floor patch taken for car
    editor = editor_of(mask)
    smart_stroke(editor, EdgeGuide(rgb), ERASER, 24, [(80.0, 117.0), (140.0, 118.0), (200.0, 116.0)])
    assert np.array_equal(editor.mask, truth)
    assert editor.undo_label == "Smart Eraser Stroke"


def test_the_smart_brush_stays_in_its_reach_and_only_adds():
    rgb, truth = scene()
    mask = truth.copy()
    mask[150:170, 100:110] = False  # a hole the stroke passes far from
    editor = editor_of(mask)
    smart_stroke(editor, EdgeGuide(rgb), BRUSH, 10, [(20.0, 20.0), (120.0, 40.0)])  # on the floor
    changed = editor.mask != mask
    assert not (changed & ~mask & ~editor.mask).any() and not (mask & ~editor.mask).any()  # only adds
    rows, cols = np.nonzero(changed)
    assert rows.size and rows.max() < 60 and cols.max() < 130, "nothing beyond the brush's reach"


def test_without_colour_differences_the_smart_brush_paints_like_the_plain_one():
    rgb = np.full((H, W, 3), 128, np.uint8)
    editor = MaskEditor(np.zeros((H, W), np.uint8))
    smart_stroke(editor, EdgeGuide(rgb), BRUSH, 20, [(50.0, 100.0), (250.0, 100.0)])
    assert editor.mask[100, 45:255].all() and editor.mask[92:108, 60:240].all()


def test_a_smart_stroke_previews_each_piece_and_is_one_undo_step():
    rgb, truth = scene()
    mask = truth.copy()
    mask[CAR_TOP:CAR_TOP + 6, 40:260] = False
    editor = editor_of(mask)
    stroke = SmartStroke(editor, EdgeGuide(rgb), BRUSH, 16)
    rects = [stroke.to(x, CAR_TOP + 1.0) for x in range(40, 261, 4)]
    assert editor.in_stroke and sum(r is not None for r in rects) >= 20
    assert editor.mask[CAR_TOP + 2, 45:200].all(), "the snapped result shows while dragging"
    diff = stroke.end()
    assert diff is not None and not editor.in_stroke and len(editor._undo) == 1
    assert np.array_equal(editor.mask, truth)


def test_a_refine_stroke_redraws_the_edge_both_ways():
    rgb, truth = scene()
    mask = truth.copy()
    mask[CAR_TOP:CAR_TOP + 4, 60:140] = False  # missed here
    mask[CAR_TOP - 4:CAR_TOP, 150:240] = True  # floor taken for car there
    editor = editor_of(mask)
    smart_stroke(editor, EdgeGuide(rgb), REFINE, 16, [(50.0 + x, CAR_TOP + 1.0) for x in range(0, 201, 5)])
    assert np.array_equal(editor.mask, truth) and editor.undo_label == "Refine Edge Stroke"
    editor.undo()
    assert np.array_equal(editor.mask, mask)


def test_a_click_fills_a_window_hole_whole():
    rgb, truth = scene()
    mask = truth.copy()
    mask[135:165, 90:150] = False  # the model left the body open
    editor = editor_of(mask)
    editor.patch(*region_values(EdgeGuide(rgb), editor.alpha, 120, 150), "Flip Region")
    assert np.array_equal(editor.mask, truth) and editor.undo_label == "Flip Region"


def test_a_click_removes_a_floor_patch_attached_to_the_car():
    rgb, truth = scene()
    rgb[95:CAR_TOP, 100:220] = (90, 90, 95)  # a dark shadow on the floor, masked as car
    mask = truth.copy()
    mask[95:CAR_TOP, 100:220] = True
    editor = editor_of(mask)
    editor.patch(*region_values(EdgeGuide(rgb), editor.alpha, 160, 105), "Flip Region")
    assert np.array_equal(editor.mask, truth)


def test_a_click_removes_a_patch_of_textured_ground_taken_for_car():
    rgb, truth = scene()
    rng = np.random.default_rng(1)
    grass = np.clip(rng.normal((60, 130, 40), 25, (H, W, 3)), 0, 255).astype(np.uint8)
    rgb[~truth] = grass[~truth]  # grass all around, too rough for a colour fill
    mask = truth.copy()
    mask[80:CAR_TOP, 100:220] = True
    editor = editor_of(mask)
    editor.patch(*region_values(EdgeGuide(rgb), editor.alpha, 160, 100), "Flip Region")
    assert (editor.mask != truth).sum() < 0.03 * (120 * 40), "the patch is gone, the car stays"
    assert editor.mask[truth].all()


def test_a_click_adds_a_missing_part_without_the_floor():
    rgb, truth = scene()
    mask = truth.copy()
    mask[CAR_TOP:CAR_TOP + 30, 200:260] = False  # the model missed the car's corner
    editor = editor_of(mask)
    editor.patch(*region_values(EdgeGuide(rgb), editor.alpha, 230, CAR_TOP + 15), "Flip Region")
    assert np.array_equal(editor.mask, truth)
    assert region_values(EdgeGuide(rgb), editor.alpha, -1, 5) is None


def test_a_click_removes_a_large_patch_apart_from_the_car_whole():
    rgb, truth = scene()
    rng = np.random.default_rng(2)
    rgb[:100, :] = np.clip(rng.normal((140, 150, 170), 30, (100, W, 3)), 0, 255).astype(np.uint8)  # a rough wall
    mask = truth.copy()
    mask[10:80, 20:180] = True  # 19 % of the photo, apart from the car (smaller): over the small-region share
    editor = editor_of(mask)
    editor.patch(*region_values(EdgeGuide(rgb), editor.alpha, 100, 50), "Flip Region")
    assert np.array_equal(editor.mask, truth)


def test_car_in_box_clears_outside_and_cuts_the_car_inside():
    rgb, truth = scene()
    mask = truth.copy()
    mask[10:60, 10:80] = True  # a patch far from the car
    mask[100:CAR_TOP, 60:240] = True  # a band of floor over the car's roof
    mask[150:175, 100:160] = False  # and a hole in the body
    probability = np.where(truth, 255, 30).astype(np.uint8)
    rect, values = car_in_box_values(EdgeGuide(rgb, probability), mask.astype(np.uint8) * 255, Rect(30, 95, 270, 198))
    editor = editor_of(mask)
    editor.patch(rect, values, "Car in Box")
    assert not editor.mask[:95].any() and editor.mask[truth].mean() > 0.99
    assert (editor.mask != truth).sum() < 0.01 * truth.sum()
    assert editor.undo_label == "Car in Box"
    editor.undo()
    assert np.array_equal(editor.mask, mask)


def test_car_in_box_keeps_the_mask_s_own_edges_where_it_agrees():
    rgb, truth = scene(noise=20)
    mask = truth.copy()
    mask[CAR_TOP - 1, 100:103] = True  # a one-pixel nick the user fixes with a brush, not a box
    rect, values = car_in_box_values(EdgeGuide(rgb), mask.astype(np.uint8) * 255, Rect(20, 100, 280, 199))
    assert np.array_equal(values[rect.slices] >= 128, mask)
    everything = np.full_like(alpha := mask.astype(np.uint8) * 255, 255)
    assert np.array_equal(car_in_box_values(EdgeGuide(rgb), everything, Rect(0, 0, W, H))[1], everything)
    assert not car_in_box_values(EdgeGuide(rgb), alpha * 0, Rect(20, 100, 280, 199))[1].any()
    with pytest.raises(ValueError, match="too small"):
        car_in_box_values(EdgeGuide(rgb), mask.astype(np.uint8) * 255, Rect(10, 10, 14, 40))


def test_snap_outline_moves_the_whole_outline_onto_the_photo_s_edges_in_one_step():
    rgb, truth = scene()
    mask = np.zeros_like(truth)
    mask[CAR_TOP + 2 : 192, 37:258] = True  # two pixels low, two short at the bottom, three wide and two narrow
    editor = editor_of(mask)
    rect, values = snap_edges_values(EdgeGuide(rgb), editor.alpha, radius=4)
    editor.patch(rect, values, "Snap Outline")
    assert (editor.mask != truth).sum() < 0.1 * (mask != truth).sum()
    assert editor.undo_label == "Snap Outline"
    far = np.ones_like(truth)
    far[CAR_TOP - 10 : 200, 30:270] = False
    assert not editor.mask[far].any(), "nothing changes away from the outline"


class FakeSegmenter:
    """Masks every crop as car inside a centred square: shows what reaches the model."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def predict(self, rgb: np.ndarray, alpha: np.ndarray | None = None, *, close_up: bool | None = None,
                frame_edge: bool | None = None) -> Prediction:
        assert close_up is False, "the box is the close-up: no second crop inside it"
        assert frame_edge is False, "the box's edges are not the photo's: no reflected second pass"
        self.seen.append(rgb.shape[:2])
        probability = np.full(rgb.shape[:2], 255, np.uint8)
        return Prediction(probability, 0.0, 0.0)


def test_a_box_is_re_masked_by_the_model_and_pasted_inside_only():
    rgb, truth = scene()
    segmenter = FakeSegmenter()
    rect, values = box_values(segmenter, rgb, Rect(100, 50, 200, 100))
    assert rect == Rect(100, 50, 200, 100) and values.shape == (50, 100) and (values == 255).all()
    assert segmenter.seen == [(60, 120)], "the model sees the box with 10 % of context around it"
    editor = editor_of(truth)
    editor.patch(rect, values, "Re-mask Box")
    assert editor.mask[50:100, 100:200].all() and not editor.mask[:50].any() and not editor.mask[100:CAR_TOP].any()
    with pytest.raises(ValueError, match="too small"):
        box_values(segmenter, rgb, Rect(10, 10, 14, 40))


def test_guided_filter_keeps_flat_signals_and_edges():
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    flat = guided_filter(guide, np.full((40, 40), 3.0, np.float32), 4, 1e-3)
    assert np.allclose(flat, 3.0, atol=1e-3)
    step = guided_filter(guide, np.where(guide > 0, 2.0, -2.0).astype(np.float32), 4, 1e-3)
    assert (step[:, :19] < -1.9).all() and (step[:, 21:] > 1.9).all()


def test_a_guide_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="uint8 photo"):
        EdgeGuide(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="does not match"):
        EdgeGuide(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4), np.uint8))
