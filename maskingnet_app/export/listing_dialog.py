"""Listing photos in the app: the settings panel (preset, size, margin, background, shadow,
clean edges; save and delete presets), the "Export for Listing" dialog built on it, and the
remembered listing settings. The work itself is ``core.listing``'s."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.listing.background import BACKGROUND_PRESETS
from core.listing.presets import (
    BUILTIN_PRESETS,
    DEFAULT_PRESET,
    ListingPreset,
    ListingSpec,
    all_presets,
    load_user_presets,
    save_user_presets,
    spec_from_dict,
)
from core.masking.export import ExportOptions
from maskingnet_app import app_settings
from maskingnet_app.export.exporter import ExportSettings, check_pattern

KEY_SPEC, KEY_PRESET, KEY_FOLDER, KEY_FORMAT = "listing/spec", "listing/preset", "listing/folder", "listing/format"
LISTING_FORMATS = {"jpeg": "JPEG", "png": "PNG (transparent where the background is)", "webp": "WebP"}


def remembered_spec() -> ListingSpec:
    """The listing settings last used (validated), else the default preset's."""
    try:
        return spec_from_dict(json.loads(app_settings.value(KEY_SPEC, "", str) or "null"), "remembered listing settings")
    except (ValueError, json.JSONDecodeError):
        return presets_or_builtin()[0][DEFAULT_PRESET].spec


def remember_spec(spec: ListingSpec, preset: str = "") -> None:
    app_settings.set_value(KEY_SPEC, json.dumps(asdict(spec)))
    if preset:
        app_settings.set_value(KEY_PRESET, preset)


def presets_or_builtin() -> tuple[dict[str, ListingPreset], str]:
    """The presets and '', or the built-ins alone and the one-line error of the user's file."""
    try:
        return all_presets(), ""
    except ValueError as error:
        return {preset.name: preset for preset in BUILTIN_PRESETS}, str(error)


class ListingPanel(QWidget):
    """The listing settings; ``changed`` carries the spec whenever an input changes."""

    changed = Signal(object)  # ListingSpec

    def __init__(self, spec: ListingSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset_box = QComboBox()
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box in (self.width_box, self.height_box):
            box.setRange(0, 10000)
            box.setSuffix(" px")
            box.setToolTip("0 x 0: keep the photo's own frame (no cropping)")
        self.margin_box = QDoubleSpinBox()
        self.margin_box.setRange(0, 45)
        self.margin_box.setSuffix(" %")
        self.background_box = QComboBox()
        self.background_box.setEditable(True)
        self.background_box.addItems(list(BACKGROUND_PRESETS) + ["#ffffff", "gradient:#ffffff,#d8d8d8", "transparent"])
        self.background_box.setToolTip("A preset, #rrggbb, gradient:#top,#bottom, transparent, or an image file")
        image_button = QPushButton("Image…")
        image_button.clicked.connect(self._choose_image)
        self.shadow_box = QCheckBox("Contact shadow")
        self.opacity_box, self.softness_box, self.length_box = QDoubleSpinBox(), QDoubleSpinBox(), QDoubleSpinBox()
        for box, top in ((self.opacity_box, 100), (self.softness_box, 50), (self.length_box, 100)):
            box.setRange(0, top)
            box.setSuffix(" %")
        self.opacity_box.setToolTip("How dark the shadow is at its densest")
        self.softness_box.setToolTip("Blur of the shadow, as a share of the car's width")
        self.length_box.setToolTip("How far the shadow reaches beyond the wheels, as a share of the car's height")
        self.clean_box = QCheckBox("Clean edges (remove the old background's colour)")
        save_button, delete_button = QPushButton("Save as Preset…"), QPushButton("Delete Preset")
        save_button.clicked.connect(self._save_preset)
        delete_button.clicked.connect(self._delete_preset)
        self.delete_button = delete_button

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.preset_box, 1)
        row.addWidget(save_button)
        row.addWidget(delete_button)
        form.addRow("Preset:", row)
        form.addRow("", self.problem)
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("x"))
        size.addWidget(self.height_box)
        form.addRow("Size:", size)
        form.addRow("Margin:", self.margin_box)
        background = QHBoxLayout()
        background.addWidget(self.background_box, 1)
        background.addWidget(image_button)
        form.addRow("Background:", background)
        shadow = QHBoxLayout()
        shadow.addWidget(self.shadow_box)
        for label, box in (("opacity", self.opacity_box), ("softness", self.softness_box), ("length", self.length_box)):
            shadow.addWidget(QLabel(label))
            shadow.addWidget(box)
        form.addRow("Shadow:", shadow)
        form.addRow("", self.clean_box)
        self._reload_presets(app_settings.value(KEY_PRESET, "", str))
        self.set_spec(spec)
        self.preset_box.activated.connect(self._apply_preset)
        for signal in (self.width_box.valueChanged, self.height_box.valueChanged, self.margin_box.valueChanged,
                       self.background_box.currentTextChanged, self.shadow_box.toggled, self.opacity_box.valueChanged,
                       self.softness_box.valueChanged, self.length_box.valueChanged, self.clean_box.toggled):
            signal.connect(self._emit)

    def set_spec(self, spec: ListingSpec) -> None:
        self._quiet = True
        self.width_box.setValue(spec.width)
        self.height_box.setValue(spec.height)
        self.margin_box.setValue(100 * spec.margin)
        self.background_box.setCurrentText(spec.background)
        self.shadow_box.setChecked(spec.wants_shadow)
        self.opacity_box.setValue(100 * spec.shadow_opacity)
        self.softness_box.setValue(100 * spec.shadow_softness)
        self.length_box.setValue(100 * spec.shadow_length)
        self.clean_box.setChecked(spec.decontaminate)
        self._quiet = False
        self._emit()

    def spec(self) -> ListingSpec:
        """The spec of the inputs; ValueError (one line) when they do not make one."""
        return ListingSpec(
            self.width_box.value(), self.height_box.value(), self.margin_box.value() / 100,
            self.background_box.currentText().strip(), self.shadow_box.isChecked(), self.opacity_box.value() / 100,
            self.softness_box.value() / 100, self.length_box.value() / 100, self.clean_box.isChecked()).checked()

    def preset_name(self) -> str:
        return self.preset_box.currentText()

    def _emit(self) -> None:
        if getattr(self, "_quiet", False):
            return
        try:
            spec = self.spec()
        except ValueError as error:
            self.problem.setText(f"<span style='color:#c0392b'>{error}</span>")
            return
        self.problem.setText("")
        self.changed.emit(spec)

    def _reload_presets(self, select: str = "") -> None:
        presets, error = presets_or_builtin()
        if error:
            self.problem.setText(f"<span style='color:#c0392b'>{error}</span>")
        self._presets = presets
        self.preset_box.clear()
        self.preset_box.addItems(list(presets))
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findText(select)))

    def _apply_preset(self) -> None:
        preset = self._presets.get(self.preset_name())
        if preset is not None:
            app_settings.set_value(KEY_PRESET, preset.name)
            self.set_spec(preset.spec)

    def _save_preset(self) -> None:
        try:
            spec = self.spec()
        except ValueError as error:
            QMessageBox.warning(self, "Save Preset", str(error))
            return
        name, ok = QInputDialog.getText(self, "Save as Preset", "Name:", text=self.preset_name())
        if ok and name.strip():
            self.save_preset(name.strip(), spec)

    def save_preset(self, name: str, spec: ListingSpec) -> None:
        """Add or replace the user's preset ``name`` and select it."""
        try:
            mine = [p for p in load_user_presets() if p.name != name] + [ListingPreset(name, spec)]
            save_user_presets(mine)
        except (ValueError, OSError) as error:
            QMessageBox.warning(self, "Save Preset", str(error))
            return
        self._reload_presets(name)
        app_settings.set_value(KEY_PRESET, name)

    def _delete_preset(self) -> None:
        name = self.preset_name()
        try:
            mine = load_user_presets()
        except ValueError as error:
            QMessageBox.warning(self, "Delete Preset", str(error))
            return
        if name not in {p.name for p in mine}:
            QMessageBox.information(self, "Delete Preset", f"{name!r} is built in; only your own presets can be deleted.")
            return
        save_user_presets([p for p in mine if p.name != name])
        self._reload_presets(DEFAULT_PRESET)
        self._apply_preset()

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background Image", "",
                                              "Images (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp)")
        if path:
            self.background_box.setCurrentText(path)


