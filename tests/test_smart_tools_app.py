"""The smart tools in the editor, offscreen: Smart Edges strokes (Ctrl: the plain brush), Flip
Region clicks, Re-mask in Box and Car in Box drags are one undo step each and saved like brush
strokes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_app_helpers import MASK_TIMEOUT_MS, drag, make_photo, make_window, open_and_wait, show_document, widget_point
from test_smart_cut import wall_scene
from test_smart_tools import CAR_TOP, scene

from core.masking.mask_edit import MaskEditor, Rect
from core.masking.smart_cut import CUT_AWAY, LABEL
from core.masking.smart_tools import REFINE
from maskingnet_app.editor.canvas import Canvas
from maskingnet_app.editor.editor_state import BOX, CAR_BOX, REGION, EditorState


@pytest.fixture
def canvas(qtbot):
    canvas = Canvas(EditorState(remember=False))
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def show_scene(canvas: Canvas, mask: np.ndarray) -> MaskEditor:
    rgb, _ = scene()
    editor = MaskEditor(mask.astype(np.uint8) * 255)
    canvas.set_photo(rgb, None, editor)
    canvas.set_probability(np.where(mask, 230, 25).astype(np.uint8))
    return editor


def test_a_smart_stroke_snaps_and_ctrl_paints_plain(qtbot, canvas):
    _, truth = scene()
    mask = truth.copy()
    mask[CAR_TOP:CAR_TOP + 6, 60:240] = False
    editor = show_scene(canvas, mask)
    canvas.state.set("brush_size", 24)
    assert canvas.state.smart, "Smart Edges is on by default"
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(60, CAR_TOP + 1), (150, CAR_TOP - 1), (240, CAR_TOP + 2)])
    assert editor.undo_label == "Smart Brush Stroke"
    assert np.array_equal(editor.mask[:, 70:230], truth[:, 70:230]), "filled to the edge, not beyond"

    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     widget_point(canvas, 150, CAR_TOP - 20))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                       widget_point(canvas, 150, CAR_TOP - 20))
    assert editor.undo_label == "Brush Stroke" and editor.mask[CAR_TOP - 20, 150]
    editor.undo()
    editor.undo()
    assert np.array_equal(editor.mask, mask)

    canvas.state.set("tool", REFINE)
    canvas.state.set("smart", False)  # Refine Edge always snaps
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(60, CAR_TOP + 1), (240, CAR_TOP + 1)], Qt.MouseButton.RightButton)
    assert editor.undo_label == "Refine Edge Stroke"
    assert np.array_equal(editor.mask[:, 70:230], truth[:, 70:230])


def test_a_cut_to_edges_drag_cuts_a_wall_away_and_a_right_drag_adds_car(qtbot, canvas):
    rgb, truth, wall = wall_scene()
    mask = truth | wall
    editor = MaskEditor(mask.astype(np.uint8) * 255)
    canvas.set_photo(rgb, None, editor)
    canvas.state.set("tool", CUT_AWAY)
    canvas.state.set("brush_size", 40)
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(190, 80), (235, 80), (280, 80)])
    assert editor.undo_label == LABEL
    assert (editor.mask & wall).sum() < 0.05 * wall.sum() and (editor.mask & truth).sum() > 0.99 * truth.sum()
    editor.undo()
    assert np.array_equal(editor.mask, mask), "one undo step"

    missing = truth.copy()
    missing[120:190, 200:260] = False
    editor.replace(np.where(missing, 255, 0).astype(np.uint8))
    canvas.refresh()
    canvas.state.set("brush_size", 36)
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(205, 155), (222, 155), (240, 155)], Qt.MouseButton.RightButton)
    assert editor.undo_label == LABEL
    assert (editor.mask & truth & ~missing).sum() > 0.95 * (truth & ~missing).sum(), "a right drag adds car"


def test_a_region_click_flips_a_hole_in_one_step(qtbot, canvas):
    _, truth = scene()
    mask = truth.copy()
    mask[135:165, 90:150] = False
    editor = show_scene(canvas, mask)
    canvas.state.set("tool", REGION)
    with qtbot.waitSignal(canvas.strokeFinished):
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         widget_point(canvas, 120, 150))
    assert np.array_equal(editor.mask, truth) and editor.undo_label == "Flip Region"


def test_a_box_drag_previews_and_asks_for_a_re_mask(qtbot, canvas):
    _, truth = scene()
    show_scene(canvas, truth)
    canvas.state.set("tool", BOX)
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 50, 40))
    QTest.mouseMove(viewport, widget_point(canvas, 150, 120))
    preview = canvas.box_rect()
    assert preview is not None and abs(preview.left - 50) <= 2 and abs(preview.bottom - 120) <= 2
    with qtbot.waitSignal(canvas.boxRequested) as requested:
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           widget_point(canvas, 150, 120))
    rect = requested.args[0]
    assert isinstance(rect, Rect) and abs(rect.width - 100) <= 3 and abs(rect.height - 80) <= 3
    assert canvas.box_rect() is None


def test_a_car_box_drag_shades_what_becomes_background(qtbot, canvas):
    _, truth = scene()
    show_scene(canvas, truth)
    canvas.state.set("tool", CAR_BOX)
    viewport = canvas.viewport()
    inside, outside = widget_point(canvas, 150, 150), widget_point(canvas, 20, 20)
    before = viewport.grab().toImage()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 100, 100))
    QTest.mouseMove(viewport, widget_point(canvas, 200, 180))
    during = viewport.grab().toImage()
    assert during.pixelColor(outside).lightness() < before.pixelColor(outside).lightness() - 40, "outside is shaded"
    assert during.pixelColor(inside).lightness() >= before.pixelColor(inside).lightness() - 5, "inside is not"
    with qtbot.waitSignal(canvas.boxRequested):
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 200, 180))


def test_window_box_and_region_edits_are_undoable_and_saved(qtbot, tiny_checkpoint, tmp_path):
    window = make_window(qtbot, tiny_checkpoint)
    try:
        (document,) = open_and_wait(qtbot, window, [make_photo(tmp_path / "car.png")])
        show_document(qtbot, window, document)
        assert document.probability is not None and document.probability.shape == document.editor.shape
        editor = document.editor
        editor.patch(Rect(0, 0, 320, 200), 255 - editor.alpha, "Invert Mask")  # all wrong: the box has work
        before = editor.alpha.copy()
        messages = []
        window.box_remask.message.connect(lambda level, text: messages.append(text))

        window.actions["tool_box"].trigger()
        assert window.state.tool == BOX
        with qtbot.waitSignal(window.correctionSaved, timeout=MASK_TIMEOUT_MS):
            drag(window.canvas, [(20, 20), (200, 150)])
        assert editor.undo_label == "Re-mask Box" and not messages
        changed = np.nonzero(editor.alpha != before)
        # the box, within the rounding of widget points at the canvas's zoom
        assert all(18 <= c < 202 for c in changed[1]) and all(18 <= r < 152 for r in changed[0])

        window.actions["tool_region"].trigger()
        x, y = 300, 10
        with qtbot.waitSignal(window.correctionSaved, timeout=MASK_TIMEOUT_MS):
            drag(window.canvas, [(x, y)])
        assert editor.undo_label == "Flip Region"
        assert window.actions["undo"].text() == "&Undo Flip Region"

        window.actions["tool_car_box"].trigger()
        assert window.state.tool == CAR_BOX
        with qtbot.waitSignal(window.correctionSaved, timeout=MASK_TIMEOUT_MS):
            drag(window.canvas, [(30, 30), (250, 170)])
        assert editor.undo_label == "Car in Box" and not messages
        assert not editor.mask[:25].any() and not editor.mask[:, :25].any(), "outside the box is background"
        window.actions["undo"].trigger()
        window.actions["undo"].trigger()
        assert editor.undo_label == "Re-mask Box"
        window.actions["snap_outline"].trigger()
        assert editor.undo_label in ("Snap Outline", "Re-mask Box"), "one step, or nothing to snap"

        window.actions["smart_edges"].trigger()
        assert not window.state.smart
    finally:
        window.close()
