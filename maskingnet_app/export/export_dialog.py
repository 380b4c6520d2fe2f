"""The export dialog: format, background colour, edge feather, quality, output folder and the
file name pattern, with a preview of the first name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from core.masking.export import ExportOptions
from maskingnet_app.editor.tool_options import color_icon
from maskingnet_app.export.exporter import ExportSettings, check_pattern, output_name

FORMAT_LABELS = {
    "png": "Transparent PNG (cut-out)",
    "mask": "Mask only (PNG, white = car)",
    "jpeg": "JPEG on a background colour",
    "webp": "WebP on a background colour",
}


class ExportDialog(QDialog):
    """``settings()`` gives the chosen ``ExportSettings`` after ``exec()`` accepted."""

    def __init__(self, settings: ExportSettings, sources: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        count = len(sources)
        self.setWindowTitle("Export" if count == 1 else f"Export {count} Photos")
        self._sources = sources
        self._background = QColor("#{:02x}{:02x}{:02x}".format(*settings.options.background))

        self.format_box = QComboBox()
        for key, label in FORMAT_LABELS.items():
            self.format_box.addItem(label, key)
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(settings.options.format)))
        self.background_button = QToolButton()
        self.background_button.setText("Choose…")
        self.background_button.clicked.connect(self._choose_background)
        self.feather_box = QDoubleSpinBox()
        self.feather_box.setRange(0.0, 50.0)
        self.feather_box.setSingleStep(0.5)
        self.feather_box.setSuffix(" px")
        self.feather_box.setValue(settings.options.feather)
        self.feather_box.setToolTip("Soften the edge of the cut-out by this many pixels (0 = as masked)")
        self.quality_box = QSpinBox()
        self.quality_box.setRange(1, 100)
        self.quality_box.setValue(settings.options.quality)
        default_folder = settings.folder or (str(sources[0].parent / "cutouts") if sources else "")
        self.folder_edit = QLineEdit(default_folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.pattern_edit = QLineEdit(settings.pattern)
        self.pattern_edit.setToolTip("Fields: {stem} photo name without extension, {name} with it, {ext}, "
                                     "{n} running number, {format}; the format's extension is added")
        self.preview = QLabel()
        self.preview.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("Format:", self.format_box)
        form.addRow("Background:", self.background_button)
        form.addRow("Edge feather:", self.feather_box)
        form.addRow("Quality:", self.quality_box)
        form.addRow("Folder:", folder_row)
        form.addRow("File name:", self.pattern_edit)
        form.addRow("", self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for signal in (self.format_box.currentIndexChanged, self.pattern_edit.textChanged, self.folder_edit.textChanged,
                       self.feather_box.valueChanged, self.quality_box.valueChanged):
            signal.connect(self._update)
        self._update()
        self.resize(520, self.sizeHint().height())

    def options(self) -> ExportOptions:
        color = self._background
        return ExportOptions(format=self.format_box.currentData(), background=(color.red(), color.green(), color.blue()),
                             feather=self.feather_box.value(), quality=self.quality_box.value())

    def settings(self) -> ExportSettings:
        return ExportSettings(self.folder_edit.text().strip(), self.pattern_edit.text().strip(), self.options())

    def problem(self) -> str:
        """Why the choices cannot be used ('' when they can)."""
        if not self.folder_edit.text().strip():
            return "Choose an output folder."
        try:
            check_pattern(self.pattern_edit.text().strip())
        except ValueError as error:
            return str(error).capitalize() + "."
        return ""

    def _update(self) -> None:
        fmt = self.format_box.currentData()
        flat = fmt in ("jpeg", "webp")
        self.background_button.setEnabled(flat)
        self.background_button.setIcon(color_icon(self._background.name()))
        self.quality_box.setEnabled(flat)
        problem = self.problem()
        if problem:
            self.preview.setText(f"<span style='color:#c0392b'>{problem}</span>")
        elif self._sources:
            first = output_name(self.pattern_edit.text().strip(), self._sources[0], 1, self.options())
            more = f" (and {len(self._sources) - 1} more)" if len(self._sources) > 1 else ""
            self.preview.setText(f"e.g. {Path(self.folder_edit.text().strip()) / first}{more}")
        self.export_button.setEnabled(not problem)

    def _choose_background(self) -> None:
        color = QColorDialog.getColor(self._background, self, "Background Colour")
        if color.isValid():
            self._background = color
            self._update()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to Folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
