"""Process Folder in the app: real photos end to end, cancel and resume, the review grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer

from core.batch.review import ACCEPTED, FIXED, NEEDS_FIXING, ReviewLog
from core.store.corrections import CorrectionStore
from maskingnet_app.batch import review_grid as review_grid_module
from maskingnet_app.batch.batch_dialog import BatchDialog
from maskingnet_app.batch.review_grid import ALL_CARS, ItemRole, ReviewGrid

TIMEOUT_MS = 120_000


def _outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def _dialog(qtbot, model, src: Path, out: Path, opened: list | None = None, **kwargs) -> BatchDialog:
    dialog = BatchDialog(str(model), open_photo=(opened.append if opened is not None else None), **kwargs)
    qtbot.addWidget(dialog)
    dialog.input_edit.setText(str(src))
    dialog.output_edit.setText(str(out))
    return dialog


def _run(qtbot, dialog: BatchDialog) -> tuple[dict, bool]:
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS) as finished:
        assert dialog.start()
    return finished.args[0], finished.args[1]


@pytest.fixture
def lot(few_cars: Path, tmp_path: Path) -> Path:
    """8 real photos of 2 cars, the second car's in a sub-folder."""
    src = tmp_path / "lot"
    for i, photo in enumerate(sorted((few_cars / "images").iterdir())):
        target = src / ("day2" if i >= 4 else "") / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(photo.resolve())
    return src


def test_real_photos_end_to_end_with_sub_folders_and_the_review(qtbot, lot, tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    opened: list[Path] = []
    dialog = _dialog(qtbot, tiny_checkpoint, lot, out, opened)
    dialog.recursive_box.setChecked(True)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(dialog.running))
    timer.start(20)
    counts, cancelled = _run(qtbot, dialog)
    timer.stop()
    assert counts == {"done": 8, "skipped": 0, "failed": 0} and not cancelled
    assert any(ticks), "the GUI thread kept running while the batch worked"
    found = _outputs(out)
    assert {p.relative_to(out).parent.as_posix() for p in found} == {".", "day2"} and len(found) == 8
    for path in found:
        with Image.open(path) as image:
            image.load()
            assert image.mode == "RGBA" and image.size == (512, 512)
    assert dialog.files.count("done") == 8
    assert dialog.progress_bar.value() == 8 and dialog.progress_bar.maximum() == 8
    assert dialog.status_label.text().startswith("Finished: 8 exported")

    grid = dialog.review
    assert grid.model.rowCount() == 8
    doubts = [grid.model.item(row).doubt for row in range(8)]
    assert doubts == sorted(doubts, reverse=True)
    cars = [grid.cars.item(row).data(ItemRole) for row in range(grid.cars.count())]
    assert cars[0] == ALL_CARS and len(cars) == 3  # all photos, then the two cars
    grid.cars.setCurrentRow(1)
    angles = [grid.model.item(row).angle for row in range(grid.model.rowCount())]
    assert angles == [1, 5, 9, 13]
    grid.cars.setCurrentRow(0)

    qtbot.waitUntil(lambda: all(grid.model.data(grid.model.index(r), 1) is not None for r in range(8)), timeout=30_000)
    thumbnail = grid.model.data(grid.model.index(0), 1)
    assert not thumbnail.isNull() and thumbnail.width() <= 168

    first = grid.model.item(0)
    grid.view.setCurrentIndex(grid.model.index(0))
    grid.view.clicked.emit(grid.model.index(0))
    assert opened == [Path(first.source)]
    grid.mark_selected(NEEDS_FIXING)
    assert ReviewLog(out).items()[first.output].mark == NEEDS_FIXING


def test_cancel_in_the_middle_then_resume(qtbot, lot, tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    dialog = _dialog(qtbot, tiny_checkpoint, lot, out)
    dialog.recursive_box.setChecked(True)

    during: list[int] = []

    def cancel_after_first(result) -> None:
        if result.status == "done" and not during:
            dialog.review.refresh()  # the review fills in while the batch runs
            during.append(dialog.review.model.rowCount())
            dialog.cancel()

    dialog.batchStarted.connect(lambda: dialog.worker.result.connect(cancel_after_first))
    counts, cancelled = _run(qtbot, dialog)
    assert cancelled and 1 <= counts["done"] < 8
    assert during and during[0] >= 1
    assert dialog.status_label.text().startswith("Stopped:")
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    first = {p: p.stat().st_mtime_ns for p in _outputs(out)}
    assert len(first) == counts["done"]
    assert not list(out.rglob(".*.part"))

    dialog.batchStarted.disconnect()
    counts, cancelled = _run(qtbot, dialog)
    assert not cancelled
    assert counts == {"done": 8 - len(first), "skipped": len(first), "failed": 0}
    assert len(_outputs(out)) == 8
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in first.items())
    assert dialog.files.count("skipped") == len(first)

    dialog.redo_box.setChecked(True)
    counts, _ = _run(qtbot, dialog)
    assert counts == {"done": 8, "skipped": 0, "failed": 0}


def test_a_batch_that_cannot_start_says_why(qtbot, tiny_checkpoint, tmp_path):
    dialog = _dialog(qtbot, tiny_checkpoint, tmp_path / "missing", tmp_path / "out")
    assert not dialog.start()
    assert "no such folder" in dialog.status_label.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.input_edit.setText(str(empty))
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS):
        assert dialog.start()
    assert "no photos found" in dialog.status_label.text()
    assert dialog.start_button.isEnabled()


def test_a_missing_model_is_one_line_in_the_dialog(qtbot, lot, tmp_path):
    dialog = _dialog(qtbot, tmp_path / "nope.safetensors", lot, tmp_path / "out")
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS):
        dialog.start()
    text = dialog.status_label.text()
    assert "nope.safetensors" in text and "<br" not in text


