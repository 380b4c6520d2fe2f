"""What the user reads: the message bar and the status bar after an export, done or failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_app_helpers import MASK_TIMEOUT_MS, make_photo, make_window, open_and_wait, show_document


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    window = make_window(qtbot, tiny_checkpoint)
    yield window
    window.close()


def export_with_ctrl_s(qtbot, window, folder: Path) -> None:
    window.exports.ask = lambda settings, sources: settings.with_folder(folder)
    window.activateWindow()
    window.canvas.setFocus()
    with qtbot.waitSignal(window.exports.finished, timeout=MASK_TIMEOUT_MS):
        QTest.keyClick(window.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def test_the_message_bar_shows_the_export_message_not_its_level(qtbot, window, tmp_path):
    photo = make_photo(tmp_path / "photos" / "car.png")
    (document,) = open_and_wait(qtbot, window, [photo])
    show_document(qtbot, window, document)
    out = tmp_path / "out"
    export_with_ctrl_s(qtbot, window, out)
    assert (out / "car.png").is_file()
    assert window.message_bar.text == f"Exported 1 file(s) to {out}"
    assert window.message_bar.level == "info"
    assert window.status.currentMessage().startswith("Exported 1 of 1")


def test_a_failed_export_says_why_and_the_status_bar_does_not_claim_it_was_written(qtbot, window, tmp_path):
    photo = make_photo(tmp_path / "photos" / "car.png")
    (document,) = open_and_wait(qtbot, window, [photo])
    show_document(qtbot, window, document)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    export_with_ctrl_s(qtbot, window, blocker / "out")
    text = window.message_bar.text
    assert window.message_bar.level == "error"
    assert text not in ("error", "info") and "0 file(s)" in text and "1 failed" in text and str(blocker) in text
    status = window.status.currentMessage()
    assert "Exported 1 of 1" not in status and "1 failed" in status


def test_session_messages_reach_the_bar_with_their_text(qtbot, window):
    window.session.message.emit("warning", "something to read")
    assert window.message_bar.text == "something to read" and window.message_bar.level == "warning"
