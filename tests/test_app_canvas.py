"""The canvas (zoom, pan, strokes, view modes) and the composed display image, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_app_helpers import drag

from core.masking.mask_edit import MaskEditor, Rect
from maskingnet_app.editor.canvas import Canvas
from maskingnet_app.editor.editor_state import EditorState
from maskingnet_app.editor.render import DisplayImage


def photo(width: int = 300, height: int = 200) -> np.ndarray:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = 100
    rgb[..., 2] = 50
    return rgb


@pytest.fixture
def canvas(qtbot):
    state = EditorState(remember=False)
    canvas = Canvas(state)
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    alpha = np.zeros((200, 300), np.uint8)
    alpha[50:150, 100:200] = 255
    canvas.set_photo(photo(), None, MaskEditor(alpha))
    return canvas


def test_fit_shows_the_whole_photo_centred(canvas):
    view = canvas.viewport()
    assert canvas.zoom == pytest.approx(min((view.width() - 8) / 300, (view.height() - 8) / 200), rel=0.02)
    top_left, bottom_right = canvas.image_to_widget(0, 0), canvas.image_to_widget(300, 200)
    assert top_left.x() >= 0 and top_left.y() >= 0
    assert bottom_right.x() <= view.width() and bottom_right.y() <= view.height()
    assert abs(top_left.x() + bottom_right.x() - view.width()) <= 1


def test_zoom_keeps_the_point_under_the_anchor(canvas):
    anchor = QPointF(400, 120)
    before = canvas.widget_to_image(anchor)
    canvas.set_zoom(canvas.zoom * 4, anchor)
    after = canvas.widget_to_image(anchor)
    assert after == pytest.approx(before, abs=1.0 / canvas.zoom + 1e-6)
    canvas.actual_size()
    assert canvas.zoom == 1.0
    canvas.fit()
    assert canvas.zoom < 2.0


def test_the_wheel_zooms_around_the_pointer(canvas, qtbot):
    canvas.set_zoom(2.0)
    position = QPointF(150, 100)
    before = canvas.widget_to_image(position)
    event = QWheelEvent(position, canvas.viewport().mapToGlobal(position), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    with qtbot.waitSignal(canvas.zoomChanged):
        QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom == pytest.approx(2.5)
    assert canvas.widget_to_image(position) == pytest.approx(before, abs=0.5)


def test_middle_drag_and_space_drag_pan_without_painting(canvas, qtbot):
    canvas.set_zoom(4.0)
    editor = canvas.editor
    start = editor.alpha.copy()
    viewport = canvas.viewport()
    h, v = canvas.horizontalScrollBar().value(), canvas.verticalScrollBar().value()
    QTest.mousePress(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 200))
    QTest.mouseMove(viewport, QPoint(250, 170))
    QTest.mouseRelease(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(250, 170))
    assert (canvas.horizontalScrollBar().value(), canvas.verticalScrollBar().value()) == (h + 50, v + 30)
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 200))
    QTest.mouseMove(viewport, QPoint(320, 200))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(320, 200))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.horizontalScrollBar().value() == h + 30
    assert np.array_equal(editor.alpha, start)


def test_strokes_follow_the_zoom_and_report_the_pixel_under_the_pointer(canvas, qtbot):
    canvas.set_zoom(3.0, canvas.image_to_widget(20, 20))
    canvas.state.set("brush_size", 4)
    with qtbot.waitSignal(canvas.cursorMoved) as moved:
        QTest.mouseMove(canvas.viewport(), canvas.image_to_widget(30.5, 25.5).toPoint())
    assert moved.args == [30, 25]
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(20.5, 20.5), (40.5, 20.5)])
    assert canvas.editor.mask[20, 20:41].all() and not canvas.editor.mask[30, 30]


def test_no_mask_means_no_painting(canvas):
    canvas.set_editor(None)
    assert not canvas.editing_enabled and not canvas.begin_stroke()
    drag(canvas, [(20, 20), (60, 60)])  # must not raise
    assert canvas.display.mode in ("overlay", "cutout", "mask", "original")


def test_the_brush_cursor_is_a_circle_of_the_brush_size(canvas):
    canvas.state.set("brush_size", 50)
    canvas.set_zoom(2.0)
    assert canvas._cursor_radius() == pytest.approx(50.0)
    QTest.mouseMove(canvas.viewport(), QPoint(300, 200))
    with_cursor = canvas.viewport().grab().toImage()
    canvas.leaveEvent(None)
    without = canvas.viewport().grab().toImage()

    def differs(x: int, y: int) -> bool:
        return any(with_cursor.pixel(x + dx, y) != without.pixel(x + dx, y) for dx in (-1, 0, 1))

    assert differs(350, 200) and differs(250, 200)  # the outline at the brush radius
    assert not differs(330, 200) and not differs(380, 200)
    assert canvas.viewport().cursor().shape() == Qt.CursorShape.BlankCursor


def test_view_state_changes_reach_the_display(canvas):
    canvas.state.set("view_mode", "mask")
    assert canvas.display.mode == "mask"
    canvas.state.set("overlay_opacity", 1.0)
    canvas.state.set("overlay_color", "#00ff00")
    canvas.state.set("view_mode", "overlay")
    assert canvas.display.color == (0, 255, 0) and canvas.display.opacity == 1.0


def pixel(display: DisplayImage, x: int, y: int) -> tuple[int, int, int, int]:
    return QColor.fromRgba(display.qimage.pixel(x, y)).getRgb()


def test_display_modes_compose_photo_and_mask():
    alpha = np.zeros((10, 20), np.uint8)
    alpha[:, 10:] = 255
    alpha[:, 5] = 128
    display = DisplayImage(photo(20, 10), alpha)
    display.configure(mode="original")
    assert pixel(display, 15, 5) == (200, 100, 50, 255)
    display.configure(mode="overlay", color="#0000ff", opacity=0.5)
    assert pixel(display, 0, 5) == (200, 100, 50, 255)
    red, green, blue, _ = pixel(display, 15, 5)
    assert abs(red - 100) <= 1 and abs(green - 50) <= 1 and abs(blue - 152) <= 2
    display.configure(mode="mask")
    assert pixel(display, 15, 5)[:3] == (255, 255, 255) and pixel(display, 0, 5)[:3] == (0, 0, 0)
    display.configure(mode="cutout")
    assert pixel(display, 15, 5) == (200, 100, 50, 255) and pixel(display, 0, 5)[3] == 0
    assert 120 <= pixel(display, 5, 5)[3] <= 135


def test_display_updates_only_the_given_rectangle():
    alpha = np.zeros((10, 20), np.uint8)
    display = DisplayImage(photo(20, 10), alpha)
    display.configure(mode="mask")
    alpha[:, :] = 255
    display.update(Rect(0, 0, 5, 10))
    assert pixel(display, 2, 2)[:3] == (255, 255, 255) and pixel(display, 10, 2)[:3] == (0, 0, 0)
    display.configure(alpha=None)
    assert pixel(display, 10, 2) == (200, 100, 50, 255)  # no mask: the photo
