"""Exporting from the app: naming rule, settings, soft and hard alpha, protected inputs, dialog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_app_helpers import MASK_TIMEOUT_MS, make_photo

from core.io.imageio import Photo, read_photo
from core.masking.export import ExportOptions
from maskingnet_app.export.export_dialog import ExportDialog
from maskingnet_app.export.exporter import (
    Exporter,
    ExportItem,
    ExportSettings,
    check_pattern,
    export_alpha,
    output_name,
    plan_exports,
)

SOURCE = Path("/photos/shoot/car_01.JPG")


def test_the_default_name_is_the_stem_with_the_format_suffix():
    assert output_name("{stem}", SOURCE, 1, ExportOptions()) == "car_01.png"
    assert output_name("{stem}", SOURCE, 1, ExportOptions(format="jpeg")) == "car_01.jpg"
    assert output_name("{stem}", SOURCE, 1, ExportOptions(format="webp")) == "car_01.webp"
    assert output_name("{stem}_mask", SOURCE, 1, ExportOptions(format="mask")) == "car_01_mask.png"
    assert output_name("{n}-{stem}-{ext}", SOURCE, 7, ExportOptions()) == "0007-car_01-JPG.png"
    assert output_name("{stem}.png", SOURCE, 1, ExportOptions()) == "car_01.png"


@pytest.mark.parametrize("pattern, problem", [
    ("", "empty"), ("{size}", "unknown field {size}"), ("cutout", "needs {stem}"), ("a/{stem}", "separators"),
    ("{stem", "malformed"),
])
def test_bad_patterns_are_explained(pattern, problem):
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        check_pattern(pattern)


def test_colliding_names_get_a_number():
    alpha = np.zeros((2, 2), np.uint8)
    settings = ExportSettings("/out")
    sources = [(1, Path("/a/car.jpg"), alpha), (2, Path("/b/car.png"), alpha), (3, Path("/c/car.tif"), alpha)]
    items = plan_exports(settings, sources)
    assert [item.output.name for item in items] == ["car.png", "car-2.png", "car-3.png"]


def test_settings_are_remembered():
    ExportSettings("/tmp/out", "{stem}_cut", ExportOptions("jpeg", (10, 20, 30), 1.5, 80)).save()
    loaded = ExportSettings.load()
    assert loaded == ExportSettings("/tmp/out", "{stem}_cut", ExportOptions("jpeg", (10, 20, 30), 1.5, 80))


def rgb_photo(tmp_path: Path) -> Photo:
    return read_photo(make_photo(tmp_path / "car.png", size=(64, 40)))


def test_hard_and_soft_alpha_are_exported_exactly(tmp_path):
    photo = rgb_photo(tmp_path)
    alpha = np.zeros((40, 64), np.uint8)
    alpha[10:30, 10:50] = 255
    export_alpha(photo, alpha, tmp_path / "hard.png", ExportOptions())
    assert np.array_equal(np.asarray(Image.open(tmp_path / "hard.png"))[..., 3], alpha)
    alpha[10:30, 50:54] = [200, 128, 60, 5]  # a soft brush edge
    export_alpha(photo, alpha, tmp_path / "soft.png", ExportOptions())
    rgba = np.asarray(Image.open(tmp_path / "soft.png"))
    assert np.array_equal(rgba[..., 3], alpha) and np.array_equal(rgba[..., :3], photo.rgb)
    export_alpha(photo, alpha, tmp_path / "mask.png", ExportOptions(format="mask"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mask.png")), (alpha >= 128).astype(np.uint8) * 255)


def test_flat_background_export_uses_the_chosen_colour(tmp_path):
    photo = rgb_photo(tmp_path)
    alpha = np.zeros((40, 64), np.uint8)
    alpha[:, 32:] = 255
    export_alpha(photo, alpha, tmp_path / "flat.jpg", ExportOptions(format="jpeg", background=(0, 0, 255), quality=100))
    flat = np.asarray(Image.open(tmp_path / "flat.jpg")).astype(int)
    assert np.abs(flat[20, 5] - [0, 0, 255]).max() < 8
    assert np.abs(flat[5, 60] - photo.rgb[5, 60]).max() < 8


def test_the_exporter_never_writes_over_an_open_photo(qtbot, tmp_path):
    source = make_photo(tmp_path / "car.png")
    other = make_photo(tmp_path / "other.png", seed=1)
    before = source.read_bytes()
    alpha = np.full((200, 320), 255, np.uint8)
    exporter = Exporter()
    failures, done = [], []
    exporter.itemFailed.connect(lambda document, message: failures.append(message))
    exporter.itemDone.connect(lambda document, path: done.append(path))
    items = [ExportItem(1, source, alpha, source), ExportItem(2, other, alpha, tmp_path / "out" / "other.png")]
    with qtbot.waitSignal(exporter.finished, timeout=MASK_TIMEOUT_MS) as finished:
        exporter.start(items, ExportOptions(), {source, other})
    assert finished.args == [1, 1, False]
    assert "refusing to overwrite" in failures[0] and source.read_bytes() == before
    assert done == [str(tmp_path / "out" / "other.png")]


def test_the_dialog_checks_folder_and_pattern(qtbot, tmp_path):
    sources = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    dialog = ExportDialog(ExportSettings("", "{stem}", ExportOptions()), sources)
    qtbot.addWidget(dialog)
    assert dialog.folder_edit.text() == str(tmp_path / "cutouts")  # a default beside the photos
    assert dialog.export_button.isEnabled() and "a.png" in dialog.preview.text() and "1 more" in dialog.preview.text()
    dialog.pattern_edit.setText("{nope}")
    assert not dialog.export_button.isEnabled() and "unknown field" in dialog.preview.text().lower()
    dialog.pattern_edit.setText("{stem}_cut")
    dialog.folder_edit.setText("")
    assert not dialog.export_button.isEnabled()
    dialog.folder_edit.setText(str(tmp_path / "x"))
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("webp"))
    dialog.feather_box.setValue(2.0)
    settings = dialog.settings()
    assert settings == ExportSettings(str(tmp_path / "x"), "{stem}_cut", ExportOptions("webp", (255, 255, 255), 2.0, 92))
    assert dialog.background_button.isEnabled() and dialog.quality_box.isEnabled()
