"""Mask → Fill Holes fills every hole the car encloses; the clean-up size limits only Remove Small Islands."""

from __future__ import annotations

import numpy as np
import pytest
from test_app_helpers import drag, make_photo, make_window, open_and_wait, show_document


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    window = make_window(qtbot, tiny_checkpoint)
    yield window
    window.close()


def test_fill_holes_fills_a_hole_larger_than_the_clean_up_size(qtbot, window, tmp_path):
    (document,) = open_and_wait(qtbot, window, [make_photo(tmp_path / "car.png")])
    show_document(qtbot, window, document)
    editor = document.editor
    car = np.zeros(editor.shape, np.uint8)
    car[40:180, 40:280] = 255
    editor.replace(car, "setup")
    window.canvas.refresh()
    window.state.set("cleanup_percent", 0.1)
    window.state.set("brush_size", 40)
    window.actions["tool_eraser"].trigger()
    drag(window.canvas, [(160, 110)])
    hole = int((~editor.mask[40:180, 40:280]).sum())
    assert hole > window.state.cleanup_area(*document.size), "the hole must be above the clean-up size"
    window.actions["fill_holes"].trigger()
    assert np.array_equal(editor.alpha, car) and editor.undo_label == "Fill Holes"
    window.actions["remove_islands"].trigger()  # the car is far larger than the clean-up size
    assert np.array_equal(editor.alpha, car)
