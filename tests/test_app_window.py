"""The main window end to end, offscreen: open, mask, paint, erase, undo, redo, export, drop,
paste, unreadable files, corrections that survive a restart, a missing model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_app_helpers import MASK_TIMEOUT_MS, drag, make_photo, make_window, open_and_wait, show_document

from core.io.imageio import read_photo
from maskingnet_app import app_settings
from maskingnet_app.editor.documents import STATUS_ROLE, PhotoStatus


@pytest.fixture
def photo(tmp_path) -> Path:
    return make_photo(tmp_path / "photos" / "car.png")


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    window = make_window(qtbot, tiny_checkpoint)
    yield window
    window.close()


def export_to(window, folder: Path) -> None:
    window.exports.ask = lambda settings, sources: settings.with_folder(folder)


def test_open_mask_paint_erase_undo_redo_and_export(qtbot, window, photo, tmp_path):
    with qtbot.waitSignal(window.session.maskChanged, timeout=MASK_TIMEOUT_MS):
        (document,) = window.open_paths([photo])
    show_document(qtbot, window, document)
    assert document.status == PhotoStatus.MASKED and document.key
    editor, canvas = document.editor, window.canvas
    model_mask = editor.alpha.copy()

    window.state.set("brush_size", 12)
    window.actions["tool_brush"].trigger()
    if window.actions["smart_edges"].isChecked():
        window.actions["smart_edges"].trigger()  # the plain brush (the smart tools: test_smart_tools_app)
    assert not window.state.smart
    with qtbot.waitSignal(canvas.strokeFinished):
        drag(canvas, [(40, 15), (160, 15), (280, 15)])  # along the top, far from the car
    assert editor.mask[15, 45:275].all(), "the brush stroke must be continuous"
    assert editor.undo_label == "Brush Stroke" and document.status == PhotoStatus.EDITED
    painted = editor.alpha.copy()

    window.actions["tool_eraser"].trigger()
    drag(canvas, [(100, 15), (200, 15)])
    assert not editor.mask[15, 110:190].any() and editor.mask[15, 50]
    erased = editor.alpha.copy()

    window.actions["undo"].trigger()
    assert np.array_equal(editor.alpha, painted)
    window.actions["undo"].trigger()
    assert np.array_equal(editor.alpha, model_mask)
    window.actions["redo"].trigger()
    window.actions["redo"].trigger()
    assert np.array_equal(editor.alpha, erased)
    assert "Eraser Stroke" in window.actions["undo"].text()

    out = tmp_path / "out"
    export_to(window, out)
    with qtbot.waitSignal(window.exports.finished, timeout=MASK_TIMEOUT_MS):
        assert window.actions["export"].isEnabled()
        window.actions["export"].trigger()
    written = out / "car.png"
    rgba = np.asarray(Image.open(written))
    assert rgba.shape == (200, 320, 4)
    assert np.array_equal(rgba[..., 3], editor.alpha)
    assert np.array_equal(rgba[..., :3], read_photo(photo).rgb)
    assert document.status == PhotoStatus.EXPORTED and photo.is_file()


def test_a_real_photo_is_masked_edited_and_exported(qtbot, window, few_cars, tmp_path):
    source = sorted((few_cars / "images").glob("*.jpg"))[0]
    with qtbot.waitSignal(window.session.maskChanged, timeout=MASK_TIMEOUT_MS):
        (document,) = window.open_paths([source])
    show_document(qtbot, window, document)
    assert document.size == (512, 512) and document.editor.shape == (512, 512)
    window.state.set("smart", False)  # the plain tools (the smart ones: test_smart_tools_app)
    window.state.set("brush_size", 30)
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(100, 100), (400, 100)])
    assert document.editor.mask[100, 110:390].all() and document.editor.undo_label == "Brush Stroke"
    drag(window.canvas, [(150, 100), (350, 100)], Qt.MouseButton.RightButton)  # right button: the other tool
    assert not document.editor.mask[100, 160:340].any() and document.editor.undo_label == "Eraser Stroke"
    export_to(window, tmp_path / "out")
    with qtbot.waitSignal(window.exports.finished, timeout=MASK_TIMEOUT_MS):
        window.export_current()
    alpha = np.asarray(Image.open(tmp_path / "out" / f"{source.stem}.png"))[..., 3]
    assert np.array_equal(alpha, document.editor.alpha)


def drop(window, paths: list[Path], modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, modifiers)
    QApplication.sendEvent(window, event)


def test_dropping_a_folder_opens_its_photos(qtbot, window, tmp_path):
    folder = tmp_path / "shoot"
    make_photo(folder / "a.jpg")
    make_photo(folder / "b.png", seed=1)
    make_photo(folder / "sub" / "c.webp", seed=2)
    (folder / "notes.txt").write_text("not a photo")
    drop(window, [folder])
    assert sorted(d.name for d in window.session.documents) == ["a.jpg", "b.png"]
    drop(window, [folder], Qt.KeyboardModifier.ShiftModifier)  # with sub-folders
    assert sorted(d.name for d in window.session.documents) == ["a.jpg", "b.png", "c.webp"]
    qtbot.waitUntil(lambda: all(d.status == PhotoStatus.MASKED for d in window.session.documents), timeout=MASK_TIMEOUT_MS)
    assert str(folder) in app_settings.recent_files()


def test_an_unreadable_file_shows_failed_with_its_reason_and_the_rest_go_on(qtbot, window, tmp_path, photo):
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    bad, good = open_and_wait(qtbot, window, [broken, photo])
    assert bad.status == PhotoStatus.FAILED and "broken.jpg" in bad.error
    assert good.status == PhotoStatus.MASKED
    row = window.session.model.index(0)
    assert row.data(STATUS_ROLE).startswith("Failed: ") and "broken.jpg" not in row.data(STATUS_ROLE)
    assert bad.error in row.data(Qt.ItemDataRole.ToolTipRole)
    window.photo_list.select_document(bad)
    assert not window.canvas.editing_enabled and not window.actions["export"].isEnabled()


def test_corrections_survive_closing_and_reopening(qtbot, tiny_checkpoint, photo):
    first = make_window(qtbot, tiny_checkpoint)
    (document,) = open_and_wait(qtbot, first, [photo])
    show_document(qtbot, first, document)
    first.state.set("brush_size", 20)
    with qtbot.waitSignal(first.correctionSaved, timeout=MASK_TIMEOUT_MS):
        drag(first.canvas, [(30, 180), (290, 180)])
    edited = document.editor.alpha.copy()
    drag(first.canvas, [(30, 20), (100, 20)])  # saved on close at the latest
    edited_twice = document.editor.alpha.copy()
    assert not np.array_equal(edited, edited_twice)
    first.close()

    record = first.corrections.get(document.key)
    assert record is not None and record.changed_path.is_file() and record.saves >= 1

    second = make_window(qtbot, tiny_checkpoint)
    (again,) = open_and_wait(qtbot, second, [photo])
    assert again.status == PhotoStatus.EDITED and again.restored
    assert np.array_equal(again.editor.alpha, edited_twice)
    show_document(qtbot, second, again)
    second.actions["revert_mask"].trigger()  # back to the model's mask, undoable
    assert np.array_equal(again.editor.alpha, again.predicted)
    second.session.flush()
    qtbot.waitUntil(lambda: second.corrections.get(again.key) is None)
    assert again.status == PhotoStatus.MASKED
    second.close()


def test_undoing_every_edit_removes_the_correction(qtbot, window, photo):
    (document,) = open_and_wait(qtbot, window, [photo])
    show_document(qtbot, window, document)
    with qtbot.waitSignal(window.correctionSaved, timeout=MASK_TIMEOUT_MS):
        drag(window.canvas, [(30, 20), (200, 20)])
    assert window.corrections.get(document.key) is not None
    window.undo()
    window.session.flush()
    qtbot.waitUntil(lambda: window.corrections.get(document.key) is None)
    assert document.status == PhotoStatus.MASKED


def test_soft_brush_edits_survive_a_restart_exactly(qtbot, tiny_checkpoint, photo):
    first = make_window(qtbot, tiny_checkpoint)
    (document,) = open_and_wait(qtbot, first, [photo])
    show_document(qtbot, first, document)
    first.state.set("smart", False)  # a soft edge is the plain brush's
    first.state.set("hardness", 0.0)
    first.state.set("brush_size", 40)
    drag(first.canvas, [(60, 30), (250, 30)])
    alpha = document.editor.alpha.copy()
    assert ((alpha > 0) & (alpha < 255)).any()
    first.close()
    second = make_window(qtbot, tiny_checkpoint)
    (again,) = open_and_wait(qtbot, second, [photo])
    assert np.array_equal(again.editor.alpha, alpha)
    second.close()


def test_without_the_shipped_model_the_app_still_shows_photos(qtbot, tmp_path, monkeypatch, photo):
    monkeypatch.setattr("core.models.model_store.SHIPPED_MODELS_DIR", tmp_path / "no-models")
    window = make_window(qtbot, "default")
    qtbot.waitUntil(lambda: window.model_service.state == "failed", timeout=MASK_TIMEOUT_MS)
    assert "no default model" in window.message_bar.text and window.message_bar.level == "warning"
    assert "none" in window.status.model_label.text()
    (document,) = window.open_paths([photo])
    qtbot.waitUntil(lambda: window.canvas.display is not None, timeout=MASK_TIMEOUT_MS)
    qtbot.waitUntil(lambda: document.key != "")
    assert document.status == PhotoStatus.WAITING and document.error == "no model"
    assert not window.canvas.editing_enabled
    window.close()


def test_paste_opens_files_and_images_from_the_clipboard(qtbot, window, photo, isolated_home):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    QApplication.clipboard().setMimeData(mime)
    window.actions["paste"].trigger()
    assert [d.path for d in window.session.documents] == [photo]
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    window.paste()
    pasted = window.session.documents[-1].path
    assert pasted.parent == isolated_home / "pasted" and pasted.suffix == ".png"
    assert read_photo(pasted).size == (64, 48)
    QApplication.clipboard().clear()
    window.paste()
    assert "clipboard" in window.message_bar.text


def test_keys_switch_tools_sizes_and_views(qtbot, window, photo):
    (document,) = open_and_wait(qtbot, window, [photo])
    show_document(qtbot, window, document)
    window.activateWindow()
    window.canvas.setFocus()
    state = window.state
    state.set("brush_size", 40)
    QTest.keyClick(window.canvas, Qt.Key.Key_E)
    assert state.tool == "eraser"
    QTest.keyClick(window.canvas, Qt.Key.Key_B)
    assert state.tool == "brush"
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert state.brush_size > 40
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert state.brush_size < 40
    state.set("view_mode", "overlay")
    QTest.keyClick(window.canvas, Qt.Key.Key_O)
    assert state.view_mode == "original"
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert state.view_mode == "overlay"
    QTest.keyClick(window.canvas, Qt.Key.Key_2)
    assert state.view_mode == "cutout" and window.actions["view_cutout"].isChecked()
    drag(window.canvas, [(40, 20), (120, 20)])
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not document.editor.can_undo
    QTest.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert document.editor.can_undo
    QTest.keyClick(window.canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    fitted = window.canvas.zoom
    QTest.keyClick(window.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.zoom == 1.0 and fitted != 1.0


def test_clean_up_commands_and_mask_again_are_undoable(qtbot, window, photo):
    (document,) = open_and_wait(qtbot, window, [photo])
    show_document(qtbot, window, document)
    editor = document.editor
    editor.replace(np.zeros(editor.shape, np.uint8), "setup")
    window.canvas.refresh()
    window.state.set("brush_size", 3)
    drag(window.canvas, [(300, 10)])  # a speck of car
    assert editor.mask[10, 300]
    window.actions["remove_islands"].trigger()
    assert not editor.mask.any() and editor.undo_label == "Remove Small Islands"
    window.actions["invert_mask"].trigger()
    assert editor.mask.all()
    window.state.set("brush_size", 8)
    window.actions["tool_eraser"].trigger()
    drag(window.canvas, [(100, 100)])  # a hole in the car
    assert not editor.mask[100, 100]
    window.actions["fill_holes"].trigger()
    assert editor.mask.all() and editor.undo_label == "Fill Holes"
    with qtbot.waitSignal(window.session.maskChanged, timeout=MASK_TIMEOUT_MS):
        window.actions["remask"].trigger()
    assert editor.undo_label == "Mask Again" and np.array_equal(editor.alpha, document.predicted)
    window.undo()
    assert editor.mask.all()


def test_settings_are_remembered_between_runs(qtbot, tiny_checkpoint):
    first = make_window(qtbot, tiny_checkpoint)
    first.state.set("brush_size", 77)
    first.state.set("overlay_opacity", 0.25)
    first.state.set("view_mode", "mask")
    first.resize(900, 640)
    first.close()
    second = make_window(qtbot, tiny_checkpoint)
    assert (second.state.brush_size, second.state.overlay_opacity, second.state.view_mode) == (77, 0.25, "mask")
    assert second.tool_options.size_box.value() == 77
    assert app_settings.settings().value(app_settings.WINDOW_GEOMETRY) is not None
    second.close()


def test_the_public_api_for_feature_dialogs(qtbot, window, photo):
    for name in ("file", "edit", "view", "image", "model", "help"):
        assert window.menus.get(name).actions()
    from PySide6.QtGui import QAction

    extra = QAction("Process Folder…", window)
    window.add_menu_action("file", extra, before="export")
    actions = window.menus.file.actions()
    assert actions.index(extra) == actions.index(window.actions["export"]) - 1
    document = window.open_in_editor(photo)
    assert document is not None and window.current_document() is document
    assert window.open_in_editor(photo) is document and len(window.session.documents) == 1
    assert window.corrections.root.name == "corrections"
    qtbot.waitUntil(lambda: window.model_service.is_ready, timeout=MASK_TIMEOUT_MS)
    with window.model_service.borrow() as segmenter:
        assert segmenter.name == "tiny"


def test_close_photo_and_stepping_through_the_list(qtbot, window, tmp_path):
    paths = [make_photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    documents = open_and_wait(qtbot, window, paths)
    assert window.current_document() is documents[0]
    window.actions["next_photo"].trigger()
    assert window.current_document() is documents[1]
    window.actions["close_photo"].trigger()
    assert len(window.session.documents) == 2 and window.current_document() is not documents[1]
    window.actions["previous_photo"].trigger()
    assert window.current_document() is documents[0]


def test_a_model_asked_for_before_the_event_loop_runs_is_loaded_once(qtbot, tiny_checkpoint):
    from maskingnet_app.main import compose_window
    from maskingnet_app.model.model_service import ModelService

    service = ModelService(str(tiny_checkpoint), "cpu")
    loads: list[str] = []
    service.modelLoading.connect(loads.append)
    window = compose_window(service)  # queues its own first load
    qtbot.addWidget(window)
    service.load()  # e.g. the batch dialog, opened before the queued load ran
    qtbot.waitUntil(lambda: service.state == "ready", timeout=MASK_TIMEOUT_MS)
    qtbot.wait(50)
    assert loads == [str(tiny_checkpoint)]


def test_the_window_has_everything_its_protocol_promises(qtbot, tiny_checkpoint):
    """The features see the window as ``WindowAPI``: every attribute and method it names exists."""
    from maskingnet_app.window_api import WindowAPI

    window = make_window(qtbot, tiny_checkpoint)
    names = set(WindowAPI.__annotations__) | {name for name in vars(WindowAPI) if not name.startswith("_")}
    assert {"model_service", "corrections", "closing", "open_in_editor", "show_message"} <= names
    missing = sorted(name for name in names if not hasattr(window, name))
    assert not missing, f"MainWindow lacks {missing}"
    window.close()