class ListingExportDialog(QDialog):
    """Export for Listing: the panel, the format, the folder and the file name pattern.
    ``settings()`` gives the ``ExportSettings`` (its options carry the listing) once accepted;
    ``previewChanged`` lets the editor show the settings live."""

    previewChanged = Signal(object)  # ListingSpec

    def __init__(self, sources: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export for Listing" if len(sources) == 1 else f"Export {len(sources)} Photos for Listing")
        self.panel = ListingPanel(remembered_spec())
        self.panel.changed.connect(self.previewChanged)
        self.format_box = QComboBox()
        for key, label in LISTING_FORMATS.items():
            self.format_box.addItem(label, key)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(app_settings.value(KEY_FORMAT, "jpeg", str))))
        default = str(sources[0].parent / "listing") if sources else ""
        self.folder_edit = QLineEdit(app_settings.value(KEY_FOLDER, "", str) or default)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder = QHBoxLayout()
        folder.addWidget(self.folder_edit, 1)
        folder.addWidget(browse)
        self.pattern_edit = QLineEdit("{stem}")
        note = QLabel("Photos of one car (<car>_<nn> names, else one folder) are framed at one scale.")
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.panel)
        form.addRow("Format:", self.format_box)
        form.addRow("Folder:", folder)
        form.addRow("File name:", self.pattern_edit)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def settings(self) -> ExportSettings:
        """The chosen settings; ValueError (one line) when they are not usable."""
        folder = self.folder_edit.text().strip()
        if not folder:
            raise ValueError("choose an output folder")
        spec = self.panel.spec()
        options = ExportOptions(format=self.format_box.currentData(), listing=spec)
        return ExportSettings(folder, check_pattern(self.pattern_edit.text().strip()), options)

    def _accept(self) -> None:
        try:
            settings = self.settings()
        except ValueError as error:
            QMessageBox.warning(self, "Export for Listing", str(error).capitalize() + ".")
            return
        remember_spec(settings.options.listing, self.panel.preset_name())
        app_settings.set_value(KEY_FOLDER, settings.folder)
        app_settings.set_value(KEY_FORMAT, settings.options.format)
        self.accept()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to Folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
