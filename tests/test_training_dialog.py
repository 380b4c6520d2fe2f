"""The fine-tuning dialog end to end on a tiny model: train, compare, save a version, choose."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_finetune_helpers import make_corrections, make_folder

from core.models import model_versions
from core.models.model_store import app_home
from core.store.corrections import CorrectionStore
from maskingnet_app.training.training_dialog import RESULT, RUNNING, SETUP, TrainingDialog


@pytest.fixture
def store(tmp_path: Path) -> CorrectionStore:
    store = CorrectionStore()
    make_corrections(tmp_path / "photos", store, count=6, groups=3)
    return store


def make_dialog(qtbot, store, model, activated: list[str]) -> TrainingDialog:
    dialog = TrainingDialog(store, str(model), activate=activated.append)
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(2)
    dialog.batch.setValue(2)
    dialog.size.setValue(64)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    return dialog


def leftover_runs() -> list[Path]:
    runs = app_home() / "runs"
    return list(runs.iterdir()) if runs.is_dir() else []


def test_lists_corrections_with_a_validation_share(qtbot, store, tiny_checkpoint):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    assert dialog.photo_list.count() == 6
    assert dialog.count_label.text().startswith("6 of 6 photo(s) checked")
    assert dialog.plan.val and dialog.plan.train
    assert not {s.group for s in dialog.plan.val} & {s.group for s in dialog.plan.train}
    assert sum("validation" in dialog.photo_list.item(i).text() for i in range(6)) == len(dialog.plan.val)
    assert dialog.weighting.isChecked()
    assert dialog.size.value() == 64  # the starting model's working size
    assert dialog.train_button.isEnabled()

    dialog.photo_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.count_label.text().startswith("5 of 6")
    assert len(dialog.plan.train) + len(dialog.plan.val) == 5
    dialog.val_share.setValue(0)
    assert dialog.plan.val == []

    dialog._check_all(False)
    assert not dialog.train_button.isEnabled()
    assert "Check at least one photo" in dialog.message.text()


def test_presets_and_name_check(qtbot, store, tiny_checkpoint):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    dialog.apply_preset("gpu")
    assert (dialog.epochs.value(), dialog.batch.value()) == (48, 8)
    dialog.apply_preset("cpu")
    assert (dialog.epochs.value(), dialog.batch.value(), dialog.device.currentData()) == (24, 4, "cpu")
    dialog.name_edit.setText("default")
    assert "shipped model" in dialog.name_problem.text()
    assert not dialog.train_button.isEnabled()
    dialog.name_edit.setText("bad name/")
    assert not dialog.train_button.isEnabled()
    dialog.name_edit.setText("fine")
    assert dialog.name_problem.text() == "" and dialog.train_button.isEnabled()


def test_add_a_folder_of_photos_and_masks(qtbot, store, tiny_checkpoint, tmp_path):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    added = dialog.add_folder(make_folder(tmp_path / "extra", count=3))
    assert added == 3 and dialog.photo_list.count() == 9
    assert "3 from folders" in dialog.count_label.text()
    assert dialog.add_folder(tmp_path / "extra") == 0  # the same photos are not added twice
    corrected = dialog.items[0].sample.image
    (tmp_path / "again" / "masks").mkdir(parents=True)
    (tmp_path / "again" / "images").mkdir()
    (tmp_path / "again" / "images" / corrected.name).symlink_to(corrected)
    (tmp_path / "again" / "masks" / f"{corrected.stem}.png").symlink_to(dialog.items[0].sample.mask)
    assert dialog.add_folder(tmp_path / "again") == 0  # already there as a correction (with its weights)


def test_missing_default_model_is_explained(qtbot, store, no_shipped_models):
    dialog = TrainingDialog(store, "default", activate=lambda name: None)
    qtbot.addWidget(dialog)
    assert not dialog.train_button.isEnabled()
    assert "no default model is installed" in dialog.message.text()


def test_tiny_finetuning_saves_a_version_and_waits_for_the_choice(qtbot, store, tiny_checkpoint):
    activated: list[str] = []
    dialog = make_dialog(qtbot, store, tiny_checkpoint, activated)
    dialog.name_edit.setText("tiny-ft")
    with qtbot.waitSignal(dialog.training_ended, timeout=120_000) as ended:
        qtbot.mouseClick(dialog.train_button, Qt.MouseButton.LeftButton)
        assert dialog.pages.currentIndex() == RUNNING
    assert ended.args == ["finished"], dialog.message.text()
    assert not dialog.is_running()  # the signal comes once the thread has ended
    assert [v.name for v in model_versions.list_versions()] == ["tiny-ft"]
    # saved, but not in use until the user says so
    assert model_versions.active_model() == "default" and activated == []
    assert dialog.pages.currentIndex() == RESULT
    assert dialog.old_dice.text() != "n/a" and dialog.new_dice.text() != "n/a"
    assert dialog.per_photo.rowCount() == len(dialog.plan.val)
    assert len(dialog.loss_plot.points("training loss")) == 2
    version = model_versions.read_version("tiny-ft")
    assert version.card_path.is_file() and version.val_dice_after is not None
    assert leftover_runs() == []

    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert activated == ["tiny-ft"]


def test_keep_or_discard_the_new_model(qtbot, store, tiny_checkpoint):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    dialog.epochs.setValue(1)
    dialog.name_edit.setText("second")
    with qtbot.waitSignal(dialog.training_ended, timeout=120_000):
        dialog.start()
    dialog.discard_new_model()
    assert model_versions.list_versions() == []
    assert model_versions.active_model() == "default"


def test_stop_leaves_nothing_behind(qtbot, store, tiny_checkpoint):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    dialog.epochs.setValue(200)
    dialog.name_edit.setText("stopped")

    def stop_on_first_step(event) -> None:
        if event.train is not None and event.train.kind == "step":
            dialog.stop()

    with qtbot.waitSignal(dialog.training_ended, timeout=120_000) as ended:
        dialog.start()
        dialog.progressed.connect(stop_on_first_step)
    assert ended.args == ["stopped"]
    assert not dialog.is_running()
    assert dialog.pages.currentIndex() == SETUP
    assert "nothing was saved" in dialog.message.text()
    assert model_versions.list_versions() == [] and leftover_runs() == []
    assert dialog.train_button.isEnabled()


def test_a_failed_training_keeps_the_active_model(qtbot, store, tiny_checkpoint):
    model_versions.set_active_model("default")
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    dialog.name_edit.setText("broken")
    for item in dialog.checked_items():
        item.sample.mask.write_bytes(b"not a png")  # the data goes bad after it was listed
    with qtbot.waitSignal(dialog.training_ended, timeout=120_000) as ended:
        dialog.start()
    assert ended.args == ["failed"]
    assert not dialog.is_running()
    assert dialog.message.text().startswith("Training failed:") and "mask.png" in dialog.message.text()
    assert model_versions.list_versions() == [] and leftover_runs() == []
    assert model_versions.active_model() == "default"


def test_closing_while_training_stops_first(qtbot, store, tiny_checkpoint):
    dialog = make_dialog(qtbot, store, tiny_checkpoint, [])
    dialog.epochs.setValue(200)
    dialog.name_edit.setText("closing")
    dialog.show()
    with qtbot.waitSignal(dialog.training_ended, timeout=120_000):
        dialog.start()
        dialog.reject()  # the Close button / Escape while running
        assert dialog.is_running()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert model_versions.list_versions() == []


def test_line_plot_ranges_ticks_and_painting(qtbot):
    from maskingnet_app.training.plot_widget import LinePlot, nice_ticks

    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.93, 0.97, 4) == [0.93, 0.94, 0.95, 0.96, 0.97]
    assert nice_ticks(5.0, 5.0) == [5.0, 5.2, 5.4, 5.6, 5.8, 6.0]
    plot = LinePlot("Validation Dice", x_label="epoch")
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    empty = plot.grab()  # paints "no data yet"
    assert not empty.isNull()
    plot.add_point("new model", 1, 0.90)
    plot.add_point("new model", 2, 0.95)
    plot.add_point("new model", 3, float("nan"))  # ignored
    plot.set_reference("starting model", 0.85)
    assert plot.points("new model") == [(1.0, 0.90), (2.0, 0.95)]
    x0, x1, y0, y1 = plot.data_range()
    assert x0 < 1 and x1 > 2 and y0 < 0.85 and y1 > 0.95
    image = plot.grab().toImage()
    assert image.width() == 300
    plot.set_reference("starting model", None)
    plot.clear()
    assert plot.points("new model") == []


def test_from_the_main_window_train_use_and_switch_back(qtbot, tiny_checkpoint, tmp_path):
    from test_app_helpers import make_window

    window = make_window(qtbot, tiny_checkpoint)
    service = window.model_service
    qtbot.waitUntil(lambda: service.is_ready, timeout=60_000)
    make_corrections(tmp_path / "photos", window.corrections, count=6, groups=3)
    chooser = window.features["model"].chooser
    assert window.menus.model.actions()[0] is chooser.train_action
    assert chooser.checked_name() == str(tiny_checkpoint)  # a file given on the command line

    chooser.train_action.trigger()
    dialog = window.features["model"].training_dialog
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.photo_list.count() == 6
    dialog.epochs.setValue(1)
    dialog.batch.setValue(2)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.name_edit.setText("from-window")
    with qtbot.waitSignal(dialog.training_ended, timeout=120_000):
        dialog.start()
    assert service.spec == str(tiny_checkpoint)  # unchanged until the user chooses
    chooser.rebuild()
    assert "from-window" in chooser.choice_names()
    with qtbot.waitSignal(service.modelLoaded, timeout=60_000):
        dialog.use_new_model()
    assert service.spec == "from-window" and service.name == "from-window"
    assert model_versions.active_model() == "from-window"
    chooser.rebuild()
    assert chooser.checked_name() == "from-window"
    assert {a.data(): a.isEnabled() for a in chooser.remove_menu.actions()} == {"from-window": False}

    with qtbot.waitSignal(service.modelLoaded, timeout=60_000):
        chooser.choose(str(tiny_checkpoint))  # back to the file; the shipped default is not installed here
    chooser.confirm = lambda question: True
    assert chooser.remove("from-window")
    assert model_versions.list_versions() == []
    window.close()


def test_closing_the_main_window_stops_a_training(qtbot, tiny_checkpoint, tmp_path):
    from test_app_helpers import make_window

    window = make_window(qtbot, tiny_checkpoint)
    make_corrections(tmp_path / "photos", window.corrections, count=4, groups=2)
    window.features["model"].open_training()
    dialog = window.features["model"].training_dialog
    dialog.epochs.setValue(500)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    with qtbot.waitSignal(dialog.progressed, timeout=60_000, check_params_cb=lambda e: e.kind == "train"):
        dialog.start()
    window.close()
    assert not dialog.is_running() and not dialog.isVisible()
    assert model_versions.list_versions() == [] and leftover_runs() == []


def test_format_duration():
    from core.text import format_duration  # one rule for the batch, the command line and the training dialog

    assert [format_duration(s) for s in (None, 4.6, 185, 3723)] == ["", "0:05", "3:05", "1:02:03"]


def test_the_shipped_default_can_be_the_starting_model(qtbot, store, tiny_checkpoint, tmp_path, monkeypatch):
    import shutil

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(tiny_checkpoint, shipped / "default.safetensors")
    monkeypatch.setattr("core.models.model_store.SHIPPED_MODELS_DIR", shipped)
    model_versions.save_version("mine", tiny_checkpoint, {})
    dialog = make_dialog(qtbot, store, "mine", [])
    assert [dialog.base_combo.itemData(i) for i in range(dialog.base_combo.count())] == ["mine", "default"]
    assert "(mine)" in dialog.base_combo.itemText(0)
    assert dialog.base_combo.model().item(1).isEnabled()
    dialog.base_combo.setCurrentIndex(1)
    assert dialog.settings().base_model == "default" and dialog.train_button.isEnabled()
