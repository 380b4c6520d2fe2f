"""Small things a new user meets: the Process Folder bar before a folder is chosen, the Dice
chart's legend, the shortcuts help after Mask Again, where the Add folder dialog opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from test_finetune_helpers import make_folder

from core.store.corrections import CorrectionStore
from maskingnet_app import app_settings
from maskingnet_app.actions import shortcut_rows
from maskingnet_app.batch.batch_dialog import BatchDialog
from maskingnet_app.training import training_dialog as training_dialog_module
from maskingnet_app.training.plot_widget import LinePlot
from maskingnet_app.training.training_dialog import TrainingDialog


def test_the_process_folder_bar_shows_no_count_before_a_folder_is_chosen(qtbot, tiny_checkpoint):
    dialog = BatchDialog(str(tiny_checkpoint))
    qtbot.addWidget(dialog)
    bar = dialog.progress_bar
    assert not bar.isTextVisible() and bar.maximum() != 100 and bar.value() == 0


def test_the_dice_legend_stays_off_the_points_and_the_baseline(qtbot):
    plot = LinePlot("Validation Dice", x_label="epoch")
    qtbot.addWidget(plot)
    plot.resize(380, 230)
    plot.set_reference("starting model", 0.9950)
    for epoch, dice in enumerate((0.990, 0.993, 0.995, 0.996), start=1):
        plot.add_point("new model", epoch, dice, color="#2ca02c")
    plot.show()
    qtbot.waitExposed(plot)
    area, corners = plot.layout_rects()
    assert len(corners) == 2 and all(y + plot.fontMetrics().height() <= area.top() for _, y in corners)
    x0, x1, y0, y1 = plot.data_range()
    newest_x = area.left() + (4 - x0) / (x1 - x0) * area.width()
    newest_y = area.bottom() - (0.996 - y0) / (y1 - y0) * area.height()
    image = plot.grab().toImage()
    ratio = image.devicePixelRatio()
    newest = QColor(image.pixel(int(newest_x * ratio), int(newest_y * ratio)))
    assert newest.green() > 120 and newest.red() < 120, "the newest point must be visible, not under the legend"
    plot.resize(230, 230)  # narrow: the legend wraps, still above the plot
    area, corners = plot.layout_rects()
    assert all(y + plot.fontMetrics().height() <= area.top() for _, y in corners)


def test_the_shortcuts_help_names_commands_not_what_undo_would_undo(qtbot, tiny_checkpoint):
    from test_app_helpers import make_window

    window = make_window(qtbot, tiny_checkpoint)
    window.actions["undo"].setText("&Undo Mask Again")  # as after Mask Again
    window.actions["redo"].setText("&Redo Brush Stroke")
    commands = [command for menu, command, _keys in shortcut_rows(window.menus) if menu == "Edit"]
    assert "Undo" in commands and "Redo" in commands
    assert not any("Mask Again" in command or "Brush Stroke" in command for command in commands)
    window.close()


def test_add_folder_opens_in_the_last_folder_or_home_never_the_working_directory(qtbot, tmp_path, monkeypatch,
                                                                                tiny_checkpoint):
    folder = make_folder(tmp_path / "set", count=3)
    asked: list[str] = []

    def choose(parent, title, start="", *args):
        asked.append(start)
        return str(folder)

    monkeypatch.setattr(training_dialog_module.QFileDialog, "getExistingDirectory", choose)
    monkeypatch.chdir(tmp_path)
    dialog = TrainingDialog(CorrectionStore(), str(tiny_checkpoint), activate=lambda name: None)
    qtbot.addWidget(dialog)
    dialog._choose_folder()
    assert asked == [str(Path.home())] and Path(asked[0]) != Path.cwd()
    assert app_settings.value(app_settings.TRAIN_FOLDER, "", str) == str(folder)
    dialog._choose_folder()
    assert asked[1] == str(folder)


@pytest.mark.parametrize("remembered", ["missing", "kept"])
def test_start_folder_falls_back_to_home(tmp_path, remembered):
    app_settings.set_value(app_settings.TRAIN_FOLDER, str(tmp_path / "gone") if remembered == "missing" else str(tmp_path))
    expected = str(Path.home()) if remembered == "missing" else str(tmp_path)
    assert app_settings.start_folder(app_settings.TRAIN_FOLDER) == expected
