"""Keyboard focus: a value typed in a tool-bar box ends with Enter or Escape, and the canvas's
keys (views, tools) work again at once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_app_helpers import make_photo, make_window, open_and_wait, show_document


@pytest.fixture
def window(qtbot, tiny_checkpoint, tmp_path):
    window = make_window(qtbot, tiny_checkpoint)
    (document,) = open_and_wait(qtbot, window, [make_photo(tmp_path / "car.png")])
    show_document(qtbot, window, document)
    window.activateWindow()
    yield window
    window.close()


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget or widget.isAncestorOf(QApplication.focusWidget()))
    widget.selectAll()
    QTest.keyClicks(widget, text)


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape])
def test_enter_or_escape_in_the_size_box_gives_the_keys_back_to_the_canvas(qtbot, window, key):
    box = window.tool_options.size_box
    type_into(qtbot, box, "30")
    QTest.keyClick(box, key)
    assert window.state.brush_size == 30
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    window.state.set("view_mode", "overlay")
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_3)
    assert window.state.view_mode == "mask" and box.value() == 30
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_E)
    assert window.state.tool == "eraser"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_B)
    assert window.state.tool == "brush"


def test_escape_in_a_box_does_not_cancel_the_masking(qtbot, window):
    cancelled = []
    window.actions["cancel_masking"].triggered.connect(lambda: cancelled.append(True))
    type_into(qtbot, window.tool_options.hardness_box, "50")
    QTest.keyClick(window.tool_options.hardness_box, Qt.Key.Key_Escape)
    assert not cancelled and window.state.hardness == 0.5
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
