"""Listing photos in the app: the Listing view, Export for Listing, the batch dialog's listing
format and the preset panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from listing_scene import car_alpha, composite
from PIL import Image
from test_app_helpers import make_window, open_and_wait, show_document

from core.listing.framing import car_box
from core.listing.presets import ListingSpec, load_user_presets
from core.masking.export import ExportOptions
from maskingnet_app.batch.batch_dialog import BatchDialog
from maskingnet_app.editor.render import DisplayImage
from maskingnet_app.export.exporter import ExportSettings
from maskingnet_app.export.listing_dialog import ListingExportDialog, ListingPanel, remembered_spec

SPEC = ListingSpec(400, 200, 0.1, "#ffffff", shadow=True)


def test_the_listing_view_shows_the_framed_photo_fitted_in_the_photos_frame():
    alpha = car_alpha(480, 320)
    display = DisplayImage(composite(alpha, (40, 160, 60)), alpha)
    display.configure(mode="listing", listing=SPEC)
    buffer = display._buffer  # ARGB32: a 2:1 listing in a 3:2 frame leaves bars above and below
    assert buffer[:30, :, 3].min() == 255 and tuple(buffer[:30, :, 0].ravel()[:1]) == (46,)  # the backdrop (BGRA)
    assert tuple(buffer[45, 2, :3]) == (255, 255, 255) and tuple(buffer[275, 478, :3]) == (255, 255, 255)
    assert display.shows_alpha


def _car_photos(folder: Path) -> list[Path]:
    paths = []
    for n, scale in enumerate((1.0, 0.6), start=1):
        path = folder / f"car_{n:02d}.png"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(composite(car_alpha(320, 200, scale=scale), (40, 160, 60))).save(path)
        paths.append(path)
    return paths


def test_export_for_listing_frames_the_angles_of_a_car_alike_and_the_view_follows(qtbot, tiny_checkpoint, tmp_path):
    window = make_window(qtbot, tiny_checkpoint)
    documents = open_and_wait(qtbot, window, _car_photos(tmp_path / "in"))
    for document, scale in zip(documents, (1.0, 0.6)):
        document.editor.replace(car_alpha(320, 200, scale=scale) >= 128, "test")
    show_document(qtbot, window, documents[0])
    window.actions["view_listing"].trigger()
    assert window.state.view_mode == "listing" and not window.canvas.editing_enabled
    out = tmp_path / "out"
    previews = []
    window.exports.ask_listing = lambda sources, preview: (
        preview(SPEC), previews.append(sources), ExportSettings(str(out), "{stem}", ExportOptions("jpeg", listing=SPEC)))[-1]
    with qtbot.waitSignal(window.exports.finished, timeout=60_000):
        assert window.export_listing()
    assert window.canvas.display.listing == SPEC and len(previews[0]) == 2
    widths = []
    for name in ("car_01.jpg", "car_02.jpg"):
        pixels = np.asarray(Image.open(out / name).convert("RGB")).astype(int)
        assert pixels.shape == (200, 400, 3)
        widths.append(car_box(((np.abs(pixels - 255).sum(axis=2) > 60) * 255).astype(np.uint8)).width)
    assert abs(widths[1] / widths[0] - 0.6) < 0.04


def test_the_listing_dialog_and_the_batch_dialog_give_listing_options(qtbot, tmp_path):
    dialog = ListingExportDialog([tmp_path / "car_01.jpg"])
    qtbot.addWidget(dialog)
    dialog.panel.set_spec(SPEC)
    dialog.folder_edit.setText(str(tmp_path / "out"))
    settings = dialog.settings()
    assert settings.options.listing == SPEC and settings.options.format == "jpeg"
    dialog._accept()
    assert remembered_spec() == SPEC
    batch = BatchDialog(str(tmp_path / "model.safetensors"))
    qtbot.addWidget(batch)
    batch.input_edit.setText(str(tmp_path))
    batch.output_edit.setText(str(tmp_path / "out"))
    batch.format_box.setCurrentIndex(batch.format_box.findData("listing"))
    assert batch.listing_panel.isVisibleTo(batch)
    options = batch.settings().options
    assert options.listing == SPEC and options.format == "jpeg"
    batch.listing_panel.background_box.setCurrentText("#12")
    assert "background" in batch.problem().lower()


def test_presets_are_saved_and_deleted_from_the_panel(qtbot, monkeypatch):
    panel = ListingPanel(SPEC)
    qtbot.addWidget(panel)
    changes = []
    panel.changed.connect(changes.append)
    panel.margin_box.setValue(5)
    assert changes[-1].margin == 0.05
    panel.save_preset("mine", panel.spec())
    assert [p.name for p in load_user_presets()] == ["mine"] and panel.preset_name() == "mine"
    panel.set_spec(ListingSpec())
    from maskingnet_app.export import listing_dialog

    monkeypatch.setattr(listing_dialog.QMessageBox, "information", lambda *args: None)
    panel._delete_preset()
    assert load_user_presets() == [] and panel.preset_name() != "mine"
