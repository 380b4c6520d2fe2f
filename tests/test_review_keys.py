"""Reviewing a batch by keyboard from start to end: open a photo from the Review tab (Enter),
look at it in the editor (the dialog steps aside, the keys go to the canvas), mark it (A, F, X,
U) and go on to the next one; Ctrl+B brings the review back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_app_helpers import make_window
from test_batch_app import _batch_folder

from core.batch.review import ACCEPTED, FIXED, NEEDS_FIXING, UNREVIEWED, ReviewLog


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    window = make_window(qtbot, tiny_checkpoint)
    yield window
    window.close()


def shown(window) -> Path:
    return Path(window.current_document().path).resolve()


def press(qtbot, window, key) -> None:
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    QTest.keyClick(window.canvas, key)


def test_open_look_mark_and_next_by_keyboard(qtbot, window, tmp_path):
    _, out, _ = _batch_folder(tmp_path, cars=1, angles=4)
    dialog = window.features["batch"].choose_review_folder(out)
    grid = dialog.review
    order = [grid.model.item(row) for row in range(grid.model.rowCount())]
    assert len(order) == 4
    qtbot.waitExposed(dialog)
    grid.view.setFocus()
    grid.view.setCurrentIndex(grid.model.index(0))
    QTest.keyClick(grid.view, Qt.Key.Key_Return)  # open
    assert shown(window) == Path(order[0].source).resolve()
    assert dialog.isMinimized(), "the dialog must not cover the photo"
    assert window.actions["review_accept"].isEnabled()

    press(qtbot, window, Qt.Key.Key_A)  # accepted, and the next one opens
    assert shown(window) == Path(order[1].source).resolve()
    press(qtbot, window, Qt.Key.Key_F)
    assert shown(window) == Path(order[2].source).resolve()
    press(qtbot, window, Qt.Key.Key_U)  # clear: stays on the photo
    assert shown(window) == Path(order[2].source).resolve()
    press(qtbot, window, Qt.Key.Key_X)
    press(qtbot, window, Qt.Key.Key_A)  # the last one
    assert "no more photos" in window.message_bar.text
    marks = {output: item.mark for output, item in ReviewLog(out).items().items()}
    assert [marks[item.output] for item in order] == [ACCEPTED, NEEDS_FIXING, FIXED, ACCEPTED]
    assert grid.current_item().output == order[3].output  # the grid follows

    QTest.keyClick(window.canvas, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)  # back to the review
    assert dialog.isVisible() and not dialog.isMinimized()
    QTest.keyRelease(window.canvas, Qt.Key.Key_Control)  # Qt keeps Ctrl as held; a later test's click would not open


def test_the_mark_keys_do_nothing_to_a_photo_outside_the_review(qtbot, window, tmp_path):
    from test_app_helpers import make_photo

    _, out, _ = _batch_folder(tmp_path, cars=1, angles=2)
    window.features["batch"].choose_review_folder(out)
    window.open_paths([make_photo(tmp_path / "other.png")])
    assert not window.actions["review_accept"].isEnabled()
    assert all(item.mark == UNREVIEWED for item in ReviewLog(out).items().values())