def _batch_folder(tmp_path: Path, cars: int = 2, angles: int = 3) -> tuple[Path, Path, ReviewLog]:
    """Photos and PNG exports with a review log, made without a model."""
    from core.batch.pipeline import BatchJob, BatchResult

    src, out = tmp_path / "photos", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    log = ReviewLog(out)
    from core.masking.export import ExportOptions

    log.record_options(ExportOptions())
    rng = np.random.default_rng(0)
    for car in range(cars):
        for angle in range(1, angles + 1):
            name = f"car{car}_{angle:02d}"
            rgb = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
            Image.fromarray(rgb).save(src / f"{name}.jpg")
            alpha = np.zeros((60, 90), dtype=np.uint8)
            alpha[10:50, 10:80] = 255
            Image.fromarray(np.dstack([rgb, alpha])).save(out / f"{name}.png")
            area = 0.3 if (car, angle) != (1, 2) else 0.1
            log.record_result(BatchResult(src / f"{name}.jpg", out / f"{name}.png", "done", uncertainty=0.01 * angle,
                                          area=area), BatchJob(src / f"{name}.jpg", out / f"{name}.png", src))
    return src, out, log


def test_marks_are_kept_across_sessions_and_set_by_keys(qtbot, tmp_path):
    _, out, _ = _batch_folder(tmp_path)
    grid = ReviewGrid(out)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    assert grid.model.rowCount() == 6
    top = grid.model.item(0)
    assert top.output.endswith("_03.png")  # most doubtful first
    grid.view.setFocus()
    grid.view.setCurrentIndex(grid.model.index(0))
    qtbot.keyClick(grid.view, "A")
    assert grid.model.item(0).mark == ACCEPTED
    grid.mark_filter.setCurrentIndex(grid.mark_filter.findData(ACCEPTED))
    assert grid.model.rowCount() == 1

    again = ReviewGrid(out)  # the next session
    qtbot.addWidget(again)
    assert again.model.items[top.output].mark == ACCEPTED
    assert "1 accepted" in again.summary.text()


def test_the_car_whose_angles_disagree_is_flagged_first(qtbot, tmp_path):
    _, out, _ = _batch_folder(tmp_path)
    grid = ReviewGrid(out)
    qtbot.addWidget(grid)
    first_car = grid.cars.item(1)
    assert first_car.data(ItemRole) == "car1"
    assert first_car.text().startswith("\u26a0 car1")
    assert "\u26a0" not in grid.cars.item(2).text()
    assert "disagree across angles" in grid.summary.text()


def test_a_saved_correction_is_exported_again_and_marked_fixed(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(review_grid_module, "REEXPORT_DELAY_MS", 0)
    src, out, _ = _batch_folder(tmp_path)
    store = CorrectionStore()
    grid = ReviewGrid(out, corrections=store)
    qtbot.addWidget(grid)
    fixed = np.zeros((60, 90), dtype=bool)
    fixed[5:55, 5:85] = True
    record = store.save(src / "car0_02.jpg", fixed)
    with qtbot.waitSignal(grid.reexported, timeout=30_000) as done:
        grid.on_correction_saved(record.key)
        grid.on_correction_saved(record.key)  # saved twice while painting: exported once
    assert done.args == ["car0_02.png", ""]
    with Image.open(out / "car0_02.png") as image:
        assert np.array_equal(np.asarray(image)[..., 3] > 127, fixed)
    assert grid.model.items["car0_02.png"].mark == FIXED
    assert ReviewLog(out).items()["car0_02.png"].mark == FIXED
    grid.on_correction_saved(store.save(tmp_path / "photos" / "car1_01.jpg", fixed).key)  # one of ours too
    other = tmp_path / "elsewhere.jpg"
    Image.fromarray(np.zeros((60, 90, 3), dtype=np.uint8)).save(other)
    grid.on_correction_saved(store.save(other, fixed).key)  # not a photo of this batch: ignored
    assert grid.wait(30_000)


def test_from_the_main_window_menu_to_a_fixed_export(qtbot, lot, tiny_checkpoint, tmp_path, monkeypatch):
    from test_app_helpers import MASK_TIMEOUT_MS, drag, make_window, show_document


    monkeypatch.setattr(review_grid_module, "REEXPORT_DELAY_MS", 0)
    window = make_window(qtbot, tiny_checkpoint)
    action = window.actions["process_folder"]
    assert action in window.menus.get("file").actions()
    action.trigger()
    dialog = window.features["batch"].dialog
    assert dialog.isVisible() and window.features["batch"].show_dialog() is dialog  # one dialog per window
    out = tmp_path / "out"
    dialog.input_edit.setText(str(lot))
    dialog.output_edit.setText(str(out))
    counts, _ = _run(qtbot, dialog)  # the window's own model, borrowed call by call
    assert counts["done"] == 4  # the top folder only

    grid = dialog.review
    item = grid.model.item(0)
    grid.view.clicked.emit(grid.model.index(0))
    document = window.current_document()
    assert document is not None and Path(document.path).resolve() == Path(item.source).resolve()
    show_document(qtbot, window, document)
    window.state.set("brush_size", 40)
    window.actions["tool_brush"].trigger()
    with qtbot.waitSignal(grid.reexported, timeout=MASK_TIMEOUT_MS) as done:
        drag(window.canvas, [(100, 100), (300, 100), (300, 300)])
    assert done.args == [item.output, ""]
    corrected = window.corrections.load(item.source)
    with Image.open(out / item.output) as image:
        assert np.array_equal(np.asarray(image)[..., 3] > 127, corrected)
    assert ReviewLog(out).items()[item.output].mark == FIXED
    window.close()
    assert not dialog.running
