"""Mask editing and undo/redo (core.masking.mask_edit), without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from core.masking.mask_edit import BRUSH, ERASER, MaskEditor, Rect, brush_profile


def blank(height: int = 200, width: int = 300) -> MaskEditor:
    return MaskEditor(np.zeros((height, width), dtype=np.uint8))


def test_hard_dab_paints_a_disc_of_the_brush_size():
    editor = blank()
    rect = editor.dab(100.0, 80.0, BRUSH, size=40, hardness=1.0)
    assert rect is not None and rect.left <= 80 and rect.right >= 120 and rect.top <= 60 and rect.bottom >= 100
    assert set(np.unique(editor.alpha)) == {0, 255}
    area = int(editor.mask.sum())
    assert abs(area - np.pi * 20**2) < 0.03 * np.pi * 20**2
    rows, cols = np.nonzero(editor.mask)
    assert abs(rows.mean() + 0.5 - 80) < 0.5 and abs(cols.mean() + 0.5 - 100) < 0.5
    assert not editor.mask[80, 125] and editor.mask[80, 118]


def test_bool_masks_are_accepted_and_bad_masks_refused():
    editor = MaskEditor(np.ones((4, 5), dtype=bool))
    assert editor.alpha.dtype == np.uint8 and editor.alpha.max() == 255 and editor.mask.all()
    with pytest.raises(ValueError, match="2-D"):
        MaskEditor(np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="bool or uint8"):
        MaskEditor(np.zeros((4, 5), np.float32))


def test_a_fast_stroke_is_continuous_between_far_apart_events():
    editor = blank()
    editor.begin_stroke(BRUSH, size=6)
    editor.stroke_to(10.5, 50.5)
    editor.stroke_to(290.5, 150.5)  # one jump of ~300 pixels
    editor.end_stroke()
    for x in range(12, 289):
        y = 50.5 + (x + 0.5 - 10.5) * 100 / 280
        assert editor.mask[int(y), x], f"gap at x={x}"


def test_one_stroke_is_one_undo_step_and_undo_redo_are_exact():
    rng = np.random.default_rng(0)
    start = (rng.random((200, 300)) > 0.5).astype(np.uint8) * 255
    editor = MaskEditor(start)
    editor.begin_stroke(ERASER, size=30)
    for x in range(20, 280, 7):
        editor.stroke_to(x, 100 + 40 * np.sin(x / 30))
    diff = editor.end_stroke()
    after = editor.alpha.copy()
    assert diff is not None and diff.label == "Eraser Stroke"
    assert editor.can_undo and editor.undo_label == "Eraser Stroke" and not editor.can_redo
    assert editor.undo() is not None
    assert np.array_equal(editor.alpha, start) and not editor.can_undo and editor.can_redo
    assert editor.redo() is not None
    assert np.array_equal(editor.alpha, after)
    assert editor.undo() == diff.rect


def test_history_stores_diffs_not_copies():
    editor = MaskEditor(np.zeros((2000, 3000), dtype=np.uint8))
    editor.dab(1500, 1000, BRUSH, size=20)
    painted = int(editor.mask.sum())
    assert 0 < editor.history_bytes <= painted * 6 + 64
    assert editor.history_bytes < editor.alpha.nbytes / 1000


def test_the_brush_never_lowers_and_the_eraser_never_raises():
    editor = MaskEditor(np.full((50, 50), 128, np.uint8))
    editor.dab(25, 25, BRUSH, size=20, hardness=0.0)
    assert (editor.alpha >= 128).all()
    editor2 = MaskEditor(np.full((50, 50), 128, np.uint8))
    editor2.dab(25, 25, ERASER, size=20, hardness=0.0)
    assert (editor2.alpha <= 128).all() and editor2.alpha[25, 25] < 10


def test_overlapping_dabs_of_a_soft_brush_do_not_build_up():
    once = blank(60, 60)
    once.dab(30, 30, BRUSH, size=30, hardness=0.2)
    many = blank(60, 60)
    many.begin_stroke(BRUSH, size=30, hardness=0.2)
    for _ in range(5):
        many.stroke_to(30, 30)
    many.end_stroke()
    assert np.array_equal(once.alpha, many.alpha)


def test_soft_brush_fades_out_towards_its_edge():
    editor = blank(100, 100)
    editor.dab(50, 50, BRUSH, size=60, hardness=0.0)
    row = editor.alpha[49, 50:]
    assert row[0] > 240
    assert all(a >= b for a, b in zip(row[:-1], row[1:])), "alpha must not rise away from the centre"
    assert 0 < row[15] < 255 and row[31] == 0
    assert brush_profile(np.array([0.0, 10.0, 20.0]), 20.0, 0.5).tolist() == [1.0, 1.0, 0.0]


def test_a_new_edit_after_undo_clears_redo():
    editor = blank()
    editor.dab(50, 50)
    editor.undo()
    assert editor.can_redo
    editor.dab(100, 100)
    assert not editor.can_redo and editor.redo() is None


def test_abort_stroke_restores_the_mask_and_records_nothing():
    editor = blank()
    editor.begin_stroke(BRUSH, size=20)
    editor.stroke_to(40, 40)
    editor.stroke_to(200, 150)
    assert editor.mask.any()
    changed = editor.abort_stroke()
    assert changed is not None and not editor.mask.any() and not editor.can_undo


def test_dabs_at_and_beyond_the_border_are_clipped():
    editor = blank(40, 40)
    assert editor.dab(0, 0, size=10) is not None
    assert editor.mask[0, 0] and editor.mask[2, 2]
    assert editor.dab(-100, -100, size=10) is None
    rect = editor.dab(39.9, 39.9, size=100)
    assert rect == Rect(0, 0, 40, 40)
    editor.undo()
    editor.undo()
    assert not editor.mask.any()


def test_random_strokes_undo_to_the_start_and_redo_to_the_end():
    rng = np.random.default_rng(3)
    start = np.zeros((150, 260), np.uint8)
    start[40:110, 60:200] = 255
    editor = MaskEditor(start)
    for _ in range(12):
        editor.begin_stroke(BRUSH if rng.random() < 0.5 else ERASER, size=float(rng.uniform(2, 50)),
                            hardness=float(rng.choice([1.0, 0.5, 0.0])))
        for _ in range(rng.integers(1, 6)):
            editor.stroke_to(*rng.uniform(-20, 280, size=2))
        editor.end_stroke()
    final = editor.alpha.copy()
    while editor.undo() is not None:
        pass
    assert np.array_equal(editor.alpha, start)
    while editor.redo() is not None:
        pass
    assert np.array_equal(editor.alpha, final)


def test_fill_holes_fills_enclosed_background_only_and_respects_the_size_limit():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 20:80] = 255
    alpha[30:34, 30:34] = 0  # small hole (16 px)
    alpha[50:70, 50:70] = 0  # big hole (400 px)
    editor = MaskEditor(alpha)
    assert editor.fill_holes(max_area=100) is not None
    assert editor.mask[31, 31] and not editor.mask[60, 60] and not editor.mask[5, 5]
    assert editor.undo_label == "Fill Holes"
    editor.fill_holes()
    assert editor.mask[60, 60] and not editor.mask[5, 5]
    assert editor.fill_holes() is None  # nothing left to fill
    editor.undo()
    editor.undo()
    assert np.array_equal(editor.alpha, alpha)


def test_remove_islands_removes_small_specks_only():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[10:60, 10:60] = 255
    alpha[80:83, 80:83] = 255  # 9 px speck
    editor = MaskEditor(alpha)
    assert editor.remove_islands(max_area=50) is not None
    assert not editor.mask[81, 81] and editor.mask[30, 30]
    editor.undo()
    assert editor.mask[81, 81]


def test_invert_and_replace_are_undoable():
    alpha = np.zeros((20, 30), np.uint8)
    alpha[5:10, 5:10] = 255
    editor = MaskEditor(alpha)
    editor.invert()
    assert np.array_equal(editor.alpha, 255 - alpha)
    assert editor.replace(255 - alpha) is None
    editor.replace(np.zeros((20, 30), bool), "Revert")
    assert not editor.mask.any() and editor.undo_label == "Revert"
    editor.undo()
    editor.undo()
    assert np.array_equal(editor.alpha, alpha)
    with pytest.raises(ValueError, match="shape"):
        editor.replace(np.zeros((3, 3), np.uint8))


def test_history_is_bounded():
    editor = MaskEditor(np.zeros((50, 50), np.uint8), max_steps=3)
    for x in range(10):
        editor.dab(5 + 4 * x, 25, size=3)
    steps = 0
    while editor.undo() is not None:
        steps += 1
    assert steps == 3


def test_revision_changes_with_every_edit():
    editor = blank()
    seen = {editor.revision}
    editor.dab(20, 20)
    seen.add(editor.revision)
    editor.undo()
    seen.add(editor.revision)
    editor.redo()
    seen.add(editor.revision)
    assert len(seen) == 4


def test_misuse_is_reported():
    editor = blank()
    with pytest.raises(RuntimeError, match="begin_stroke"):
        editor.stroke_to(1, 1)
    with pytest.raises(ValueError, match="unknown tool"):
        editor.begin_stroke("pencil")
    assert editor.end_stroke() is None


def test_the_bounding_rect_holds_every_true_pixel_and_no_more():
    pixels = np.zeros((20, 30), bool)
    assert Rect.bounding(pixels) is None
    pixels[3, 7] = pixels[12, 20] = True
    assert Rect.bounding(pixels) == Rect(7, 3, 21, 13)
